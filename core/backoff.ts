/**
 * Exponential backoff with jitter, the one formula for every retry in the proxy (discovery
 * streams, identity requests, worker restarts). Pure: the random source is passed in so tests can
 * pin it. Jitter spreads the retries of many proxies after a control-plane restart, so they do
 * not all arrive in the same instant.
 */
export interface BackoffOptions {
  /** Delay before the first retry. */
  baseMs: number;
  /** Ceiling of the un-jittered delay. */
  maxMs: number;
  /** Fraction of the delay randomised, 0-1: the delay is d * (1 - jitter * r) for r in [0, 1). */
  jitter: number;
}

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  const jitter = Math.min(1, Math.max(0, opts.jitter));
  return Math.max(0, Math.round(exp * (1 - jitter * random())));
}
