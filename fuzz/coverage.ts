/**
 * Cheap coverage guidance from V8's precise block coverage (node:inspector, no instrumentation
 * step). Taking coverage costs milliseconds, so the runner takes it once per batch of inputs and
 * only when a batch reached new blocks does it replay that batch one input at a time to find
 * which inputs to keep. Only the project's own compiled code counts (not node_modules, not fuzz/).
 */
import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  scriptId: string;
  url: string;
  functions: { functionName: string; ranges: Range[] }[];
}

function post<T>(s: Session, method: string, params?: object): T {
  let out: T | undefined;
  let error: Error | null = null;
  // The in-thread session answers synchronously.
  s.post(method, params ?? {}, (err, res) => {
    error = err;
    out = res as T;
  });
  if (error) throw error;
  return out as T;
}

/**
 * One inspector session per process, started once: stopping precise coverage and starting it
 * again loses the block counters of functions V8 has already compiled, so a second target in
 * the same run (`--target all`) would be guided by almost nothing.
 */
let shared: Session | undefined;
function session(): Session {
  if (!shared) {
    shared = new Session();
    shared.connect();
    post(shared, 'Profiler.enable');
    post(shared, 'Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }
  return shared;
}

export class CoverageTracker {
  private readonly session: Session;
  private readonly seen = new Set<string>();
  private readonly want: (url: string) => boolean;

  constructor(want: (url: string) => boolean = defaultFilter) {
    this.want = want;
    this.session = session();
    // Counters since the last take belong to whoever ran before: start from zero.
    post(this.session, 'Profiler.takePreciseCoverage');
  }

  /** Blocks reached since the last call that were never reached before (not yet remembered); counters reset. */
  takeFresh(): Set<string> {
    const { result } = post<{ result: ScriptCoverage[] }>(this.session, 'Profiler.takePreciseCoverage');
    const fresh = new Set<string>();
    for (const script of result) {
      if (!this.want(script.url)) continue;
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          if (r.count === 0) continue;
          const key = `${script.url}:${r.startOffset}:${r.endOffset}`;
          if (!this.seen.has(key)) fresh.add(key);
        }
      }
    }
    return fresh;
  }

  /** Remembers blocks as reached. */
  commit(keys: Iterable<string>): void {
    for (const k of keys) this.seen.add(k);
  }

  /** Takes and remembers; returns how many blocks were new. */
  take(): number {
    const fresh = this.takeFresh();
    this.commit(fresh);
    return fresh.size;
  }

  get blocks(): number {
    return this.seen.size;
  }

  /** Forgets this tracker's blocks; the process-wide session stays on for the next tracker. */
  stop(): void {
    this.seen.clear();
  }
}

function defaultFilter(url: string): boolean {
  return url.includes('/dist/') && !url.includes('/node_modules/') && !url.includes('/dist/fuzz/') && !url.endsWith('.test.js');
}
