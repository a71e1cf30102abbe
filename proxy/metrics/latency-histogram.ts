/**
 * The exact-latency histogram: hdr-histogram-js's plain-array HDR histogram, with the bucket index
 * of a recorded value found by integer arithmetic. The package computes it with Math.log2 and
 * three Math.pow calls per value (about 0.6% of the proxy's CPU at 1,000 req/s in a perf
 * profile); for a whole number below 2^31 (microseconds: 35 minutes) the same index is a count of
 * leading zeros and two shifts. Anything else takes the package's own path, so every value lands
 * where the package would put it.
 */
// Only the plain-array histogram: the package's index also compiles its WebAssembly build and
// loads pako, about 15 MB of an idle proxy for code it never runs.
import Int32Histogram from 'hdr-histogram-js/dist/Int32Histogram';

export class LatencyHistogram extends Int32Histogram {
  /** HDR range: 1 µs to 1 h, 3 significant digits (0.1% error), ample for request latency. */
  constructor() {
    super(1, 3_600_000_000, 3);
  }

  override countsArrayIndex(value: number): number {
    if (!(value >= 0 && value < 0x80000000) || value !== Math.floor(value)) return super.countsArrayIndex(value);
    const shift = this.subBucketHalfCountMagnitude + this.unitMagnitude;
    // floor(log2(value)) is 31 - clz32(value); 0 goes to bucket 0 as in the package.
    const bucket = Math.max(31 - Math.clz32(value) - shift, 0);
    const subBucket = value >>> (bucket + this.unitMagnitude);
    return ((bucket + 1) << this.subBucketHalfCountMagnitude) + subBucket - this.subBucketHalfCount;
  }
}
