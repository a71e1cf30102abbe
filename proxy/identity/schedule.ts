/**
 * When to renew and when to retry: pure arithmetic, so the timing rules are unit-tested.
 */
import type { BackoffOptions } from '../../core/backoff';

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

export type { BackoffOptions as BackoffPolicy } from '../../core/backoff';
export { backoffDelay } from '../../core/backoff';

/** Retrying a failed Certify: from 100 ms, at most every 30 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 30_000, jitter: 0.5 };
