/**
 * The demo's live view and its verdict, as pure functions: the `linkerd viz stat`-style table
 * (one row per workload, optionally its pods indented below), the closing summary, and whether the
 * run counts as a success. No I/O here.
 */
import type { Stat } from './stats';

export const COLUMNS = ['NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN'] as const;

const dash = '-';

export function formatPercent(r: number | undefined): string {
  return r === undefined ? dash : `${(r * 100).toFixed(2)}%`;
}

export function formatRps(r: number | undefined): string {
  return r === undefined ? dash : `${r.toFixed(1)}rps`;
}

/** Milliseconds as linkerd prints them: whole ms, one decimal below 10 ms so fast paths show. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return dash;
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

export interface TableRow {
  stat: Stat;
  /** a replica line, printed indented under its workload */
  indent?: boolean;
}

function cells(s: Stat, indent: boolean): string[] {
  return [
    indent ? `  ${s.name}` : s.name,
    `${s.meshed}/${s.pods}`,
    formatPercent(s.successRate),
    formatRps(s.rps),
    formatMs(s.p50),
    formatMs(s.p95),
    formatMs(s.p99),
    String(s.tcpConn),
  ];
}

/** The table: a header and one line per row, columns padded so every line has the same width. */
export function renderTable(rows: readonly TableRow[]): string {
  const body = rows.map((r) => cells(r.stat, r.indent === true));
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('   ');
  return [line(COLUMNS), ...body.map(line)].join('\n');
}

export function renderScreen(rows: readonly TableRow[], elapsedMs: number, windowSecs: number, notes: readonly string[] = []): string {
  return [
    `linnet demo — ${Math.round(elapsedMs / 1000)}s — inbound golden metrics from each proxy's /metrics, last ${windowSecs.toFixed(1)}s (Ctrl-C to stop)`,
    '',
    renderTable(rows),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

/** Cursor to the top-left; erase to the end of the line; erase from the cursor to the end of the screen. */
const HOME = '\x1b[H';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_SCREEN_END = '\x1b[J';
const CLEAR_SCREEN = '\x1b[2J';

/**
 * One refresh of the live view as written to stdout. On a terminal it redraws in place: the
 * cursor goes home and each line overwrites the last frame's (erasing what was left of a longer
 * one), then whatever the last frame had below is erased, so nothing scrolls and nothing is pushed
 * into the scrollback (as clearing the whole screen every time does in many terminals); only the
 * `first` frame clears the screen, once. Not a terminal (a pipe, a file, a CI log): the frames
 * follow one another, a blank line between.
 */
export function renderFrame(screen: string, tty: boolean, first = false): string {
  if (!tty) return `${screen}\n\n`;
  return `${first ? CLEAR_SCREEN : ''}${HOME}${screen.split('\n').map((l) => `${l}${CLEAR_LINE_END}`).join('\n')}\n${CLEAR_SCREEN_END}`;
}

/** What the run must show to count as a success, per server workload. */
export interface WorkloadResult {
  stat: Stat;
  /** inbound requests or connections labelled tls="true" over the run */
  inboundTls: number;
  /** connections the client's proxy opened to this workload's endpoints with mTLS over the run */
  clientTls: number;
}

export interface Verdict {
  ok: boolean;
  /** one line per failed condition, empty when ok */
  problems: string[];
}

/**
 * Success: every server workload answered requests, every one of them shows mTLS, and the overall
 * success rate is at least `minSuccess`. mTLS counts when the server's inbound metrics carry
 * tls="true"; the client proxy's mTLS connections to the workload's endpoints count as well,
 * since a handshake there could only complete with the server's proxy (both sides verify).
 */
export function verdict(results: readonly WorkloadResult[], meshedPods: number, totalPods: number, minSuccess: number): Verdict {
  const problems: string[] = [];
  if (meshedPods < totalPods) problems.push(`only ${meshedPods}/${totalPods} proxies were ready`);
  let ok = 0;
  let all = 0;
  for (const r of results) {
    if (r.stat.requests === 0) problems.push(`${r.stat.name}: no requests reached it`);
    if (r.inboundTls === 0 && r.clientTls === 0) problems.push(`${r.stat.name}: no mTLS seen (no tls="true" on its inbound metrics nor on the client's connections to it)`);
    all += r.stat.requests;
    ok += (r.stat.successRate ?? 0) * r.stat.requests;
  }
  if (all > 0 && ok / all < minSuccess) problems.push(`success rate ${formatPercent(ok / all)} is below ${formatPercent(minSuccess)}`);
  return { ok: problems.length === 0, problems };
}

export function renderSummary(rows: readonly TableRow[], results: readonly WorkloadResult[], elapsedMs: number, v: Verdict): string {
  const lines = [`summary after ${(elapsedMs / 1000).toFixed(1)}s (whole run):`, renderTable(rows), ''];
  for (const r of results) {
    const where = r.inboundTls > 0 ? `tls="true" on ${r.inboundTls} inbound requests/connections` : r.clientTls > 0 ? `client proxy opened ${r.clientTls} mTLS connections to it` : 'none';
    lines.push(`mTLS ${r.stat.name}: ${where}`);
  }
  lines.push(v.ok ? 'result: OK — traffic flowed over mTLS through every proxy' : `result: FAILED\n  ${v.problems.join('\n  ')}`);
  return lines.join('\n');
}
