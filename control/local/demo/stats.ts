/**
 * The demo's golden numbers per workload, as pure functions over the proxies' own /metrics (the
 * way `linkerd viz stat` reads them): a snapshot of one proxy, the delta between two snapshots
 * (counters that went down mean a restart and count from zero), deltas summed over a workload's
 * replicas, and from that success rate, RPS and latency percentiles interpolated in the
 * `response_latency_ms` buckets (Prometheus' histogram_quantile). No I/O here.
 */
import type { Sample } from '../pods/prom-text';
import { histogramQuantile } from '../../viz/quantile';

/** One proxy's cumulative numbers at one scrape. */
export interface ProxySnapshot {
  /** ms timestamp of the scrape */
  at: number;
  /** responses on the side the row is about (inbound for a server workload), by classification */
  success: number;
  failure: number;
  /** cumulative counts of `response_latency_ms_bucket` on that side, by upper bound `le` (Infinity for +Inf) */
  buckets: Map<number, number>;
  /** connections accepted from clients and still open, both directions */
  tcpOpen: number;
  /** inbound requests and accepted connections whose metrics say tls="true" (ever) */
  inboundTls: number;
  /** outbound connections the proxy opened with mTLS (tls="true", peer="dst"), per target_addr (ever) */
  outboundTls: Map<string, number>;
}

export type Side = 'inbound' | 'outbound';

export function proxySnapshot(samples: readonly Sample[], at: number, side: Side = 'inbound'): ProxySnapshot {
  const snap: ProxySnapshot = { at, success: 0, failure: 0, buckets: new Map(), tcpOpen: 0, inboundTls: 0, outboundTls: new Map() };
  for (const s of samples) {
    const l = s.labels;
    switch (s.name) {
      case 'response_total':
        if (l.direction !== side) break;
        if (l.classification === 'success') snap.success += s.value;
        else snap.failure += s.value;
        if (side === 'inbound' && l.tls === 'true') snap.inboundTls += s.value;
        break;
      case 'response_latency_ms_bucket': {
        if (l.direction !== side || l.le === undefined) break;
        const le = l.le === '+Inf' ? Infinity : Number(l.le);
        snap.buckets.set(le, (snap.buckets.get(le) ?? 0) + s.value);
        break;
      }
      case 'tcp_open_connections':
        if (l.peer === 'src') snap.tcpOpen += s.value;
        break;
      case 'tcp_open_total':
        if (l.tls !== 'true') break;
        if (l.direction === 'inbound' && l.peer === 'src') snap.inboundTls += s.value;
        if (l.direction === 'outbound' && l.peer === 'dst' && l.target_addr) snap.outboundTls.set(l.target_addr, (snap.outboundTls.get(l.target_addr) ?? 0) + s.value);
        break;
    }
  }
  return snap;
}

/** What happened between two scrapes (or over a whole run), summable across replicas. */
export interface Delta {
  /** seconds covered (for a sum over replicas: the longest of them) */
  secs: number;
  success: number;
  failure: number;
  buckets: Map<number, number>;
  inboundTls: number;
  outboundTls: Map<string, number>;
}

export const emptyDelta = (): Delta => ({ secs: 0, success: 0, failure: 0, buckets: new Map(), inboundTls: 0, outboundTls: new Map() });

/** A counter's increase; one that went down was reset (proxy restart) and counts from zero. */
const inc = (cur: number, prev: number | undefined) => (prev === undefined ? 0 : cur >= prev ? cur - prev : cur);

function mapDelta(cur: Map<string, number>, prev: Map<string, number>): Map<string, number>;
function mapDelta(cur: Map<number, number>, prev: Map<number, number>): Map<number, number>;
function mapDelta<K>(cur: Map<K, number>, prev: Map<K, number>): Map<K, number> {
  const out = new Map<K, number>();
  for (const [k, v] of cur) out.set(k, inc(v, prev.get(k) ?? 0));
  return out;
}

export function delta(prev: ProxySnapshot | undefined, cur: ProxySnapshot): Delta {
  if (!prev) return { ...emptyDelta(), secs: 0 };
  return {
    secs: Math.max((cur.at - prev.at) / 1000, 0),
    success: inc(cur.success, prev.success),
    failure: inc(cur.failure, prev.failure),
    buckets: mapDelta(cur.buckets, prev.buckets),
    inboundTls: inc(cur.inboundTls, prev.inboundTls),
    outboundTls: mapDelta(cur.outboundTls, prev.outboundTls),
  };
}

function addMap<K>(a: Map<K, number>, b: Map<K, number>): Map<K, number> {
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

export function addDeltas(ds: readonly Delta[]): Delta {
  return ds.reduce<Delta>(
    (a, d) => ({
      secs: Math.max(a.secs, d.secs),
      success: a.success + d.success,
      failure: a.failure + d.failure,
      buckets: addMap(a.buckets, d.buckets),
      inboundTls: a.inboundTls + d.inboundTls,
      outboundTls: addMap(a.outboundTls, d.outboundTls),
    }),
    emptyDelta(),
  );
}

// histogramQuantile is the viz service's (one implementation of Prometheus' interpolation).
export { histogramQuantile } from '../../viz/quantile';

/** One row of the table: a workload's golden numbers over a window. */
export interface Stat {
  name: string;
  /** proxies ready / pods */
  meshed: number;
  pods: number;
  /** undefined: no responses in the window ("-" in the table) */
  successRate?: number;
  rps?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  tcpConn: number;
  /** requests in the window */
  requests: number;
}

export function stat(name: string, meshed: number, pods: number, d: Delta, tcpConn: number): Stat {
  const requests = d.success + d.failure;
  const s: Stat = { name, meshed, pods, tcpConn, requests };
  if (requests > 0) {
    s.successRate = d.success / requests;
    s.p50 = histogramQuantile(0.5, d.buckets);
    s.p95 = histogramQuantile(0.95, d.buckets);
    s.p99 = histogramQuantile(0.99, d.buckets);
  }
  if (d.secs > 0) s.rps = requests / d.secs;
  return s;
}
