/**
 * One proxy's cumulative numbers at one scrape, read from its /metrics (and /latency), and the
 * difference between two of them. Pure: the viz service keeps a history of these and every answer
 * (stat, routes, edges, the dashboard) is a difference of two snapshots, as Prometheus' increase().
 */
import type { Sample } from '../../core/prom-text';
import { addRouteSample, type RouteCounts } from './route-snapshot';
import { authzCounts, type AuthzCounts } from './authz-counts';

/** Responses of one group: by classification, with the cumulative latency histogram (`le` → count). */
export interface Counts {
  success: number;
  failure: number;
  /** cumulative `response_latency_ms_bucket` counts by upper bound (ms; Infinity for +Inf) */
  buckets: Map<number, number>;
}

/** Connections the proxy opened to one target, by whether they were mTLS and to whom. */
export interface ConnCounts {
  /** tcp_open_total{peer="dst"} with tls="true", by server_id ('' when absent) */
  tls: Map<string, number>;
  /** tcp_open_total{peer="dst"} without TLS, by no_tls_reason */
  plain: Map<string, number>;
}

export interface ProxySnapshot {
  /** ms timestamp of the scrape */
  at: number;
  /** ms timestamp of the proxy's start (process_start_time_seconds), when it says */
  startedAt?: number;
  /** every inbound response (the workload's own row) */
  inbound: Counts;
  inboundByAuthority: Map<string, Counts>;
  /** outbound responses by target IP (the endpoint the proxy sent to) */
  outboundByIp: Map<string, Counts>;
  /** destination labels (dst_*) seen on outbound metrics, by target IP */
  dstLabels: Map<string, Record<string, string>>;
  /** `namespace/service` of every Service a target IP was reached as (dst_namespace, dst_service) */
  dstServices: Map<string, Set<string>>;
  /** outbound connections by target IP */
  connsOut: Map<string, ConnCounts>;
  /** inbound connections accepted with mTLS, by client_id */
  connsIn: Map<string, number>;
  /** inbound connections open now (tcp_open_connections{direction="inbound",peer="src"}) */
  tcpOpen: number;
  /** per route (route-snapshot.ts): outbound route metrics, inbound routes of the authorization counters */
  routes: Map<string, RouteCounts>;
  /** exact HDR latency (µs) per "direction authority" when /latency hands out its buckets */
  hdr?: Map<string, Map<number, number>>;
  /** authorization counters and the Servers' responses (viz authz) */
  authz?: AuthzCounts;
}

export const emptyCounts = (): Counts => ({ success: 0, failure: 0, buckets: new Map() });

const ipOf = (addr: string | undefined): string | undefined => {
  if (!addr) return undefined;
  const v6 = /^\[(.+)\]:\d+$/.exec(addr);
  if (v6) return v6[1];
  const i = addr.lastIndexOf(':');
  return i > 0 && addr.indexOf(':') === i ? addr.slice(0, i) : addr;
};

function countsIn<K>(m: Map<K, Counts>, k: K): Counts {
  let c = m.get(k);
  if (!c) m.set(k, (c = emptyCounts()));
  return c;
}

function connsIn(m: Map<string, ConnCounts>, k: string): ConnCounts {
  let c = m.get(k);
  if (!c) m.set(k, (c = { tls: new Map(), plain: new Map() }));
  return c;
}

const add = <K>(m: Map<K, number>, k: K, v: number) => m.set(k, (m.get(k) ?? 0) + v);

function addResponse(c: Counts, classification: string | undefined, v: number): void {
  if (classification === 'success') c.success += v;
  else c.failure += v;
}

function addBucket(c: Counts, le: string, v: number): void {
  add(c.buckets, le === '+Inf' ? Infinity : Number(le), v);
}

