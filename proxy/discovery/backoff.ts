/**
 * Exponential backoff with jitter for re-opening discovery streams. Pure: the random source is
 * passed in so tests can pin it. Jitter spreads the reconnects of many proxies after a control
 * plane restart, so they do not all arrive in the same instant.
 */
export interface BackoffOptions {
  /** Delay before the first retry. */
  baseMs: number;
  /** Ceiling of the un-jittered delay. */
  maxMs: number;
  /** Fraction of the delay randomised, 0-1: the delay is d * (1 - jitter * r) for r in [0, 1). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 10_000, jitter: 0.5 };

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  const jitter = Math.min(1, Math.max(0, opts.jitter));
  return Math.max(0, Math.round(exp * (1 - jitter * random())));
}
