/**
 * A token bucket for a tap's rate cap: `perSecond` requests a second, bursts up to one second's
 * worth. Pure (the clock is passed in), so it is unit-tested without waiting.
 */
export class RateCap {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    nowMs: number,
  ) {
    this.tokens = perSecond;
    this.last = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    const dt = nowMs - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + (dt * this.perSecond) / 1000);
      this.last = nowMs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