export function proxySnapshot(samples: readonly Sample[], at: number): ProxySnapshot {
  const s: ProxySnapshot = {
    at,
    inbound: emptyCounts(),
    inboundByAuthority: new Map(),
    outboundByIp: new Map(),
    dstLabels: new Map(),
    dstServices: new Map(),
    connsOut: new Map(),
    connsIn: new Map(),
    tcpOpen: 0,
    routes: new Map(),
  };
  for (const x of samples) {
    const l = x.labels;
    const v = x.value;
    if (!Number.isFinite(v)) continue;
    if (addRouteSample(s.routes, x.name, l, v)) continue;
    const outIp = l.direction === 'outbound' ? ipOf(l.target_addr) : undefined;
    if (outIp !== undefined && (x.name === 'response_total' || x.name === 'tcp_open_total')) {
      const dst: Record<string, string> = {};
      for (const [k, val] of Object.entries(l)) if (k.startsWith('dst_')) dst[k] = val;
      if (Object.keys(dst).length > 0) s.dstLabels.set(outIp, { ...s.dstLabels.get(outIp), ...dst });
      // One pod can be an endpoint of several Services: each is kept (routes --to reads them).
      if (dst.dst_service) {
        let set = s.dstServices.get(outIp);
        if (!set) s.dstServices.set(outIp, (set = new Set()));
        set.add(`${dst.dst_namespace ?? ''}/${dst.dst_service}`);
      }
    }
    switch (x.name) {
      case 'process_start_time_seconds':
        s.startedAt = v * 1000;
        break;
      case 'response_total':
        if (l.direction === 'inbound') {
          addResponse(s.inbound, l.classification, v);
          addResponse(countsIn(s.inboundByAuthority, l.authority ?? ''), l.classification, v);
        } else if (outIp !== undefined) addResponse(countsIn(s.outboundByIp, outIp), l.classification, v);
        break;
      case 'response_latency_ms_bucket':
        if (l.le === undefined) break;
        if (l.direction === 'inbound') {
          addBucket(s.inbound, l.le, v);
          addBucket(countsIn(s.inboundByAuthority, l.authority ?? ''), l.le, v);
        } else if (outIp !== undefined) addBucket(countsIn(s.outboundByIp, outIp), l.le, v);
        break;
      case 'tcp_open_connections':
        if (l.direction === 'inbound' && l.peer === 'src') s.tcpOpen += v;
        break;
      case 'tcp_open_total':
        if (l.direction === 'outbound' && l.peer === 'dst' && outIp !== undefined) {
          const c = connsIn(s.connsOut, outIp);
          if (l.tls === 'true') add(c.tls, l.server_id ?? '', v);
          else add(c.plain, l.no_tls_reason ?? l.tls ?? '', v);
        } else if (l.direction === 'inbound' && l.peer === 'src' && l.tls === 'true' && l.client_id) add(s.connsIn, l.client_id, v);
        break;
    }
  }
  s.authz = authzCounts(samples);
  return s;
}

/**
 * /latency's body → exact HDR counts per key, when the proxy hands out its buckets
 * (`{"inbound web:80": {"buckets": [value, count, ...], "max": n}}`); undefined when it gives
 * percentiles only (cumulative since start, so no window can be cut from them).
 */
export function latencyBuckets(body: unknown): Map<string, Map<number, number>> | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const out = new Map<string, Map<number, number>>();
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const b = (v as { buckets?: unknown } | null)?.buckets;
    if (!Array.isArray(b)) return undefined;
    const m = new Map<number, number>();
    for (let i = 0; i + 1 < b.length; i += 2) if (typeof b[i] === 'number' && typeof b[i + 1] === 'number') add(m, b[i] as number, b[i + 1] as number);
    out.set(k, m);
  }
  return out;
}

/** A counter's increase; one that went down was reset (proxy restart) and counts from zero. */
export const inc = (cur: number, prev: number | undefined): number => (prev === undefined ? cur : cur >= prev ? cur - prev : cur);

export function mapInc<K>(cur: ReadonlyMap<K, number>, prev: ReadonlyMap<K, number> | undefined): Map<K, number> {
  const out = new Map<K, number>();
  for (const [k, v] of cur) out.set(k, inc(v, prev?.get(k)));
  return out;
}

/** What happened between `prev` and `cur` (prev undefined: everything since the proxy started). */
export function countsDelta(cur: Counts, prev: Counts | undefined): Counts {
  return { success: inc(cur.success, prev?.success), failure: inc(cur.failure, prev?.failure), buckets: mapInc(cur.buckets, prev?.buckets) };
}

export function addCounts(into: Counts, c: Counts): Counts {
  into.success += c.success;
  into.failure += c.failure;
  for (const [k, v] of c.buckets) add(into.buckets, k, v);
  return into;
}
