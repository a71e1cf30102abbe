import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const opts = { baseMs: 100, maxMs: 1000, jitter: 0.5 };
  it('doubles up to the ceiling without jitter', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((a) => backoffDelay(a, opts, () => 0)), [100, 200, 400, 800, 1000, 1000, 1000]);
  });
  it('jitter takes off up to the given fraction', () => {
    assert.equal(backoffDelay(0, opts, () => 0.999999), 50);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, opts);
      assert.ok(d >= 400 && d <= 800, String(d));
    }
  });
  it('stays within [ceiling*(1-jitter), ceiling] for any attempt and random value', () => {
    const p = { baseMs: 100, maxMs: 30_000, jitter: 0.5 };
    fc.assert(
      fc.property(fc.nat(1000), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, p, () => r);
        const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** Math.min(attempt, 30));
        return d >= Math.floor(ceiling / 2) && d <= ceiling && Number.isFinite(d);
      }),
    );
  });
});
