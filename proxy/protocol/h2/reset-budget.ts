/**
 * Rapid reset (CVE-2023-44487): how many streams a peer may reset, as a token bucket — a burst,
 * then a steady rate. A peer that empties it is dropped.
 */
export const RESET_BURST = 1000;
export const RESETS_PER_SECOND = 33;

export class ResetBudget {
  private tokens = RESET_BURST;
  private refilled: number;

  constructor(now: number = Date.now()) {
    this.refilled = now;
  }

  /** One reset by the peer; false once the budget is spent. */
  take(now: number = Date.now()): boolean {
    this.tokens = Math.min(RESET_BURST, this.tokens + ((now - this.refilled) * RESETS_PER_SECOND) / 1000);
    this.refilled = now;
    return --this.tokens >= 0;
  }
}
