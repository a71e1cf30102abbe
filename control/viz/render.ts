/**
 * `linnet viz` tables, in Linkerd's columns and number formats (`95.00%`, `9.9rps`, `3ms`, `-`
 * where there is no traffic). Pure.
 */
import type { EdgeRow } from './edges';
import type { Quantile, RouteRow } from './routes';
import type { StatRow } from './stat';

export type Output = 'table' | 'wide' | 'json';

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(2)}%`);
export const rps = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(1)}rps`);
/** Linkerd prints whole milliseconds; below 1 ms a fraction keeps fast services from reading 0ms. */
export const ms = (v: number | undefined) => (v === undefined ? '-' : v >= 10 || v === 0 ? `${Math.round(v)}ms` : `${Number(v.toPrecision(2))}ms`);

function statCells(r: StatRow, withMeshed: boolean): string[] {
  const traffic = r.requests > 0;
  return [
    r.name,
    ...(withMeshed ? [`${r.meshed ?? 0}/${r.pods ?? 0}`] : []),
    traffic ? pct(r.successRate) : '-',
    traffic ? rps(r.rps) : '-',
    traffic ? ms(r.p50) : '-',
    traffic ? ms(r.p95) : '-',
    traffic ? ms(r.p99) : '-',
    ...(withMeshed ? [String(r.tcpConn ?? 0)] : ['-']),
  ];
}

export function renderStat(rows: readonly StatRow[], output: Output, kind: string): string {
  if (output === 'json') return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return 'No traffic found.';
  const meshed = kind !== 'authority';
  const header = ['NAME', ...(meshed ? ['MESHED'] : []), 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN'];
  if (output === 'wide') {
    return table(
      ['NAMESPACE', ...header, 'REQUESTS', 'LATENCY_FROM'],
      rows.map((r) => [r.namespace, ...statCells(r, meshed), String(r.requests), r.latency ?? '-']),
    );
  }
  return table(header, rows.map((r) => statCells(r, meshed)));
}

export function renderDown(rows: readonly StatRow[]): string[] {
  return rows.flatMap((r) => (r.down ?? []).map((d) => `${r.name}: proxy not answering (${d})`));
}

export function renderEdges(rows: readonly EdgeRow[], output: Output): string {
  if (output === 'json') return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return 'No edges found.';
  const header = ['SRC', 'DST', 'SRC_NS', 'DST_NS', 'SECURED'];
  const cells = (r: EdgeRow) => [r.src, r.dst, r.srcNs, r.dstNs, r.secured ? '√' : '×'];
  if (output === 'wide') return table([...header, 'CLIENT_ID', 'SERVER_ID', 'MSG'], rows.map((r) => [...cells(r), r.clientId ?? '-', r.serverId ?? '-', r.msg || '-']));
  // Linkerd's layout: left-aligned names.
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => cells(r)[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('   ').trimEnd();
  return [line(header), ...rows.map((r) => line(cells(r)))].join('\n');
}

/** A route's latency: the upper bound of its bucket (`<=50ms`), `>10s` past the last one, exact for inbound [default] rows. */
function routeMs(r: RouteRow, q: Quantile): string {
  const v = r[q];
  if (v === undefined) return '-';
  const text = v >= 1000 && v % 1000 === 0 ? `${v / 1000}s` : ms(v);
  if (r.over?.includes(q)) return `>${text}`;
  return r.latency === 'buckets' && r.direction === 'outbound' ? `<=${text}` : text;
}

/**
 * Linkerd's `viz routes` columns, with the side of the proxy (out: routes of the Services the
 * workload calls; in: routes it serves). Success and latency `-` where not measured.
 */
export function renderRoutes(rows: readonly RouteRow[], output: Output): string {
  if (output === 'json') return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return 'No traffic found.';
  const measured = (r: RouteRow) => r.requests > 0 && r.classified;
  const header = ['ROUTE', 'SERVICE', 'DIR', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99'];
  const cells = (r: RouteRow) => [
    r.route,
    r.service,
    r.direction === 'outbound' ? 'out' : 'in',
    measured(r) ? pct(r.successRate) : '-',
    r.requests > 0 ? rps(r.rps) : '-',
    measured(r) ? routeMs(r, 'p50') : '-',
    measured(r) ? routeMs(r, 'p95') : '-',
    measured(r) ? routeMs(r, 'p99') : '-',
  ];
  if (output === 'wide') {
    const backends = (r: RouteRow) => Object.entries(r.backends ?? {}).map(([b, n]) => `${b}=${n}`).join(',') || '-';
    return table(
      [...header, 'KIND', 'NAMESPACE', 'PORT', 'REQUESTS', 'RETRIES', 'BACKENDS'],
      rows.map((r) => [...cells(r), r.routeKind || '-', r.parent.namespace || r.namespace || '-', r.parent.port || '-', String(r.requests), r.retries === undefined ? '-' : String(r.retries), backends(r)]),
    );
  }
  return table(header, rows.map(cells));
}
