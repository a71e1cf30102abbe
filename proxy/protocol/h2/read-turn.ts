/**
 * The frames of one socket read, handled as one turn, and the work an owner deferred to the turn's
 * end (H2Connection.afterRead): something held back for a frame that nearly always arrives in the
 * same read (a response head for its first DATA) is done once the read is handled, at no cost of
 * a tick per request.
 */
export class ReadTurn {
  private inTurn = false;
  private deferred: (() => void)[] = [];

  /** Runs `read(arg)` as the turn, then what was deferred during it. */
  run<A>(read: (arg: A) => void, arg: A): void {
    this.inTurn = true;
    try {
      read(arg);
    } finally {
      this.inTurn = false;
    }
    const deferred = this.deferred;
    if (deferred.length === 0) return;
    this.deferred = [];
    for (const fn of deferred) fn();
  }

  /** `fn` at the end of the turn under way, or on the next tick when none is. */
  defer(fn: () => void): void {
    if (this.inTurn) this.deferred.push(fn);
    else process.nextTick(fn);
  }
}
