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

export class CoverageTracker {
  private readonly session = new Session();
  private readonly seen = new Set<string>();
  private readonly want: (url: string) => boolean;

  constructor(want: (url: string) => boolean = defaultFilter) {
    this.want = want;
    this.session.connect();
    post(this.session, 'Profiler.enable');
    post(this.session, 'Profiler.startPreciseCoverage', { callCount: true, detailed: true });
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

  stop(): void {
    try {
      post(this.session, 'Profiler.stopPreciseCoverage');
      post(this.session, 'Profiler.disable');
    } finally {
      this.session.disconnect();
    }
  }
}

function defaultFilter(url: string): boolean {
  return url.includes('/dist/') && !url.includes('/node_modules/') && !url.includes('/dist/fuzz/') && !url.endsWith('.test.js');
}
