import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beyondNoise, changePct, median, ratio, summarize } from './stats';

test('median of odd and even counts, unsorted, ignoring non-finite values', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7, NaN, Infinity, 1, 3]), 3);
  assert.ok(Number.isNaN(median([])));
});

test('summarize reports min, max and the range as a share of the median', () => {
  const s = summarize([100, 90, 110, 105, 95]);
  assert.equal(s.median, 100);
  assert.equal(s.min, 90);
  assert.equal(s.max, 110);
  assert.equal(s.spreadPct, 20);
  assert.deepEqual(s.runs, [100, 90, 110, 105, 95]);
  assert.equal(summarize([42]).spreadPct, 0);
});

test('a failed run (NaN) stays in runs but not in the figures; all failed gives NaN', () => {
  const s = summarize([10, NaN, 30]);
  assert.equal(s.median, 20);
  assert.equal(s.runs.length, 3);
  assert.ok(Number.isNaN(summarize([NaN]).median));
});

test('ratio and changePct refuse a zero or missing base', () => {
  assert.equal(ratio(50, 100), 0.5);
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.ok(Number.isNaN(ratio(NaN, 1)));
  assert.equal(changePct(100, 110), 10);
  assert.ok(Number.isNaN(changePct(0, 1)));
});

test('beyondNoise: a change inside the spread is noise, outside it is not', () => {
  const a = summarize([100, 95, 105]); // spread 10%
  assert.equal(beyondNoise(a, summarize([108, 106, 110])), false); // +8% < 10%
  assert.equal(beyondNoise(a, summarize([130, 128, 131])), true);
  assert.equal(beyondNoise(a, summarize([NaN])), false);
});
