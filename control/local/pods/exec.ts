/**
 * Running commands for the pod helper: short commands collected in memory (`run`), long-lived
 * ones logged to a file (`PodProcess`). Every long-lived child gets its own process group so that
 * teardown kills it and anything it forked, and nothing else.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { PodError } from './errors';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Bytes for the child's stdin; stdin is closed after them (or at once when absent). */
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs argv to completion, collecting output. Times out with SIGKILL of its process group. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.stdin!.on('error', () => {}); // a child that exits without reading its stdin is not our error
    child.stdin!.end(opts.input ?? '');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new PodError('LINNET_POD_COMMAND_FAILED', `cannot start ${argv.join(' ')}: ${e.message}`, 'is the program installed and on PATH?', e));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (timedOut) {
        reject(
          new PodError('LINNET_POD_TIMEOUT', `${argv.join(' ')} did not finish within ${timeoutMs}ms`, `its output so far: ${tail(result.stdout + result.stderr, 10)}`),
        );
      } else resolve(result);
    });
  });
}

/** Like run, but a non-zero exit is an error carrying the command's stderr. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new PodError(
      'LINNET_POD_COMMAND_FAILED',
      `${argv.join(' ')} exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`,
      'see the command output above',
    );
  }
  return r;
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone (ESRCH): nothing to do.
  }
}

export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A long-lived process inside a pod. stdout and stderr go to `logFile` (so a failed test can
 * print their tail); stdout is also kept in memory, bounded, for programs that report on it.
 */
export class PodProcess {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private stdoutText = '';
  private exit: Exit | undefined;
  private readonly lineWaiters = new Set<() => void>();

  constructor(
    readonly name: string,
    argv: readonly string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv,
    stdinPipe = false,
  ) {
    const fd = openSync(logFile, 'a');
    writeSync(fd, `# ${new Date().toISOString()} ${argv.join(' ')}\n`);
    const options: SpawnOptions = { stdio: [stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true, env };
    this.child = spawn(argv[0]!, argv.slice(1), options);
    if (this.child.pid === undefined) {
      closeSync(fd);
      throw new PodError('LINNET_POD_COMMAND_FAILED', `cannot start ${argv.join(' ')}`, 'is the program installed?');
    }
    this.pid = this.child.pid;
    const write = (b: Buffer) => {
      try {
        writeSync(fd, b);
      } catch {
        // The log is a convenience; a full disk must not fail the test through it.
      }
    };
    this.child.stdout!.on('data', (b: Buffer) => {
      write(b);
      if (this.stdoutText.length < 4 << 20) this.stdoutText += b.toString();
      for (const w of this.lineWaiters) w();
    });
    this.child.stderr!.on('data', write);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal };
        write(Buffer.from(`# exited ${code ?? signal}\n`));
        closeSync(fd);
        for (const w of this.lineWaiters) w();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get stdin(): NodeJS.WritableStream | null {
    return this.child.stdin;
  }

  /** Everything the process printed on stdout so far (first 4 MiB). */
  get stdout(): string {
    return this.stdoutText;
  }

  /** stdout lines that are JSON objects, parsed: the test apps report this way. */
  events<T = Record<string, unknown>>(): T[] {
    const out: T[] = [];
    for (const line of this.stdoutText.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // A partly written line: it will parse on the next call.
      }
    }
    return out;
  }

  /** Waits until some stdout JSON event satisfies `pred`; rejects on timeout or exit. */
  waitForEvent<T = Record<string, unknown>>(pred: (e: T) => boolean, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.events<T>().find(pred);
        if (hit !== undefined) return done(() => resolve(hit));
        if (!this.running) return done(() => reject(new PodError('LINNET_POD_COMMAND_FAILED', `${this.name} exited ${this.exit!.code ?? this.exit!.signal} before the awaited event`, `log: ${this.logFile}\n${this.logTail(15)}`)));
      };
      const timer = setTimeout(() => done(() => reject(new PodError('LINNET_POD_TIMEOUT', `${this.name}: no awaited event within ${timeoutMs}ms`, `log: ${this.logFile}\n${this.logTail(15)}`))), timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.lineWaiters.delete(check);
        f();
      };
      this.lineWaiters.add(check);
      check();
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) {
      try {
        process.kill(this.pid, sig);
      } catch {
        // raced with exit
      }
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 2000): Promise<Exit> {
    if (this.running) {
      killGroup(this.pid, 'SIGTERM');
      const t = setTimeout(() => killGroup(this.pid, 'SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    killGroup(this.pid, 'SIGKILL'); // children the leader left behind
    return this.exited;
  }

  /** Waits for exit, failing after `timeoutMs`. */
  async wait(timeoutMs = 30_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PodError('LINNET_POD_TIMEOUT', `${this.name} still running after ${timeoutMs}ms`, `log: ${this.logFile}\n${this.logTail(15)}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  logTail(lines = 40): string {
    try {
      return tail(readFileSync(this.logFile, 'utf8'), lines);
    } catch {
      return '(no log)';
    }
  }
}
