/**
 * HTTPLocalRateLimitPolicy's limits with the generic cell rate algorithm (as Linkerd's, through
 * the governor crate): each budget keeps one number, the theoretical arrival time of its next
 * request; a request is admitted when that time is no further ahead than the burst tolerance.
 * A client identity has its own budget (unmeshed clients share one), the overrides replace it
 * for the identities they name, and the server's total caps them all. Pure apart from the clock
 * it is handed.
 */
import type { RateLimit } from '../../../core/policy/model';

/** The burst a budget allows, as a share of one second's worth: small, so a client at twice
 * its limit for 10 s is served within 5% of its limit (a whole second of burst would be 10%). */
const BURST_SECONDS = 0.1;

class Gcra {
  private readonly tat = new Map<string, number>();
  readonly intervalMs: number;
  private readonly toleranceMs: number;
  constructor(readonly rps: number) {
    this.intervalMs = 1000 / rps;
    this.toleranceMs = Math.max(0, Math.ceil(rps * BURST_SECONDS) - 1) * this.intervalMs;
  }
  /** How long `key` must wait (0: admitted now); does not spend. */
  wait(key: string, now: number): number {
    const tat = Math.max(this.tat.get(key) ?? now, now);
    return Math.max(0, tat - now - this.toleranceMs);
  }
  spend(key: string, now: number): void {
    const tat = Math.max(this.tat.get(key) ?? now, now);
    if (this.tat.size > 10_000) for (const [k, t] of this.tat) if (t < now) this.tat.delete(k);
    this.tat.set(key, tat + this.intervalMs);
  }
}

export interface Refusal {
  scope: 'identity' | 'override' | 'total';
  rps: number;
  retryAfterMs: number;
}

export class RateLimiter {
  private readonly total: Gcra | undefined;
  private readonly identity: Gcra | undefined;
  private readonly overrides = new Map<string, Gcra>();

  constructor(private readonly spec: RateLimit) {
    this.total = spec.total > 0 ? new Gcra(spec.total) : undefined;
    this.identity = spec.identity > 0 ? new Gcra(spec.identity) : undefined;
    for (const o of spec.overrides) {
      const g = new Gcra(o.requestsPerSecond);
      for (const id of o.identities) this.overrides.set(id, g);
    }
  }

  sameAs(other: RateLimit): boolean {
    return JSON.stringify(this.spec) === JSON.stringify(other);
  }

  /** Undefined: admitted (and counted against every budget it passed); else why not and for how long. */
  admit(identity: string | undefined, now: number): Refusal | undefined {
    const key = identity ?? '';
    const own = (identity !== undefined ? this.overrides.get(identity) : undefined) ?? this.identity;
    const scope = own && own !== this.identity ? 'override' : 'identity';
    const w1 = own ? own.wait(key, now) : 0;
    if (w1 > 0) return { scope, rps: own!.rps, retryAfterMs: w1 };
    const w2 = this.total ? this.total.wait('', now) : 0;
    if (w2 > 0) return { scope: 'total', rps: this.total!.rps, retryAfterMs: w2 };
    own?.spend(key, now);
    this.total?.spend('', now);
    return undefined;
  }
}
