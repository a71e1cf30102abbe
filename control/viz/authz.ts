/**
 * `linnet viz authz deploy/NAME`: each Server and route of a workload with the authorizations that
 * let its traffic in, from its proxies' `inbound_{http,tcp}_authz_*` counters over the window, in
 * the columns of Linkerd's `viz authz`: ROUTE SERVER AUTHORIZATION UNAUTHORIZED SUCCESS RPS
 * LATENCY_P50 LATENCY_P95 LATENCY_P99. A row is a (Server, route, authorization) the proxies have
 * counted; the denied requests of a route are its row with no authorization (UNAUTHORIZED). TCP
 * (opaque, TLS, undetected) rows have no route and count connections. SUCCESS and the latencies
 * are the Server's (the proxy labels responses by Server, not by route or authorization), shown
 * on the rows that let traffic in. Pure (the CLI's handler is authz-command.ts).
 */
import { parseAuthzKey, serverKey, type ServerResponses } from './authz-counts';
import { histogramQuantile } from './quantile';
import { ms, pct, rps, type Output } from './render';
import { inc, mapInc } from './snapshot';
import type { Ref, TargetWindow } from './stat';

export interface AuthzRow {
  namespace: string;
  /** Linkerd's SERVER: the Server's name, or `default:<policy>` where no Server selects the port */
  server: string;
  /** the route's name; '' for TCP (connections have no route) */
  route: string;
  /** `kind/name` of the authorization; '' for the denied row */
  authorization: string;
  proto: 'http' | 'tcp';
  allowed: number;
  denied: number;
  /** per second over the window (undefined: no window yet) */
  rps?: number;
  unauthorizedRps?: number;
  /** the Server's, over the window, when this row let traffic in */
  successRate?: number;
  p50?: number;
  p95?: number;
  p99?: number;
}

function windowSecs(w: TargetWindow): number {
  if (!w.cur) return 0;
  const from = w.base?.at ?? w.cur.startedAt;
  return from === undefined ? 0 : Math.max(0, (w.cur.at - from) / 1000);
}

const serverName = (kind: string, name: string) => (kind === 'default' ? `default:${name}` : name);

export function authzRows(ref: Ref, windows: readonly TargetWindow[]): AuthzRow[] {
  const rows = new Map<string, AuthzRow>();
  const responses = new Map<string, ServerResponses>();
  let secs = 0;
  for (const w of windows) {
    if ((ref.kind === 'deploy' ? w.target.workload : w.target.pod) !== ref.name || !w.cur?.authz) continue;
    secs = Math.max(secs, windowSecs(w));
    const cur = w.cur.authz;
    const base = w.base?.authz;
    for (const [which, m, prev] of [['allow', cur.allow, base?.allow], ['deny', cur.deny, base?.deny]] as const) {
      for (const [key, v] of m) {
        const k = parseAuthzKey(key);
        let r = rows.get(key);
        if (!r) {
          r = {
            namespace: w.target.namespace,
            server: serverName(k.srvKind, k.srvName),
            route: k.proto === 'tcp' ? '' : k.routeName,
            authorization: k.authzKind ? `${k.authzKind}/${k.authzName}` : '',
            proto: k.proto,
            allowed: 0,
            denied: 0,
          };
          rows.set(key, r);
        }
        const d = inc(v, prev?.get(key));
        if (which === 'allow') r.allowed += d;
        else r.denied += d;
      }
    }
    for (const [sk, c] of cur.responses) {
      const p = base?.responses.get(sk);
      let acc = responses.get(sk);
      if (!acc) responses.set(sk, (acc = { success: 0, failure: 0, buckets: new Map() }));
      acc.success += inc(c.success, p?.success);
      acc.failure += inc(c.failure, p?.failure);
      for (const [le, n] of mapInc(c.buckets, p?.buckets)) acc.buckets.set(le, (acc.buckets.get(le) ?? 0) + n);
    }
  }
  const out: AuthzRow[] = [];
  for (const [key, r] of rows) {
    if (secs > 0) {
      r.rps = r.allowed / secs;
      r.unauthorizedRps = r.denied / secs;
    }
    const k = parseAuthzKey(key);
    const s = responses.get(serverKey(k.srvKind, k.srvName));
    if (r.proto === 'http' && r.allowed > 0 && s && s.success + s.failure > 0) {
      r.successRate = s.success / (s.success + s.failure);
      const [p50, p95, p99] = [0.5, 0.95, 0.99].map((q) => histogramQuantile(q, s.buckets));
      if (p50 !== undefined) r.p50 = p50;
      if (p95 !== undefined) r.p95 = p95;
      if (p99 !== undefined) r.p99 = p99;
    }
    out.push(r);
  }
  // As Linkerd sorts them: by Server, then route, then authorization.
  return out.sort((a, b) => a.server.localeCompare(b.server) || a.route.localeCompare(b.route) || a.authorization.localeCompare(b.authorization));
}

const HEADER = ['ROUTE', 'SERVER', 'AUTHORIZATION', 'UNAUTHORIZED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99'];

export function renderAuthz(rows: readonly AuthzRow[], output: Output): string {
  if (output === 'json') return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return 'No authorizations found.';
  const cells = (r: AuthzRow): string[] => {
    const traffic = r.allowed + r.denied > 0;
    // Linkerd's rule: a row with no traffic in the window shows '-' throughout.
    if (!traffic) return [r.route, r.server, r.authorization, '-', '-', '-', '-', '-', '-'];
    const lat = r.allowed > 0 && r.proto === 'http';
    return [r.route, r.server, r.authorization, rps(r.unauthorizedRps ?? 0), r.allowed > 0 ? pct(r.successRate) : '-', rps(r.rps ?? 0), lat ? ms(r.p50) : '-', lat ? ms(r.p95) : '-', lat ? ms(r.p99) : '-'];
  };
  // Linkerd's layout: the three names left-aligned, the figures right-aligned.
  const wide = output === 'wide';
  const header = wide ? [...HEADER, 'ALLOWED', 'DENIED', 'KIND'] : HEADER;
  const all = [header, ...rows.map((r) => (wide ? [...cells(r), String(r.allowed), String(r.denied), r.proto === 'tcp' ? 'connections' : 'requests'] : cells(r)))];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) =>
    c
      .map((x, i) => (i < 3 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!)))
      .join('   ')
      .trimEnd();
  return all.map(line).join('\n');
}
