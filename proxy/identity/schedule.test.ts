import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay, refreshIn } from './schedule';

describe('refreshIn', () => {
  it('is 70% of the time left, clamped to [min, max]', () => {
    assert.equal(refreshIn(10_000, 0, 100, 60_000), 7_000);
    assert.equal(refreshIn(24 * 3_600_000, 0, 10_000, 86_400_000), 60_480_000);
    assert.equal(refreshIn(100, 0, 10_000, 86_400_000), 10_000, 'never sooner than min');
    assert.equal(refreshIn(10 * 86_400_000, 0, 10_000, 86_400_000), 86_400_000, 'never later than max');
    assert.equal(refreshIn(0, 5, 10_000, 86_400_000), 10_000, 'already expired: min');
  });
});

describe('backoffDelay', () => {
  const p = { baseMs: 100, maxMs: 30_000, jitter: 0.5 };
  it('doubles per attempt up to the cap, jitter inside [ceiling*(1-j), ceiling]', () => {
    assert.deepEqual([0, 1, 2, 3].map((a) => backoffDelay(a, p, () => 1)), [100, 200, 400, 800]);
    assert.deepEqual([0, 1, 2, 3].map((a) => backoffDelay(a, p, () => 0)), [50, 100, 200, 400]);
    assert.equal(backoffDelay(100, p, () => 1), 30_000);
  });
  it('stays within bounds for any attempt and random value', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, p, () => r);
        const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** Math.min(attempt, 30));
        return d >= Math.floor(ceiling / 2) && d <= ceiling && Number.isFinite(d);
      }),
    );
  });
});
