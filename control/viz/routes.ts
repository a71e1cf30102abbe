/**
 * `linnet viz routes deploy/NAME` rows from two snapshots per proxy (the window's start and end),
 * with Linkerd's columns (ROUTE, SERVICE, SUCCESS, RPS, LATENCY_P50/P95/P99):
 * - outbound, the routes of the Services the workload calls, from its proxies' route metrics: a
 *   request counts once by its final status however many times it was retried, and latency is
 *   the route's whole duration (retries included) from its coarse buckets, given as the bucket's
 *   upper bound rather than a figure invented inside it; `--to` keeps the Services whose
 *   endpoints (or whose routes' backends' endpoints) are the --to resource's pods;
 * - inbound, when the workload serves: the routes of its Servers from the authorization counters
 *   (requests only: those counters do not classify responses), else one `[default]` row per
 *   authority from the golden metrics (success and exact latency).
 * `[default]` marks traffic that matched no route. Pure.
 */
import { histogramBound } from './quantile';
import type { RouteCounts, RouteId } from './route-snapshot';
import { addCounts, countsDelta, emptyCounts, inc, type Counts } from './snapshot';
import { authorityRows, ipsOf, matchesRef, windowSecs, type Ref, type StatRow, type TargetWindow } from './stat';

export type Quantile = 'p50' | 'p95' | 'p99';

export interface RouteRow extends StatRow {
  /** the route's name, or `[default]` for requests no route matched */
  route: string;
  direction: 'outbound' | 'inbound';
  /** outbound: the parent Service; inbound: the Server, or the authority without a policy */
  service: string;
  routeKind: string;
  routeNamespace: string;
  parent: { kind: string; namespace: string; name: string; port: string };
  /** inbound rows from the golden metrics: the authority the server saw */
  authority?: string;
  /** false: success and latency are not measured for this row (inbound routes) */
  classified: boolean;
  /** outbound: retries sent, and attempts by backend Service (retries included) */
  retries?: number;
  backends?: Record<string, number>;
  /** quantiles past the last finite bucket (their figure is that bound) */
  over?: Quantile[];
}

const DEFAULT = '[default]';

interface Acc {
  id: RouteId;
  namespace: string;
  counts: Counts;
  requests: number;
  retries: number;
  backends: Map<string, number>;
  secs: number;
}

function deltaOf(cur: RouteCounts, base: RouteCounts | undefined) {
  const backends = new Map<string, number>();
  for (const [k, v] of cur.backends) backends.set(k, inc(v, base?.backends.get(k)));
  return { counts: countsDelta(cur.counts, base?.counts), requests: inc(cur.requests, base?.requests), retries: inc(cur.retries, base?.retries), backends };
}

/** `ns/name` of the Services whose endpoints are the --to resource's pods, as the caller's proxies saw them (dst_*). */
function servicesOf(to: Ref, mine: readonly TargetWindow[], windows: readonly TargetWindow[]): Set<string> {
  const ips = ipsOf(to, windows);
  const out = new Set<string>();
  for (const w of mine) {
    for (const [ip, services] of w.cur?.dstServices ?? []) if (ips.has(ip)) for (const svc of services) out.add(svc);
  }
  return out;
}

