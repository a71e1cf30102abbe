import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refreshIn } from './schedule';

describe('refreshIn', () => {
  it('is 70% of the time left, clamped to [min, max]', () => {
    assert.equal(refreshIn(10_000, 0, 100, 60_000), 7_000);
    assert.equal(refreshIn(24 * 3_600_000, 0, 10_000, 86_400_000), 60_480_000);
    assert.equal(refreshIn(100, 0, 10_000, 86_400_000), 10_000, 'never sooner than min');
    assert.equal(refreshIn(10 * 86_400_000, 0, 10_000, 86_400_000), 86_400_000, 'never later than max');
    assert.equal(refreshIn(0, 5, 10_000, 86_400_000), 10_000, 'already expired: min');
  });
});
