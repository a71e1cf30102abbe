/**
 * The applier: runs the iptables binaries of the chosen backend. Reads the nat table with
 * `<bin>-save -t nat`, applies a plan with `<bin>-restore --noflush` (stdin), one family at a time.
 * Failures become InitErrors with a stable code and a hint (classifyFailure is pure and tested).
 */
import { spawn } from 'node:child_process';
import { InitError } from './errors';
import type { IptablesMode } from './options';
import type { Family } from './plan';
import { parseNatSave, type NatTable } from './ruleset';

export interface Binaries {
  save: string;
  restore: string;
}

export function binaries(mode: IptablesMode, family: Family): Binaries {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  return { save: `${base}-${mode}-save`, restore: `${base}-${mode}-restore` };
}

/**
 * Legacy iptables takes a host-wide lock (/run/xtables.lock), shared by every network namespace;
 * wait for it rather than fail when another pod's init runs at the same moment.
 */
const WAIT_SECONDS = 10;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** errno code when the process could not be started (ENOENT, EACCES). */
  spawnError: string | undefined;
}

export function run(file: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let spawnError: string | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err.code ?? 'EUNKNOWN';
    });
    // A binary that exits before reading its input would otherwise raise EPIPE here.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ code, stdout, stderr, spawnError }));
  });
}

/** Turns a failed run into an InitError; undefined when the run succeeded. */
export function classifyFailure(bin: string, what: 'save' | 'restore', r: RunResult): InitError | undefined {
  if (r.spawnError === undefined && r.code === 0) return undefined;
  if (r.spawnError === 'ENOENT') {
    return new InitError(
      'LINNET_INIT_IPTABLES_MISSING',
      `${bin} is not installed (not found on PATH)`,
      'apt-get install iptables (or pick the other backend with --iptables-mode nft|legacy)',
    );
  }
  const detail = (r.stderr.trim() || `exit status ${r.code}`).split('\n').filter((l) => !l.startsWith('# Warning')).join('; ');
  if (r.spawnError !== undefined) {
    return new InitError('LINNET_INIT_NOT_PERMITTED', `${bin} could not be started: ${r.spawnError}`, 'check the file permissions of the iptables binaries');
  }
  if (/permission denied|you must be root|operation not permitted/i.test(r.stderr)) {
    return new InitError(
      'LINNET_INIT_NOT_PERMITTED',
      `${bin} was not permitted to change the nat table: ${detail}`,
      'run as root or with the NET_ADMIN capability (in Kubernetes: securityContext.capabilities.add [NET_ADMIN, NET_RAW])',
    );
  }
  if (what === 'save') {
    return new InitError('LINNET_INIT_SAVE_FAILED', `${bin} -t nat failed: ${detail}`, 'check that the kernel has the nat table for this backend (modprobe iptable_nat / nf_tables)');
  }
  return new InitError('LINNET_INIT_RESTORE_FAILED', `${bin} rejected the plan: ${detail}`, 'run `linnet init --dry-run` with the same flags to see the plan');
}

/** The nat table as it is now, raw text and parsed. */
export async function readNat(mode: IptablesMode, family: Family): Promise<{ text: string; table: NatTable }> {
  const { save } = binaries(mode, family);
  const r = await run(save, ['-t', 'nat']);
  const err = classifyFailure(save, 'save', r);
  if (err) throw err;
  return { text: r.stdout, table: parseNatSave(r.stdout) };
}

/** Pipes a plan into `<bin>-restore --noflush`; with test, only checks it (`--test`). */
export async function restore(mode: IptablesMode, family: Family, text: string, opts: { test?: boolean } = {}): Promise<void> {
  const bin = binaries(mode, family).restore;
  const args = ['--noflush', `--wait=${WAIT_SECONDS}`, ...(opts.test ? ['--test'] : [])];
  const r = await run(bin, args, text);
  const err = classifyFailure(bin, 'restore', r);
  if (err) throw err;
}