function outboundRows(mine: readonly TargetWindow[], services: Set<string> | undefined): RouteRow[] {
  const accs = new Map<string, Acc>();
  for (const w of mine) {
    if (!w.cur) continue;
    for (const [k, cur] of w.cur.routes) {
      if (cur.id.direction !== 'outbound') continue;
      const d = deltaOf(cur, w.base?.routes.get(k));
      let a = accs.get(k);
      if (!a) accs.set(k, (a = { id: cur.id, namespace: cur.id.parentNamespace || w.target.namespace, counts: emptyCounts(), requests: 0, retries: 0, backends: new Map(), secs: 0 }));
      addCounts(a.counts, d.counts);
      a.requests += d.requests;
      a.retries += d.retries;
      for (const [b, n] of d.backends) a.backends.set(b, (a.backends.get(b) ?? 0) + n);
      a.secs = Math.max(a.secs, windowSecs(w));
    }
  }
  const keep = (a: Acc) => {
    if (!services) return true;
    if (services.has(`${a.id.parentNamespace}/${a.id.parentName}`)) return true;
    return [...a.backends.keys()].some((b) => services.has(b.replace(/:[^:]*$/, '')));
  };
  return [...accs.values()].filter(keep).map((a) => {
    const id = a.id;
    const row: RouteRow = {
      name: id.routeKind === 'default' ? DEFAULT : id.routeName,
      namespace: a.namespace,
      route: id.routeKind === 'default' ? DEFAULT : id.routeName,
      direction: 'outbound',
      service: id.parentName,
      routeKind: id.routeKind,
      routeNamespace: id.routeNamespace,
      parent: { kind: id.parentKind, namespace: id.parentNamespace, name: id.parentName, port: id.parentPort },
      classified: true,
      requests: a.requests,
      success: a.counts.success,
      failure: a.counts.failure,
      retries: a.retries,
      backends: Object.fromEntries([...a.backends].filter(([, n]) => n > 0)),
    };
    if (a.secs > 0) row.rps = a.requests / a.secs;
    if (a.requests > 0) {
      row.successRate = a.counts.success / a.requests;
      row.latency = 'buckets';
      const over: Quantile[] = [];
      const finite = Math.max(...[...a.counts.buckets.keys()].filter(Number.isFinite));
      for (const [q, p] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
        const b = histogramBound(p, a.counts.buckets);
        if (b === undefined) continue;
        if (b === Infinity) over.push(q);
        row[q] = b === Infinity ? finite : b;
      }
      if (over.length > 0) row.over = over;
    }
    return row;
  });
}

function inboundRows(mine: readonly TargetWindow[]): RouteRow[] {
  // A proxy whose Servers name routes (its authorization counters): its routes, requests only.
  const byRoute = new Map<string, Acc>();
  const plain: TargetWindow[] = [];
  for (const w of mine) {
    if (!w.cur) continue;
    const routes = [...w.cur.routes].filter(([, r]) => r.id.direction === 'inbound');
    // Only the default route (a Server without routes, or the default policy): every request took
    // it, so the golden metrics' per-authority figures say more (success, latency).
    if (!routes.some(([, r]) => r.id.routeKind !== 'default')) {
      plain.push(w);
      continue;
    }
    for (const [k, cur] of routes) {
      let a = byRoute.get(k);
      if (!a) byRoute.set(k, (a = { id: cur.id, namespace: w.target.namespace, counts: emptyCounts(), requests: 0, retries: 0, backends: new Map(), secs: 0 }));
      a.requests += inc(cur.requests, w.base?.routes.get(k)?.requests);
      a.secs = Math.max(a.secs, windowSecs(w));
    }
  }
  const routed: RouteRow[] = [...byRoute.values()].map((a) => {
    const id = a.id;
    const route = id.routeKind === 'default' ? DEFAULT : id.routeName;
    return {
      name: route,
      namespace: a.namespace,
      route,
      direction: 'inbound',
      service: id.parentName,
      routeKind: id.routeKind,
      routeNamespace: id.routeNamespace,
      parent: { kind: id.parentKind, namespace: id.parentNamespace, name: id.parentName, port: id.parentPort },
      classified: false,
      requests: a.requests,
      success: 0,
      failure: 0,
      ...(a.secs > 0 ? { rps: a.requests / a.secs } : {}),
    };
  });
  // Without a policy nothing names a route: one [default] row per authority, from the golden metrics.
  const byAuthority: RouteRow[] = authorityRows({ kind: 'authority' }, plain).map((r) => ({
    ...r,
    route: DEFAULT,
    direction: 'inbound',
    service: r.name,
    authority: r.name,
    routeKind: 'default',
    routeNamespace: '',
    parent: { kind: '', namespace: '', name: '', port: /:(\d+)$/.exec(r.name)?.[1] ?? '' },
    classified: true,
  }));
  return [...routed, ...byAuthority];
}

const order = (r: RouteRow) => `${r.direction === 'outbound' ? 0 : 1}\0${r.service}\0${r.parent.port.padStart(5, '0')}\0${r.route === DEFAULT ? '\uffff' : r.route}`;

export interface RouteQuery {
  ref: Ref;
  /** only outbound routes towards this resource */
  to?: Ref;
}

export function routeRows(q: RouteQuery, windows: readonly TargetWindow[]): RouteRow[] {
  const mine = windows.filter((w) => matchesRef(q.ref, w.target));
  const rows = [...outboundRows(mine, q.to ? servicesOf(q.to, mine, windows) : undefined), ...(q.to ? [] : inboundRows(mine))];
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}
