import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PeakEwmaBalancer, type BalancerOptions } from './peak-ewma';

/** A fake clock and a seeded random source (mulberry32), so every run chooses the same way. */
function fixture(opts: BalancerOptions = {}, seed = 42) {
  let t = 1_000;
  let s = seed >>> 0;
  const random = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const b = new PeakEwmaBalancer<string>({ now: () => t, random, ...opts });
  return { b, advance: (ms: number) => (t += ms), random };
}

const eps = (...keys: string[]) => keys.map((key) => ({ key, value: key }));

describe('PeakEwmaBalancer', () => {
  it('no endpoints: no pick', () => {
    const { b } = fixture();
    assert.equal(b.pick(), undefined);
    b.update(eps('a'));
    b.update([]);
    assert.equal(b.pick(), undefined);
  });

  it('one endpoint: always that one, even when it is set aside', () => {
    const { b } = fixture();
    b.update(eps('a'));
    for (let i = 0; i < 5; i++) {
      const p = b.pick()!;
      assert.equal(p.endpoint, 'a');
      p.done('failure');
    }
    assert.equal(b.load('a')!.state, 'aside');
    assert.equal(b.pick()!.endpoint, 'a');
  });

  it('cost is RTT estimate × (pending + 1); a new endpoint starts at 30 ms', () => {
    const { b } = fixture();
    b.update(eps('a'));
    const l = b.load('a')! as Parameters<typeof b.cost>[0];
    assert.equal(b.cost(l), 30);
    const p1 = b.pick()!;
    const p2 = b.pick()!;
    assert.equal(b.cost(l), 90);
    p1.done('success');
    p2.done('success');
    assert.equal(b.cost(l), 30);
  });

  it('a slower sample replaces the estimate at once; faster ones decay it with τ = 10 s', () => {
    const { b, advance } = fixture();
    b.update(eps('a'));
    const l = b.load('a')! as Parameters<typeof b.cost>[0];
    b.pick()!.done('success', 100);
    assert.equal(l.rttMs, 100);
    advance(10_000);
    b.pick()!.done('success', 10);
    // 100·e^-1 + 10·(1 − e^-1)
    assert.ok(Math.abs(l.rttMs - (100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)))) < 1e-9, String(l.rttMs));
    b.pick()!.done('success', 500);
    assert.equal(l.rttMs, 500);
    // With no time passing, a fast sample changes nothing: only time lets it decay.
    b.pick()!.done('success', 1);
    assert.equal(l.rttMs, 500);
  });

  it('ties go to the first drawn; two equal endpoints share the load about evenly', () => {
    const { b } = fixture();
    b.update(eps('a', 'b'));
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 2000; i++) {
      const p = b.pick()!;
      counts[p.key]!++;
      p.done('success', 5);
    }
    assert.ok(counts.a! > 800 && counts.b! > 800, JSON.stringify(counts));
  });

  it('an endpoint 50 ms slower gets well under a third of the requests', () => {
    const { b, advance } = fixture();
    b.update(eps('a', 'b', 'slow'));
    const counts: Record<string, number> = { a: 0, b: 0, slow: 0 };
    // Four requests in flight at a time, 10 ms apart; latency 2 ms, 52 ms for the slow one.
    const inflight: { p: ReturnType<typeof b.pick>; endsAt: number }[] = [];
    let now = 0;
    for (let i = 0; i < 3000; i++) {
      advance(10);
      now += 10;
      for (const f of inflight.splice(0).filter((f) => f.endsAt <= now || (inflight.push(f), false))) f.p!.done('success', f.p!.key === 'slow' ? 52 : 2);
      while (inflight.length < 4) {
        const p = b.pick()!;
        counts[p.key]!++;
        inflight.push({ p, endsAt: now + (p.key === 'slow' ? 52 : 2) });
      }
    }
    const total = counts.a! + counts.b! + counts.slow!;
    assert.ok(counts.slow! / total < 0.1, JSON.stringify(counts));
    assert.ok(counts.slow! > 0, 'the slow endpoint is still tried now and then (the estimate decays)');
  });

  it('pending requests steer new ones away from a busy endpoint', () => {
    const { b } = fixture();
    b.update(eps('a', 'b'));
    const held = [];
    for (let i = 0; i < 10; i++) held.push(b.pick()!);
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (const p of held) counts[p.key]!++;
    // With equal RTTs the pending count decides: the picks alternate, never more than 1 apart.
    assert.ok(Math.abs(counts.a! - counts.b!) <= 1, JSON.stringify(counts));
  });

  it('a dead endpoint is set aside after 3 failures in a row, probed after backoff, and brought back', () => {
    const { b, advance } = fixture({ accrual: { jitter: 0 } });
    b.update(eps('a', 'dead'));
    let deadPicks = 0;
    for (let i = 0; i < 200; i++) {
      const p = b.pick()!;
      if (p.key === 'dead') {
        deadPicks++;
        p.done('failure');
      } else p.done('success', 30);
    }
    assert.equal(deadPicks, 3, 'exactly the failures needed to set it aside');
    assert.equal(b.load('dead')!.state, 'aside');
    assert.equal(b.load('dead')!.retryAt, 1_000 + 1_000);

    // Backoff over (1 s): one probe goes to it; failing sends it aside for 2 s.
    advance(1_000);
    const seen: string[] = [];
    for (let i = 0; i < 50 && !seen.includes('dead'); i++) {
      const p = b.pick()!;
      seen.push(p.key);
      p.done(p.key === 'dead' ? 'failure' : 'success', p.key === 'dead' ? undefined : 30);
    }
    assert.ok(seen.includes('dead'), 'probed once its backoff ended');
    assert.equal(b.load('dead')!.state, 'aside');
    assert.equal(b.load('dead')!.retryAt, 2_000 + 2_000);

    // Second backoff over: the probe succeeds and it is back in rotation.
    advance(2_000);
    let back = false;
    for (let i = 0; i < 50 && !back; i++) {
      const p = b.pick()!;
      if (p.key === 'dead') back = true;
      p.done('success', 1);
    }
    assert.ok(back);
    assert.equal(b.load('dead')!.state, 'ready');
    assert.equal(b.load('dead')!.trips, 0);
  });

  it('only one probe at a time while an endpoint is probing', () => {
    const { b, advance } = fixture({ accrual: { jitter: 0, consecutiveFailures: 1 } });
    b.update(eps('a', 'b'));
    // Set 'b' aside.
    for (let i = 0; i < 20 && b.load('b')!.state === 'ready'; i++) {
      const p = b.pick()!;
      p.done(p.key === 'b' ? 'failure' : 'success', 5);
    }
    assert.equal(b.load('b')!.state, 'aside');
    advance(1_000);
    const held = [];
    for (let i = 0; i < 20; i++) held.push(b.pick()!);
    assert.equal(held.filter((p) => p.key === 'b').length, 1);
  });

  it('exclude skips endpoints already tried for this request', () => {
    const { b } = fixture();
    b.update(eps('a', 'b', 'c'));
    for (let i = 0; i < 50; i++) {
      const p = b.pick(new Set(['a', 'b']))!;
      assert.equal(p.key, 'c');
      p.done('success', 1);
    }
    assert.equal(b.pick(new Set(['a', 'b', 'c'])), undefined);
  });

  it('an update keeps the state of endpoints that stay and starts new ones at the default RTT', () => {
    const { b } = fixture();
    b.update(eps('a'));
    b.pick()!.done('success', 200);
    b.update(eps('a', 'new'));
    assert.equal(b.load('a')!.rttMs, 200);
    assert.equal(b.load('new')!.rttMs, 30);
    b.update(eps('new'));
    assert.equal(b.load('a'), undefined);
    assert.equal(b.size, 1);
  });

  it('done twice counts once', () => {
    const { b } = fixture();
    b.update(eps('a'));
    const p = b.pick()!;
    p.done('success');
    p.done('failure');
    assert.equal(b.load('a')!.pending, 0);
    assert.equal(b.load('a')!.failures, 0);
  });
  it('weights from discovery divide the cost: weight 20000 looks half as loaded as 10000; 0 or none is the default', () => {
    const { b } = fixture();
    b.update([
      { key: 'heavy', value: 'heavy', weight: 20_000 },
      { key: 'plain', value: 'plain', weight: 10_000 },
      { key: 'zero', value: 'zero', weight: 0 },
      { key: 'none', value: 'none' },
    ]);
    const cost = (k: string) => b.cost(b.load(k)! as Parameters<typeof b.cost>[0]);
    assert.equal(cost('heavy'), 15);
    assert.equal(cost('plain'), 30);
    assert.equal(cost('zero'), 30);
    assert.equal(cost('none'), 30);
    // A weight change on an update applies to the endpoint kept, with its estimate.
    b.update([{ key: 'plain', value: 'plain', weight: 5_000 }]);
    assert.equal(cost('plain'), 60);
  });

  it('with equal latency, an endpoint of three times the weight takes about three times the concurrent requests', () => {
    const { b } = fixture();
    b.update([
      { key: 'big', value: 'big', weight: 30_000 },
      { key: 'small', value: 'small', weight: 10_000 },
    ]);
    const held = { big: 0, small: 0 } as Record<string, number>;
    for (let i = 0; i < 400; i++) held[b.pick()!.key]!++; // none finishes: pending builds up
    // P2C over two endpoints compares both: (big + 1) / 3 ≈ small + 1.
    assert.ok(Math.abs(held.big! - 3 * held.small! - 2) <= 3, JSON.stringify(held));

    // Unweighted, the same run splits evenly.
    const u = fixture().b;
    u.update(eps('big', 'small'));
    const even = { big: 0, small: 0 } as Record<string, number>;
    for (let i = 0; i < 400; i++) even[u.pick()!.key]!++;
    assert.ok(Math.abs(even.big! - even.small!) <= 1, JSON.stringify(even));
  });

  it('weights do not override latency: a 3× weight endpoint that is 10× slower gets the smaller share', () => {
    const { b, advance } = fixture();
    b.update([
      { key: 'big', value: 'big', weight: 30_000 },
      { key: 'fast', value: 'fast', weight: 10_000 },
    ]);
    const counts = { big: 0, fast: 0 } as Record<string, number>;
    for (let i = 0; i < 2000; i++) {
      const p = b.pick()!;
      counts[p.key]!++;
      advance(5);
      p.done('success', p.key === 'big' ? 300 : 30);
    }
    assert.ok(counts.big! < counts.fast!, JSON.stringify(counts));
  });
});

describe('PeakEwmaBalancer failure accrual from a route policy', () => {
  it('takes the Service\'s thresholds, fails fast when every endpoint is out, and probes back after the penalty', () => {
    const { b, advance } = fixture();
    b.update(eps('a', 'b'));
    const key = {};
    b.configure(key, { consecutiveFailures: 2, baseBackoffMs: 1000, maxBackoffMs: 60_000, jitter: 0 }, true);
    for (const k of ['a', 'b']) {
      for (let i = 0; i < 2; i++) {
        const p = b.pick(new Set([k === 'a' ? 'b' : 'a']))!;
        assert.equal(p.key, k);
        p.done('failure');
      }
    }
    assert.equal(b.load('a')!.state, 'aside');
    assert.equal(b.pick(), undefined, 'all out: no pick (503 at once) rather than the soonest back');
    advance(1000);
    const probe = b.pick()!;
    probe.done('success');
    assert.equal(b.load(probe.key)!.state, 'ready');
  });
});
