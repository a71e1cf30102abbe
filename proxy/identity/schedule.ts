/**
 * When to renew and when to retry: pure arithmetic, so the timing rules are unit-tested.
 */

/**
 * Renew after 70% of the time the certificate has left (as linkerd2-proxy), clamped to
 * [min, max]: a nearly expired certificate is not renewed in a busy loop, a long one is still
 * checked daily.
 */
export function refreshIn(validUntilMs: number, nowMs: number, minMs: number, maxMs: number, fraction = 0.7): number {
  const left = validUntilMs - nowMs;
  if (!(left > 0)) return minMs;
  return Math.min(maxMs, Math.max(minMs, Math.round(left * fraction)));
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** 0..1: the share of each delay that is random, so many proxies do not retry in step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 30_000, jitter: 0.5 };

/** The wait before retry number `attempt` (0-based): base·2^attempt, capped, partly random. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (1 - policy.jitter) + ceiling * policy.jitter * random());
}
