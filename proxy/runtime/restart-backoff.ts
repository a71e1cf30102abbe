/**
 * When to start a replacement for a worker thread that died: at once-ish the first time, then
 * doubling while it keeps dying soon after each start (a crash loop must not spin a core or flood
 * the log), back to the first delay once a worker has stayed up for a while. Pure, so it is
 * tested with a fake clock.
 */
import { backoffDelay } from '../../core/backoff';
export interface RestartBackoffOptions {
  /** Delay before the first replacement. */
  initialMs: number;
  /** Ceiling for the doubled delay. */
  maxMs: number;
  /** A worker that ran at least this long before dying resets the delay. */
  stableMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoffOptions = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 };

export class RestartBackoff {
  private startedAt = -1;
  /** Restarts in a row without a stable run (1 for the first). */
  attempt = 0;

  constructor(private readonly o: RestartBackoffOptions = DEFAULT_RESTART_BACKOFF) {}

  /** A (replacement) worker started at `now`. */
  started(now: number): void {
    this.startedAt = now;
  }

  /** The worker died at `now`: how long to wait before starting the next one. */
  died(now: number): number {
    if (this.startedAt >= 0 && now - this.startedAt >= this.o.stableMs) this.attempt = 0;
    // No jitter: one process restarting its own threads has no herd to spread.
    const d = backoffDelay(this.attempt, { baseMs: this.o.initialMs, maxMs: this.o.maxMs, jitter: 0 });
    this.attempt++;
    this.startedAt = -1;
    return d;
  }
}
