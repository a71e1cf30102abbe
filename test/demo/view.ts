/**
 * The demo's live view, as pure functions: a snapshot of one proxy's golden TCP metrics from its
 * own /metrics, the per-second rates between two snapshots, and the text table. No I/O here.
 */
import { sum, type Sample } from '../pods/prom-text';

export interface Snapshot {
  /** ms timestamp of the scrape */
  at: number;
  /** connections accepted from clients (peer="src"), ever */
  opened: number;
  /** connections accepted from clients and still open */
  open: number;
  /** bytes the proxy read, from both its peers */
  readBytes: number;
  /** bytes the proxy wrote, to both its peers */
  writeBytes: number;
  /** closes with an errno plus failed connects */
  errors: number;
}

export function snapshot(samples: readonly Sample[], at: number): Snapshot {
  let errors = sum(samples, 'tcp_connect_errors_total');
  for (const s of samples) if (s.name === 'tcp_close_total' && s.labels.errno) errors += s.value;
  return {
    at,
    opened: sum(samples, 'tcp_open_total', { peer: 'src' }),
    open: sum(samples, 'tcp_open_connections', { peer: 'src' }),
    readBytes: sum(samples, 'tcp_read_bytes_total'),
    writeBytes: sum(samples, 'tcp_write_bytes_total'),
    errors,
  };
}

export interface Rates {
  open: number;
  connsPerSec: number;
  inPerSec: number;
  outPerSec: number;
  errors: number;
}

/** Per-second rates from `prev` to `cur`; a counter that went down (proxy restart) counts from 0. */
export function rates(prev: Snapshot | undefined, cur: Snapshot): Rates {
  const secs = prev ? Math.max((cur.at - prev.at) / 1000, 0.001) : 1;
  const d = (a: number, b: number | undefined) => (b === undefined ? 0 : a >= b ? a - b : a);
  return {
    open: cur.open,
    connsPerSec: d(cur.opened, prev?.opened) / secs,
    inPerSec: d(cur.readBytes, prev?.readBytes) / secs,
    outPerSec: d(cur.writeBytes, prev?.writeBytes) / secs,
    errors: cur.errors,
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} ${units[0]}` : `${n.toFixed(1)} ${units[i]}`;
}

export interface ViewRow {
  name: string;
  rates: Rates;
  rss?: number;
}

const COLUMNS = ['proxy', 'open conns', 'conns/s', 'bytes in/s', 'bytes out/s', 'errors', 'RSS'] as const;

/** The table: one header, one row per proxy; fixed widths so a refresh overwrites cleanly. */
export function renderTable(rows: readonly ViewRow[], elapsedMs: number): string {
  const cells = rows.map((r) => [
    r.name,
    String(r.rates.open),
    r.rates.connsPerSec.toFixed(1),
    `${formatBytes(r.rates.inPerSec)}/s`,
    `${formatBytes(r.rates.outPerSec)}/s`,
    String(r.rates.errors),
    r.rss === undefined ? '-' : formatBytes(r.rss),
  ]);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [`linnet demo — ${(elapsedMs / 1000).toFixed(0)}s — golden TCP metrics from each proxy's /metrics (Ctrl-C to stop)`, '', line(COLUMNS), ...cells.map(line)].join('\n');
}

export interface Totals {
  name: string;
  first: Snapshot;
  last: Snapshot;
}

/** The closing summary: what each proxy carried over the whole run. */
export function renderSummary(totals: readonly Totals[], elapsedMs: number): string {
  const secs = Math.max(elapsedMs / 1000, 0.001);
  const lines = [`summary after ${secs.toFixed(1)}s:`];
  for (const t of totals) {
    const conns = t.last.opened - t.first.opened;
    const rx = t.last.readBytes - t.first.readBytes;
    const tx = t.last.writeBytes - t.first.writeBytes;
    lines.push(
      `  ${t.name}: ${conns} connections (${(conns / secs).toFixed(1)}/s), read ${formatBytes(rx)}, wrote ${formatBytes(tx)}, errors ${t.last.errors - t.first.errors}`,
    );
  }
  return lines.join('\n');
}
