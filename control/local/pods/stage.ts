/**
 * What a pod runs as another user, that user must be able to read. The proxy runs as uid 2102 and
 * the apps as other uids (as in a real pod), so a checkout other users cannot read (under Debian's
 * /root, mode 0700, or cloned with umask 077) cannot start them: node fails with "Cannot find
 * module". Such a checkout's runtime (bin/, package.json, dist/, node_modules/, the native addon,
 * the .proto contract) is staged: copied, once per build, into a folder every user can read, and
 * commands run as another uid are pointed there. A readable checkout is used as it is. Where
 * staging is impossible, the error says why and what to do.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, parse, relative, sep } from 'node:path';
import { PodError } from './errors';

/** Where staged runtimes live: readable by every user, one folder per checkout. */
export const STAGE_ROOT = '/var/tmp/linnet-stage';

/** What a process run as another user may load, relative to the checkout. */
const RUNTIME_PARTS = ['package.json', 'bin', 'dist', 'node_modules', join('proxy', 'transport', 'native', 'build'), join('core', 'api')];

/** Files whose readability stands for the checkout's (node reads these first). */
const SAMPLES = [join('bin', 'linnet'), 'package.json', join('dist', 'core', 'cli.js'), join('node_modules', 'prom-client', 'package.json')];

/**
 * The first path that keeps other users out of `root`: a folder on the way without o+x, or a
 * runtime file without o+r. Undefined when other users can read it all.
 */
export function blockedForOthers(root: string): string | undefined {
  const { root: top } = parse(root);
  let dir = top;
  for (const part of relative(top, root).split(sep).filter(Boolean)) {
    dir = join(dir, part);
    if ((statSync(dir).mode & 0o001) === 0) return dir;
  }
  for (const s of SAMPLES) {
    const p = join(root, s);
    if (!existsSync(p)) continue;
    for (let d = dirname(p); d.startsWith(root) && d !== root; d = dirname(d)) if ((statSync(d).mode & 0o001) === 0) return d;
    if ((statSync(p).mode & 0o004) === 0) return p;
  }
  return undefined;
}

/** The staged copy's folder for a checkout. */
export function stageDirFor(root: string): string {
  return join(STAGE_ROOT, createHash('sha256').update(root).digest('hex').slice(0, 16));
}

/** Changes whenever a rebuild, an `npm ci` or a rebuilt addon would change what is staged. */
function fingerprint(root: string): string {
  let newest = 0;
  let files = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        files++;
        newest = Math.max(newest, statSync(p).mtimeMs);
      }
    }
  };
  if (existsSync(join(root, 'dist'))) walk(join(root, 'dist'));
  const mtime = (p: string) => (existsSync(join(root, p)) ? statSync(join(root, p)).mtimeMs : 0);
  return JSON.stringify({ root, files, newest, lock: mtime('package-lock.json'), modules: mtime('node_modules'), addon: mtime(join('proxy', 'transport', 'native', 'build')) });
}

export interface Runtime {
  /** Where processes run as another uid find bin/, dist/ and node_modules/. */
  root: string;
  /** Set when `root` is a staged copy: why the checkout could not be used. */
  stagedBecause?: string;
}

/** Stages the checkout's runtime if other users cannot read it; reuses a stage of the same build. */
export function prepareRuntime(checkout: string, onStep?: (step: string) => void): Runtime {
  const blocked = blockedForOthers(checkout);
  if (blocked === undefined) return { root: checkout };
  const because = `${blocked} is not readable by other users, and the proxy runs as uid 2102`;
  const dir = stageDirFor(checkout);
  const stamp = fingerprint(checkout);
  try {
    if (existsSync(join(dir, '.stamp')) && readFileSync(join(dir, '.stamp'), 'utf8') === stamp) {
      onStep?.(`using the runtime staged in ${dir} (${because})`);
      return { root: dir, stagedBecause: because };
    }
    onStep?.(`staging the runtime in ${dir} (${because})`);
    mkdirSync(STAGE_ROOT, { recursive: true });
    chmodSync(STAGE_ROOT, 0o755);
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { mode: 0o755 });
    const parts = RUNTIME_PARTS.filter((p) => existsSync(join(checkout, p)));
    for (const p of parts) mkdirSync(join(tmp, dirname(p)), { recursive: true });
    copyParts(checkout, tmp, parts);
    writeFileSync(join(tmp, '.stamp'), stamp);
    const old = `${dir}.old-${process.pid}`;
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
    return { root: dir, stagedBecause: because };
  } catch (err) {
    throw new PodError(
      'LINNET_POD_STAGE_FAILED',
      `cannot run the proxy from ${checkout}: ${because}, and staging a readable copy in ${dir} failed: ${(err as Error).message}`,
      `clone Linnet into a folder other users can read (e.g. /srv/linnet or /opt/linnet), or free space under ${STAGE_ROOT}`,
      err,
    );
  }
}

/**
 * cp keeps the files' own modes; chmod then opens folders and files to every user for reading
 * (and no more: nothing becomes writable), whatever the umask or the checkout's modes were.
 */
function copyParts(from: string, to: string, parts: string[]): void {
  for (const p of parts) {
    const r = spawnSync('cp', ['-R', join(from, p), join(to, p)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cp ${p}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  }
  const r = spawnSync('chmod', ['-R', 'a+rX', to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chmod: ${(r.stderr || `exit ${r.status}`).trim()}`);
}

/** A command-line argument or environment value with the checkout's paths moved to `runtime`. */
export function remapPath(value: string, checkout: string, runtime: string): string {
  if (runtime === checkout) return value;
  return value.split(`${checkout}${sep}`).join(`${runtime}${sep}`);
}
