/**
 * Statistics for repeated measurements. A bench on a shared 2-core machine is noisy, so every
 * figure is the median of several runs, reported with its spread (min, max, and the range as a
 * share of the median) so that a reader can tell a real change from noise.
 */

export interface Stat {
  /** Every run's value, in run order. */
  readonly runs: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median, in percent; 0 for a single run, NaN when the median is 0. */
  readonly spreadPct: number;
}

/** Median of finite values (mean of the middle two for an even count); NaN when there are none. */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Summarises runs; non-finite values (a failed run) are kept in `runs` but left out of the figures. */
export function summarize(runs: readonly number[]): Stat {
  const ok = runs.filter(Number.isFinite);
  if (ok.length === 0) return { runs: [...runs], median: NaN, min: NaN, max: NaN, spreadPct: NaN };
  const m = median(ok);
  const min = Math.min(...ok);
  const max = Math.max(...ok);
  return { runs: [...runs], median: m, min, max, spreadPct: m === 0 ? NaN : ((max - min) / m) * 100 };
}

/** value / base, NaN when either is missing or the base is 0. */
export function ratio(value: number, base: number): number {
  return Number.isFinite(value) && Number.isFinite(base) && base !== 0 ? value / base : NaN;
}

/** Percentage change from `before` to `after` (+10 = 10% higher). */
export function changePct(before: number, after: number): number {
  return Number.isFinite(before) && Number.isFinite(after) && before !== 0 ? ((after - before) / before) * 100 : NaN;
}

/**
 * Whether two medians differ by more than their runs' noise: the change must exceed the larger of
 * the two spreads (ranges as a share of the median). A crude, explainable rule, not a test of
 * significance; it keeps --compare from calling noise a regression.
 */
export function beyondNoise(before: Stat, after: Stat): boolean {
  const change = Math.abs(changePct(before.median, after.median));
  if (!Number.isFinite(change)) return false;
  const noise = Math.max(Number.isFinite(before.spreadPct) ? before.spreadPct : 0, Number.isFinite(after.spreadPct) ? after.spreadPct : 0);
  return change > noise;
}
