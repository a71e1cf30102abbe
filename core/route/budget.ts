/**
 * The retry budget (Linnet's, beyond Linkerd's per-route limit): over a sliding window, retries
 * may be at most `ratio` of the original requests plus `minPerSecond` for every second of the
 * window, so that retries cannot multiply an outage. Pure: the clock is given.
 */
import type { RetryBudget } from './model';

const SLOTS = 10;
const SLOT_MS = 1000;

export class RetryBudgetTracker {
  private readonly requests = new Float64Array(SLOTS);
  private readonly retries = new Float64Array(SLOTS);
  private slot = 0;
  private slotStart = 0;

  constructor(
    private readonly budget: RetryBudget,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.slotStart = now();
  }

  /** An original request (not a retry). */
  request(): void {
    this.advance();
    this.requests[this.slot]! += 1;
  }

  /** Takes one retry from the budget: false when it is spent (the retry is not made). */
  tryRetry(): boolean {
    this.advance();
    let req = 0;
    let ret = 0;
    for (let i = 0; i < SLOTS; i++) {
      req += this.requests[i]!;
      ret += this.retries[i]!;
    }
    if (ret + 1 > req * this.budget.ratio + this.budget.minPerSecond * SLOTS) return false;
    this.retries[this.slot]! += 1;
    return true;
  }

  private advance(): void {
    const t = this.now();
    let steps = Math.floor((t - this.slotStart) / SLOT_MS);
    if (steps <= 0) return;
    this.slotStart += steps * SLOT_MS;
    if (steps > SLOTS) steps = SLOTS;
    for (let i = 0; i < steps; i++) {
      this.slot = (this.slot + 1) % SLOTS;
      this.requests[this.slot] = 0;
      this.retries[this.slot] = 0;
    }
  }
}
