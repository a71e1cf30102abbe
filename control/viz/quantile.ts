/**
 * Percentiles: from a Prometheus histogram's buckets (as histogram_quantile, linear inside the
 * bucket) and exactly from HDR counts (value → count). Pure.
 */

/**
 * The q-quantile (0..1) of cumulative bucket counts (`le` → count), as Prometheus'
 * histogram_quantile: linear interpolation inside the bucket that holds the rank, the first bucket
 * starting at 0, the highest finite bound when the rank falls in +Inf. undefined without data.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0 || sorted.at(-1)![0] !== Infinity) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank && count > prevCount) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    if (le !== Infinity) prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/**
 * The q-quantile of recorded values (value → how many times), as HdrHistogram's
 * getValueAtPercentile: the smallest recorded value with at least q of all counts at or below it.
 */
export function exactQuantile(q: number, counts: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...counts].filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((a, [, c]) => a + c, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [v, c] of sorted) {
    seen += c;
    if (seen >= rank) return v;
  }
  return sorted.at(-1)![0];
}

/**
 * The upper bound of the bucket that holds the q-quantile (cumulative `le` → count): what coarse
 * buckets can say honestly ("p50 ≤ 50 ms") where interpolation would invent a figure inside the
 * bucket. Infinity when the rank is past the last finite bound; undefined without data.
 */
export function histogramBound(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0 || sorted.at(-1)![0] !== Infinity) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  return sorted.find(([, count]) => count >= rank)![0];
}
