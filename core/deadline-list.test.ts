import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeadlineList, type DeadlineClock, type Deadlined } from './deadline-list';

/** A clock that moves only when told, with the timers it was asked for. */
class FakeClock implements DeadlineClock {
  t = 1000;
  timers: { at: number; fire: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  schedule(ms: number, fire: () => void): { cancel(): void } {
    const timer = { at: this.t + ms, fire, live: true };
    this.timers.push(timer);
    return { cancel: () => (timer.live = false) };
  }
  get live(): number {
    return this.timers.filter((x) => x.live).length;
  }
  /** Moves to `to`, firing due timers in order as Node would. */
  advance(to: number): void {
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.t = due.at;
      due.fire();
    }
    this.t = to;
  }
}

class Entry implements Deadlined {
  dlList: DeadlineList | undefined;
  dlAt = 0;
  dlPrev: Deadlined | undefined;
  dlNext: Deadlined | undefined;
  fired: number[] = [];
  constructor(
    readonly clock: FakeClock,
    readonly then?: (list: DeadlineList) => void,
  ) {}
  onDeadline(list: DeadlineList): void {
    assert.equal(this.dlList, undefined, 'disarmed before its callback');
    this.fired.push(this.clock.t);
    this.then?.(list);
  }
}

describe('DeadlineList', () => {
  it('fires each armed entry once, ms after it was armed, in arming order', () => {
    const c = new FakeClock();
    const l = new DeadlineList(100, c);
    const a = new Entry(c);
    const b = new Entry(c);
    l.arm(a);
    c.advance(1030);
    l.arm(b);
    assert.equal(l.size, 2);
    assert.equal(c.live, 1, 'one timer for the whole list');
    c.advance(1099);
    assert.deepEqual([a.fired, b.fired], [[], []]);
    c.advance(1100);
    assert.deepEqual([a.fired, b.fired], [[1100], []]);
    c.advance(2000);
    assert.deepEqual([a.fired, b.fired], [[1100], [1130]]);
    assert.equal(l.size, 0);
    assert.equal(c.live, 0, 'an empty list keeps no timer');
  });

  it('a disarmed entry never fires; re-arming starts a fresh timeout; arming twice keeps the first', () => {
    const c = new FakeClock();
    const l = new DeadlineList(100, c);
    const a = new Entry(c);
    const b = new Entry(c);
    l.arm(a);
    l.arm(b);
    c.advance(1050);
    l.arm(a); // already armed: unchanged
    l.disarm(b);
    l.disarm(b); // not armed: nothing
    c.advance(1100);
    assert.deepEqual([a.fired, b.fired], [[1100], []]);
    l.arm(b);
    c.advance(1199);
    assert.deepEqual(b.fired, []);
    c.advance(1200);
    assert.deepEqual(b.fired, [1200]);
  });

  it('disarming the last entry cancels the timer; disarming the first lets the timer find the next', () => {
    const c = new FakeClock();
    const l = new DeadlineList(100, c);
    const a = new Entry(c);
    const b = new Entry(c);
    l.arm(a);
    l.disarm(a);
    assert.equal(c.live, 0);
    l.arm(a);
    c.advance(1040);
    l.arm(b);
    l.disarm(a);
    c.advance(1100); // the timer set for a fires, finds b due at 1140, waits again
    assert.equal(l.pendingAt, 1140);
    c.advance(1140);
    assert.deepEqual([a.fired, b.fired], [[], [1140]]);
  });

  it('a timer that fires early (Node runs timers on the loop cached time) waits for the rest', () => {
    const c = new FakeClock();
    const l = new DeadlineList(100, c);
    const a = new Entry(c);
    l.arm(a);
    const t = c.timers[0]!;
    t.live = false;
    c.t = 1095;
    t.fire();
    assert.deepEqual(a.fired, []);
    assert.equal(l.pendingAt, 1100);
    c.advance(1100);
    assert.deepEqual(a.fired, [1100]);
  });

  it('an entry armed from a callback (the next request head) is kept and fires in turn', () => {
    const c = new FakeClock();
    const l = new DeadlineList(100, c);
    let n = 0;
    const a: Entry = new Entry(c, (list) => {
      if (++n < 3) list.arm(a);
    });
    l.arm(a);
    c.advance(5000);
    assert.deepEqual(a.fired, [1100, 1200, 1300]);
    assert.equal(c.live, 0);
  });

  it('a callback that throws leaves the list working', () => {
    const c = new FakeClock();
    const l = new DeadlineList(100, c);
    const bad = new Entry(c, () => {
      throw new Error('boom');
    });
    const good = new Entry(c);
    l.arm(bad);
    c.advance(1010);
    l.arm(good);
    assert.throws(() => c.advance(1100), /boom/);
    assert.equal(l.pendingAt, 1110);
    c.advance(1110);
    assert.deepEqual(good.fired, [1110]);
  });

  it('refuses a length that is not positive', () => {
    assert.throws(() => new DeadlineList(0), /positive length/);
    assert.throws(() => new DeadlineList(Number.NaN), /positive length/);
  });

  it('of(ms) gives every caller with the same length one list', () => {
    assert.equal(DeadlineList.of(12_345), DeadlineList.of(12_345));
    assert.notEqual(DeadlineList.of(12_345), DeadlineList.of(12_346));
  });

  it('against a model: any sequence of arms, disarms and clock steps fires exactly what setTimeout would', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('arm' as const), i: fc.nat(7) }),
      fc.record({ kind: fc.constant('disarm' as const), i: fc.nat(7) }),
      fc.record({ kind: fc.constant('step' as const), ms: fc.nat(80) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const c = new FakeClock();
        const l = new DeadlineList(50, c);
        const es = Array.from({ length: 8 }, () => new Entry(c));
        const due: (number | undefined)[] = es.map(() => undefined);
        const expected: number[][] = es.map(() => []);
        const settle = (to: number): void => {
          // The model: each armed entry fires at its own deadline.
          for (let i = 0; i < es.length; i++) {
            if (due[i] !== undefined && due[i]! <= to) {
              expected[i]!.push(due[i]!);
              due[i] = undefined;
            }
          }
          c.advance(to);
        };
        for (const o of ops) {
          if (o.kind === 'arm') {
            if (due[o.i] === undefined) due[o.i] = c.t + 50;
            l.arm(es[o.i]!);
          } else if (o.kind === 'disarm') {
            due[o.i] = undefined;
            l.disarm(es[o.i]!);
          } else settle(c.t + o.ms);
        }
        settle(c.t + 1000);
        assert.deepEqual(
          es.map((e) => e.fired),
          expected,
        );
        assert.equal(c.live, 0);
      }),
    );
  });

  it('on the real clock: an armed entry fires after ms, not before', async () => {
    const l = new DeadlineList(40);
    const t0 = performance.now();
    const at = await new Promise<number>((resolve) => {
      l.arm({ dlList: undefined, dlAt: 0, dlPrev: undefined, dlNext: undefined, onDeadline: () => resolve(performance.now()) });
    });
    assert.ok(at - t0 >= 39, `fired after ${at - t0} ms`);
  });
});
