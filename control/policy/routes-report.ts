/**
 * `linnet routes` output, pure: a Service port's compiled outbound routes as lines (offline), and
 * a proxy's route metrics (Prometheus text) as rows per parent and route (live).
 */
import type { OutboundPolicy, RetryPolicy, Timeouts } from '../../core/route/model';

const ms = (n: number | undefined) => (n === undefined ? '' : n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`);
const retryText = (r: RetryPolicy | undefined) =>
  r ? `retry ${[...r.statuses.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)), ...r.grpcCodes.map((c) => `grpc:${c}`)].join(',') || '(none)'} limit ${r.limit}${r.timeoutMs ? ` per-try ${ms(r.timeoutMs)}` : ''}` : 'no retries';
const timeoutText = (t: Timeouts) =>
  [t.requestMs && `request ${ms(t.requestMs)}`, t.backendRequestMs && `backend ${ms(t.backendRequestMs)}`, t.responseMs && `response ${ms(t.responseMs)}`, t.idleMs && `idle ${ms(t.idleMs)}`].filter(Boolean).join(', ') || 'no timeouts';

/** A Service port's routes, in precedence order, with each rule's matches, backends and settings. */
export function describeOutbound(p: OutboundPolicy): string[] {
  const out = [`Service ${p.parent.namespace}/${p.parent.name}:${p.parent.port} (${p.authority})`];
  if (p.failureAccrual) out.push(`  failure accrual: ${p.failureAccrual.maxFailures} in a row, penalty ${ms(p.failureAccrual.minPenaltyMs)}-${ms(p.failureAccrual.maxPenaltyMs)}`);
  out.push(`  retry budget: ${Math.round(p.budget.ratio * 100)}% + ${p.budget.minPerSecond}/s`);
  for (const r of p.routes) {
    out.push(`  ${r.ref.kind} ${r.ref.namespace}/${r.ref.name}${r.hosts.length ? ` hosts ${r.hosts.join(',')}` : ''}`);
    r.rules.forEach((rule, i) => {
      const matches = r.grpc
        ? rule.grpc.map((m) => `${m.service ?? '*'}/${m.method ?? '*'}${m.kind === 'regex' ? ' (regex)' : ''}`)
        : rule.http.map((m) => [m.method, m.path && `${m.path.kind} ${m.path.value}`, ...m.headers.map((h) => `header ${h.name}`), ...m.query.map((q) => `query ${q.name}`)].filter(Boolean).join(' '));
      const backends = rule.backends.length ? rule.backends.map((b) => `${b.ref.name}:${b.ref.port}=${b.weight}`).join(' ') : `${p.parent.name} (the parent)`;
      out.push(`    rule ${i}: ${matches.join(' | ') || 'every request'} → ${backends}; ${retryText(rule.retry)}; ${timeoutText(rule.timeouts)}${rule.filters.length ? `; filters ${rule.filters.map((f) => f.kind).join(',')}` : ''}`);
    });
  }
  out.push(`  default route → ${p.parent.name}; ${retryText(p.defaults.retry)}; ${timeoutText(p.defaults.timeouts)}`);
  return out;
}

export interface RouteRow {
  parent: string;
  route: string;
  requests: number;
  success: number;
  retries: number;
  retrySuccesses: number;
  limitExceeded: number;
  overflow: number;
  timeouts: number;
}

/** A proxy's outbound route counters as rows, by parent and route. */
export function routeRows(metricsText: string): RouteRow[] {
  const rows = new Map<string, RouteRow>();
  for (const line of metricsText.split('\n')) {
    const m = /^outbound_(http|grpc)_route_(request_statuses|retry_requests|retry_successes|retry_limit_exceeded|retry_overflow)_total\{(.*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const l: Record<string, string> = {};
    for (const x of m[3]!.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) l[x[1]!] = x[2]!;
    const parent = `${l['parent_namespace']}/${l['parent_name']}:${l['parent_port']}`;
    const route = `${l['route_kind']}/${l['route_name']}`;
    const key = `${parent}\u0000${route}`;
    const row = rows.get(key) ?? { parent, route, requests: 0, success: 0, retries: 0, retrySuccesses: 0, limitExceeded: 0, overflow: 0, timeouts: 0 };
    const n = Number(m[4]);
    switch (m[2]) {
      case 'request_statuses': {
        row.requests += n;
        const ok = m[1] === 'grpc' ? l['grpc_status'] === '0' && !l['error'] : !l['error'] && Number(l['http_status']) > 0 && Number(l['http_status']) < 500;
        if (ok) row.success += n;
        if (l['error'] === 'REQUEST_TIMEOUT') row.timeouts += n;
        break;
      }
      case 'retry_requests':
        row.retries += n;
        break;
      case 'retry_successes':
        row.retrySuccesses += n;
        break;
      case 'retry_limit_exceeded':
        row.limitExceeded += n;
        break;
      default:
        row.overflow += n;
    }
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => (a.parent + a.route < b.parent + b.route ? -1 : 1));
}

export function formatRouteRows(rows: readonly RouteRow[]): string {
  const head = ['SERVICE', 'ROUTE', 'REQUESTS', 'SUCCESS', 'RETRIES', 'RETRY OK', 'LIMIT', 'BUDGET', 'TIMEOUTS'];
  const cells = rows.map((r) => [r.parent, r.route, String(r.requests), r.requests ? `${((r.success / r.requests) * 100).toFixed(2)}%` : '-', String(r.retries), String(r.retrySuccesses), String(r.limitExceeded), String(r.overflow), String(r.timeouts)]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [head, ...cells].map((c) => c.map((x, i) => (i < 2 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ')).join('\n') + '\n';
}
