import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Int32Histogram from 'hdr-histogram-js/dist/Int32Histogram';
import { LatencyHistogram } from './latency-histogram';

const reference = new Int32Histogram(1, 3_600_000_000, 3);

test('a value gets the index the package computes (fast-check, every magnitude up to the range)', () => {
  const h = new LatencyHistogram();
  const anyValue = fc.oneof(
    fc.integer({ min: 0, max: 4096 }),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    fc.integer({ min: 2 ** 31 - 5000, max: 3_600_000_000 }),
    fc.integer({ min: 0, max: 30 }).chain((k) => fc.integer({ min: Math.max(0, 2 ** k - 3), max: 2 ** k + 3 })),
    fc.double({ min: 0, max: 3_600_000_000, noNaN: true }),
  );
  fc.assert(fc.property(anyValue, (v) => h.countsArrayIndex(v) === reference.countsArrayIndex(v)), { numRuns: 20_000 });
});

test('recorded values read back as the package reads them: counts, percentiles, max', () => {
  const ours = new LatencyHistogram();
  const theirs = new Int32Histogram(1, 3_600_000_000, 3);
  const values = [1, 2, 999, 1000, 1023, 1024, 2047, 2048, 4095, 65_537, 1_000_000, 2 ** 31 - 1, 2 ** 31, 3_599_999_999];
  for (const v of values) {
    ours.recordValue(v);
    theirs.recordValue(v);
  }
  assert.equal(ours.totalCount, values.length);
  assert.equal(ours.maxValue, theirs.maxValue);
  for (const p of [1, 50, 90, 99, 99.9, 100]) assert.equal(ours.getValueAtPercentile(p), theirs.getValueAtPercentile(p), `p${p}`);
  for (let i = 0; i < theirs.countsArrayLength; i++) assert.equal(ours.getCountAtIndex(i), theirs.getCountAtIndex(i));
});

test('a value above the range is refused as the package refuses it', () => {
  assert.throws(() => new LatencyHistogram().recordValue(2 ** 40), /outside of histogram covered range/);
});
