/**
 * Timeouts of one length, kept as a list in the order they were armed. With one length, the
 * order of arming is the order of expiry, so one Node timer, set for the earliest, serves all
 * of them; arming and disarming are a few field writes on an object that exists anyway.
 *
 * Disarm with `e.dlList?.disarm(e)`: an entry knows its list, so its owner need not.
 *
 * Why not setTimeout: the proxy arms the same few timeouts (a request head's, a response's)
 * once per request and holds one per idle keep-alive connection. setTimeout makes a Timeout and
 * a closure each time (about 170 B held per idle connection, two objects more per request for
 * the collector) and keeps Node's timer bookkeeping busy with lists that never fire.
 */

/** An object a DeadlineList can hold: three fields of its own and what to do on expiry. */
export interface Deadlined {
  /** The list it is armed on; undefined while not armed. */
  dlList: DeadlineList | undefined;
  /** When it expires, on the list's clock (ms). */
  dlAt: number;
  dlPrev: Deadlined | undefined;
  dlNext: Deadlined | undefined;
  /** The deadline passed while armed; it is already disarmed. `list` says which (its `ms`). */
  onDeadline(list: DeadlineList): void;
}

/** The clock and timer a list runs on; tests give their own. */
export interface DeadlineClock {
  now(): number;
  /** Calls `fire` after `ms`; returns a cancel. */
  schedule(ms: number, fire: () => void): { cancel(): void };
}

const nodeClock: DeadlineClock = {
  // performance.now() is monotonic: a wall-clock step does not fire or hold back every deadline.
  now: () => performance.now(),
  schedule(ms, fire) {
    const t = setTimeout(fire, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export class DeadlineList {
  private head: Deadlined | undefined;
  private tail: Deadlined | undefined;
  private timer: { cancel(): void } | undefined;
  /** When the pending timer fires (clock ms). */
  private timerAt = 0;
  private readonly fire = (): void => this.expire();

  private static readonly shared = new Map<number, DeadlineList>();

  /** The process's list for timeouts of `ms` (every caller with the same length shares it). */
  static of(ms: number): DeadlineList {
    let l = DeadlineList.shared.get(ms);
    if (!l) DeadlineList.shared.set(ms, (l = new DeadlineList(ms)));
    return l;
  }

  constructor(
    readonly ms: number,
    private readonly clock: DeadlineClock = nodeClock,
  ) {
    if (!(ms > 0)) throw new RangeError(`a DeadlineList needs a positive length, not ${ms}`);
  }

  /** Starts `e`'s timeout now; an entry already armed keeps its deadline. */
  arm(e: Deadlined): void {
    if (e.dlList) return;
    e.dlList = this;
    e.dlAt = this.clock.now() + this.ms;
    e.dlPrev = this.tail;
    e.dlNext = undefined;
    if (this.tail) this.tail.dlNext = e;
    else this.head = e;
    this.tail = e;
    // The earliest: e itself on an empty list; an earlier one when armed from inside expire().
    if (!this.timer) this.scheduleFor(this.head!.dlAt);
  }

  /** Stops `e`'s timeout (nothing if it is not armed). */
  disarm(e: Deadlined): void {
    if (e.dlList !== this) return;
    this.unlink(e);
    // An empty list keeps no timer (nor the process alive); otherwise the pending one stays: when
    // it fires it finds the new earliest and waits for it.
    if (!this.head && this.timer) {
      this.timer.cancel();
      this.timer = undefined;
    }
  }

  /** Armed entries, counted (for tests). */
  get size(): number {
    let n = 0;
    for (let e = this.head; e; e = e.dlNext) n++;
    return n;
  }

  private unlink(e: Deadlined): void {
    const { dlPrev: p, dlNext: n } = e;
    if (p) p.dlNext = n;
    else this.head = n;
    if (n) n.dlPrev = p;
    else this.tail = p;
    e.dlList = undefined;
    e.dlPrev = e.dlNext = undefined;
  }

  private scheduleFor(at: number): void {
    this.timerAt = at;
    // Node's timers run on the loop's cached time, which can be a little behind the clock: a
    // timer that fires early finds nothing due and waits again.
    this.timer = this.clock.schedule(Math.max(1, Math.ceil(at - this.clock.now())), this.fire);
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    try {
      for (let e = this.head; e && e.dlAt <= now; e = this.head) {
        this.unlink(e);
        e.onDeadline(this);
      }
    } finally {
      // A callback may have armed or disarmed others (or thrown): whatever is left gets a timer.
      if (this.head && !this.timer) this.scheduleFor(this.head.dlAt);
    }
  }

  /** For tests: when the pending timer is due, if there is one. */
  get pendingAt(): number | undefined {
    return this.timer ? this.timerAt : undefined;
  }
}
