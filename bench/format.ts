/** Number formatting shared by the Markdown, SVG and progress writers. */

/** JSON turns NaN into null; readers of an old file get null where a run failed. */
export function num(v: number | null | undefined): number {
  return typeof v === 'number' ? v : NaN;
}

/** 1234 → "1.23k", 12345678 → "12.3M"; three significant digits. */
export function si(v: number | null | undefined): string {
  const x = num(v);
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e9) return `${sig(x / 1e9)}G`;
  if (a >= 1e6) return `${sig(x / 1e6)}M`;
  if (a >= 1e3) return `${sig(x / 1e3)}k`;
  return sig(x);
}

/** Three significant digits, without exponent notation. */
export function sig(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  return x.toFixed(Math.min(digits, 4));
}

export function ms(v: number | null | undefined): string {
  const x = num(v);
  return Number.isFinite(x) ? `${sig(x)} ms` : '–';
}

export function pct(v: number | null | undefined, signed = false): string {
  const x = num(v);
  if (!Number.isFinite(x)) return '–';
  const s = `${x.toFixed(Math.abs(x) < 10 ? 1 : 0)}%`;
  return signed && x > 0 ? `+${s}` : s;
}

export function mib(bytes: number | null | undefined): string {
  const x = num(bytes);
  return Number.isFinite(x) ? `${(x / 1048576).toFixed(1)} MiB` : '–';
}
