/**
 * SVG charts, written by hand (no chart library): latency percentile curves on log axes, the
 * way HdrHistogram plots them (x = 1/(1-p), so p50, p90, p99, p99.9 are evenly spaced), and
 * throughput bars with whiskers from the slowest to the fastest run. Pure: data in, text out.
 */
import { num, si } from './format';
import { PERCENTILES, TARGET_LABEL, type ScenarioResult } from './schema';

const COLORS: Record<string, string> = {
  direct: '#4d4d4d',
  linnet: '#1f77b4',
  'linnet-2w': '#17becf',
  'linnet-tap': '#bcbd22',
  'linnet-policy': '#e377c2',
  'linnet-mesh': '#9467bd',
  'linnet-routes': '#8c564b',
  nginx: '#2ca02c',
  haproxy: '#d62728',
  'haproxy-mesh': '#ff7f0e',
};

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const W = 720;
const H = 360;
const PAD = { left: 70, right: 230, top: 40, bottom: 50 };

/** Powers of ten covering [lo, hi] (both > 0), for log-axis ticks. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

/** p (as 50, 99.9) → log10(1/(1-p/100)): 0.30, 1, 2, 3. */
export function percentileX(p: number): number {
  return Math.log10(1 / (1 - p / 100));
}

export function latencyChart(s: ScenarioResult): string {
  const series = s.targets
    .filter((t) => t.status === 'ok' && t.latencyMs)
    .map((t) => ({ id: t.target, points: PERCENTILES.map((p) => ({ p: Number(p.slice(1)), v: num(t.latencyMs![p].median) })).filter((q) => q.v > 0) }));
  const values = series.flatMap((x) => x.points.map((q) => q.v));
  const title = `${s.title}: latency by percentile (log scales)`;
  if (values.length === 0) return emptyChart(title);
  const ticks = logTicks(Math.min(...values), Math.max(...values));
  const [ylo, yhi] = [Math.log10(ticks[0]!), Math.log10(ticks[ticks.length - 1]!)];
  const [xlo, xhi] = [percentileX(50), percentileX(99.9)];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (p: number) => PAD.left + ((percentileX(p) - xlo) / (xhi - xlo)) * plotW;
  const y = (v: number) => PAD.top + plotH - ((Math.log10(v) - ylo) / (yhi - ylo || 1)) * plotH;
  const out = [header(title)];
  for (const t of ticks) {
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#ddd"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${f(y(t) + 4)}" text-anchor="end">${String(t)} ms</text>`);
  }
  for (const p of PERCENTILES) {
    const px = x(Number(p.slice(1)));
    out.push(`<line x1="${f(px)}" x2="${f(px)}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${f(px)}" y="${PAD.top + plotH + 18}" text-anchor="middle">${p}</text>`);
  }
  out.push(`<text x="${PAD.left + plotW / 2}" y="${H - 8}" text-anchor="middle">percentile</text>`);
  series.forEach((sr, i) => {
    const color = COLORS[sr.id] ?? '#000';
    const pts = sr.points.map((q) => `${f(x(q.p))},${f(y(q.v))}`).join(' ');
    out.push(`<polyline class="series" data-target="${sr.id}" fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    for (const q of sr.points) out.push(`<circle cx="${f(x(q.p))}" cy="${f(y(q.v))}" r="3" fill="${color}"/>`);
    legend(out, i, color, TARGET_LABEL[sr.id]);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function throughputChart(s: ScenarioResult): string {
  const bars = s.targets
    .filter((t) => t.status === 'ok' && t.throughput && Number.isFinite(num(t.throughput.median)))
    .map((t) => ({ id: t.target, median: num(t.throughput!.median), min: num(t.throughput!.min), max: num(t.throughput!.max) }));
  const title = `${s.title}: throughput (${s.unit}), median with min–max of runs`;
  if (bars.length === 0) return emptyChart(title);
  const top = niceCeil(Math.max(...bars.map((b) => b.max)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const slot = plotW / bars.length;
  const out = [header(title)];
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#ddd"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${esc(si(v))}</text>`);
  }
  bars.forEach((b, i) => {
    const color = COLORS[b.id] ?? '#000';
    const cx = PAD.left + slot * i + slot / 2;
    const bw = Math.min(60, slot * 0.6);
    out.push(`<rect class="bar" data-target="${b.id}" x="${f(cx - bw / 2)}" y="${f(y(b.median))}" width="${f(bw)}" height="${f(PAD.top + plotH - y(b.median))}" fill="${color}"/>`);
    // The whisker: slowest to fastest run.
    out.push(`<line class="whisker" x1="${f(cx)}" x2="${f(cx)}" y1="${f(y(b.min))}" y2="${f(y(b.max))}" stroke="#000"/>`);
    out.push(`<line x1="${f(cx - 6)}" x2="${f(cx + 6)}" y1="${f(y(b.min))}" y2="${f(y(b.min))}" stroke="#000"/>`);
    out.push(`<line x1="${f(cx - 6)}" x2="${f(cx + 6)}" y1="${f(y(b.max))}" y2="${f(y(b.max))}" stroke="#000"/>`);
    out.push(`<text x="${f(cx)}" y="${f(y(b.max) - 6)}" text-anchor="middle">${esc(si(b.median))}</text>`);
    legend(out, i, color, TARGET_LABEL[b.id]);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** One line of the soak chart: a target's RSS or private memory (MiB) over time (s). */
export interface MemorySeries {
  readonly id: string;
  readonly what: 'RSS' | 'private';
  readonly points: readonly { t: number; mib: number }[];
}

/** The soak chart's data: per measured target, its RSS and its private memory over time. */
export function soakSeries(s: ScenarioResult): MemorySeries[] {
  const out: MemorySeries[] = [];
  for (const t of s.targets) {
    if (t.status !== 'ok' || !t.soak) continue;
    for (const what of ['RSS', 'private'] as const) {
      const points = t.soak.samples.map((x) => ({ t: x.t, mib: (what === 'RSS' ? num(x.rss) : num(x.private)) / 1048576 })).filter((p) => Number.isFinite(p.mib));
      if (points.length) out.push({ id: t.target, what, points });
    }
  }
  return out;
}

/** Memory over time in the soak: RSS solid, private memory dashed, the baseline of the growth marked. */
export function soakChart(s: ScenarioResult): string {
  const series = soakSeries(s);
  const title = `${s.title}: memory over time (MiB)`;
  if (series.length === 0) return emptyChart(title);
  const tmax = Math.max(...series.flatMap((x) => x.points.map((p) => p.t)), 1);
  const top = niceCeil(Math.max(...series.flatMap((x) => x.points.map((p) => p.mib))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (t: number) => PAD.left + (t / tmax) * plotW;
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const out = [header(title)];
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#ddd"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${esc(si(v))} MiB</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const t = (tmax / 5) * i;
    out.push(`<text x="${f(x(t))}" y="${PAD.top + plotH + 18}" text-anchor="middle">${Math.round(t)}</text>`);
  }
  out.push(`<text x="${PAD.left + plotW / 2}" y="${H - 8}" text-anchor="middle">seconds since the load started</text>`);
  const baseline = s.targets.find((t) => t.soak)?.soak?.baselineAtS;
  if (baseline !== undefined && baseline <= tmax) {
    out.push(`<line class="baseline" x1="${f(x(baseline))}" x2="${f(x(baseline))}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#999" stroke-dasharray="2,3"/>`);
    out.push(`<text x="${f(x(baseline) + 4)}" y="${PAD.top + 12}" fill="#666">growth from here</text>`);
  }
  const ids: string[] = [];
  for (const sr of series) {
    const color = COLORS[sr.id] ?? '#000';
    const dash = sr.what === 'private' ? ' stroke-dasharray="6,4"' : '';
    const pts = sr.points.map((p) => `${f(x(p.t))},${f(y(p.mib))}`).join(' ');
    out.push(`<polyline class="series" data-target="${sr.id}" data-what="${sr.what}" fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts}"/>`);
    if (!ids.includes(sr.id)) {
      legend(out, ids.length, color, TARGET_LABEL[sr.id as keyof typeof TARGET_LABEL] ?? sr.id);
      ids.push(sr.id);
    }
  }
  out.push(`<text x="${W - PAD.right + 15}" y="${PAD.top + 16 + ids.length * 18}" fill="#666">solid: RSS; dashed: private</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Memory per idle connection: private memory and RSS per connection, per proxy, with min–max of runs. */
export function idleConnsChart(s: ScenarioResult): string {
  const bars = s.targets
    .filter((t) => t.status === 'ok' && t.idleConns)
    .flatMap((t) => [
      { id: t.target, what: 'private', stat: t.idleConns!.perConnectionPrivateBytes },
      { id: t.target, what: 'RSS', stat: t.idleConns!.perConnectionRssBytes },
    ])
    .map((b) => ({ ...b, median: num(b.stat.median) / 1024, min: num(b.stat.min) / 1024, max: num(b.stat.max) / 1024 }))
    .filter((b) => Number.isFinite(b.median));
  const title = `${s.title}: KiB per connection (private, RSS)`;
  if (bars.length === 0) return emptyChart(title);
  const top = niceCeil(Math.max(...bars.map((b) => b.max), 0.001));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH - (Math.max(0, v) / top) * plotH;
  const slot = plotW / bars.length;
  const out = [header(title)];
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#ddd"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${esc(si(v))} KiB</text>`);
  }
  const ids: string[] = [];
  bars.forEach((b, i) => {
    const color = COLORS[b.id] ?? '#000';
    const cx = PAD.left + slot * i + slot / 2;
    const bw = Math.min(40, slot * 0.7);
    const opacity = b.what === 'RSS' ? ' fill-opacity="0.45"' : '';
    out.push(`<rect class="bar" data-target="${b.id}" data-what="${b.what}" x="${f(cx - bw / 2)}" y="${f(y(b.median))}" width="${f(bw)}" height="${f(PAD.top + plotH - y(b.median))}" fill="${color}"${opacity}/>`);
    out.push(`<line class="whisker" x1="${f(cx)}" x2="${f(cx)}" y1="${f(y(b.min))}" y2="${f(y(b.max))}" stroke="#000"/>`);
    out.push(`<text x="${f(cx)}" y="${f(y(Math.max(b.max, b.median)) - 6)}" text-anchor="middle">${esc(si(b.median))}</text>`);
    out.push(`<text x="${f(cx)}" y="${PAD.top + plotH + 14}" text-anchor="middle">${b.what}</text>`);
    if (!ids.includes(b.id)) {
      legend(out, ids.length, color, TARGET_LABEL[b.id as keyof typeof TARGET_LABEL] ?? b.id);
      ids.push(b.id);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The smallest 1, 2 or 5 × 10^n at or above v. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

function header(title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ].join('\n');
}

function legend(out: string[], i: number, color: string, label: string): void {
  const lx = W - PAD.right + 15;
  const ly = PAD.top + 10 + i * 18;
  out.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="10" fill="${color}"/>`);
  out.push(`<text x="${lx + 15}" y="${ly + 1}">${esc(label)}</text>`);
}

function emptyChart(title: string): string {
  return `${header(title)}\n<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data (skipped or failed)</text>\n</svg>\n`;
}

function f(v: number): string {
  return v.toFixed(1);
}
