/**
 * HTTP golden metrics, named and labelled as linkerd2-proxy's so that Linkerd dashboards work:
 * `request_total`, `response_total` (status_code, classification, grpc_status) and the
 * `response_latency_ms` histogram with Linkerd's buckets. Recorded once per request on the way
 * through, never as a second pass.
 *
 * Latency also goes into an HDR histogram per (direction, authority), so the CLI and the bench can
 * read exact percentiles; each worker hands its non-empty buckets to the main thread to merge.
 */
import { LatencyHistogram } from './latency-histogram';
import { DstLabelBudget, type DstLabels } from './dst-labels';
import { Computed, type Registry, type Sample } from './registry';
import type { HttpOutcome } from '../protocol/call';
import { merged } from '../../core/merged';

export type { HttpOutcome };

/** Linkerd's response_latency_ms buckets (ms), as DESIGN.md fixes them. */
export const LATENCY_BUCKETS_MS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000,
];

/** The labels of one request's route through the proxy. */
export interface HttpLabels {
  direction: 'inbound' | 'outbound';
  /** The :authority or Host the client used (lower-case, port kept if given). */
  authority: string;
  /** The ip:port the proxy sent the request to. */
  target_addr: string;
  tls: string;
  no_tls_reason?: string;
  client_id?: string;
  server_id?: string;
  /** Inbound, under an authorization policy: the port's Server (or `default` and the default policy). */
  srv_kind?: string;
  srv_name?: string;
  /** Outbound: the endpoint's discovery labels as dst_* (bounded, see dst-labels.ts). */
  dst?: DstLabels;
}

/** Linkerd's rule: 5xx, a gRPC status other than OK, or no response at all is a failure. */
export function classify(o: HttpOutcome): 'success' | 'failure' {
  if (o.error !== undefined || o.status === 0 || o.status >= 500) return 'failure';
  if (o.grpcStatus !== undefined && o.grpcStatus !== 0) return 'failure';
  return 'success';
}

function clean(labels: HttpLabels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  if (labels.dst) Object.assign(out, labels.dst.labels);
  return out;
}

/**
 * One key's exact latency as a worker hands it to the main thread: the non-empty buckets as
 * [a value in the bucket, its count] pairs, flattened, and the exact maximum. Plain numbers, so
 * it crosses postMessage as it is, with no encoding or compression.
 */
export interface LatencyCounts {
  buckets: number[];
  max: number;
}

interface ResponseSeries {
  labels: Record<string, string>;
  count: number;
}

interface LatencySeries {
  labels: Record<string, string>;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

/** Everything recorded for one route (one set of route labels). */
interface Route {
  labels: Record<string, string>;
  requests: number;
  responses: Map<string, ResponseSeries>;
  latency: Map<string, LatencySeries>;
  /** The same series by outcome number (HttpMetrics.end). */
  byOutcome: Map<number, { resp: ResponseSeries; lat: LatencySeries }>;
  exact: LatencyHistogram;
}

/**
 * Counting happens in plain per-route records (one Map lookup per request), not through a
 * labelled counter's API, which builds a key from the label set on every call. The records
 * become samples only when scraped.
 */
export class HttpMetrics {
  private readonly routes = new Map<string, Route>();
  private readonly exact = new Map<string, LatencyHistogram>();
  /** The request_total, response_total and response_latency_ms series share their route's dst_* set. */
  private readonly dstBudget: DstLabelBudget;

  constructor(registry: Registry) {
    this.dstBudget = new DstLabelBudget(registry, 'request_total');
    new Computed(registry, 'request_total', 'Total count of HTTP requests', 'counter', () => this.requestValues());
    new Computed(registry, 'response_total', 'Total count of HTTP responses', 'counter', () => this.responseValues());
    new Computed(
      registry,
      'response_latency_ms',
      "Elapsed times between a request's headers being received and its response stream completing",
      'histogram',
      () => this.latencyValues(),
    );
  }

  private route(labels: HttpLabels): Route {
    const key = routeKey(labels);
    let r = this.routes.get(key);
    if (!r && labels.dst && !this.dstBudget.admit(labels.dst)) {
      // Past the cap of distinct dst_* sets: recorded without them (and counted by the budget).
      return this.route(merged(labels, { dst: undefined }));
    }
    if (!r) {
      const exactKey = `${labels.direction} ${labels.authority}`;
      let exact = this.exact.get(exactKey);
      if (!exact) this.exact.set(exactKey, (exact = new LatencyHistogram()));
      r = { labels: clean(labels), requests: 0, responses: new Map(), latency: new Map(), byOutcome: new Map(), exact };
      this.routes.set(key, r);
    }
    return r;
  }

  /** Call when a request's head has been received; returns the function that ends it. */
  start(labels: HttpLabels): (outcome: HttpOutcome) => void {
    return this.begin(this.route(labels));
  }

  /** Routes by a site object and an authority (startAt). */
  private readonly bySite = new WeakMap<object, Map<string, Route>>();

  /**
   * start() for a request whose labels other than its authority are fixed by `site` (an
   * endpoint as the outbound call path keeps it: same object, same direction, address, TLS and
   * dst_*): its series are found by the object and the authority, with no label set or key
   * string built per request. `labels(arg)` is called only the first time (a function made once,
   * not a closure per request).
   */
  startAt<A>(site: object, authority: string, labels: (arg: A) => HttpLabels, arg: A): (outcome: HttpOutcome) => void {
    let byAuthority = this.bySite.get(site);
    if (!byAuthority) this.bySite.set(site, (byAuthority = new Map()));
    let route = byAuthority.get(authority);
    if (!route) {
      route = this.route(labels(arg));
      // Authorities are the client's to choose: past this many per site, looked up the long way.
      if (byAuthority.size < 1000) byAuthority.set(authority, route);
    }
    return this.begin(route);
  }

  private begin(route: Route): (outcome: HttpOutcome) => void {
    route.requests++;
    const t0 = performance.now();
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      this.end(route, outcome, Math.floor((performance.now() - t0) * 1000));
    };
  }

  private end(route: Route, outcome: HttpOutcome, us: number): void {
    // Most answers have no error and a 3-digit status (and a small gRPC status): their series are
    // found by one number, with no key string built per request.
    const g = outcome.grpcStatus;
    const fast = outcome.error === undefined && outcome.status < 1000 && (g === undefined || (g >= 0 && g < 100 && Number.isInteger(g)));
    const n = fast ? outcome.status + (g === undefined ? 0 : (g + 1) * 1000) : -1;
    let series = fast ? route.byOutcome.get(n) : undefined;
    if (!series) {
      series = this.seriesOf(route, outcome);
      if (fast) route.byOutcome.set(n, series);
    }
    series.resp.count++;
    const lat = series.lat;
    const ms = us / 1000;
    let b = 0;
    while (b < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[b]!) b++;
    lat.buckets[b]!++;
    lat.sum += ms;
    lat.count++;
    route.exact.recordValue(Math.max(1, us));
  }

  private seriesOf(route: Route, outcome: HttpOutcome): { resp: ResponseSeries; lat: LatencySeries } {
    const status = outcome.status === 0 ? '' : String(outcome.status);
    const classification = classify(outcome);
    const grpc = outcome.grpcStatus === undefined ? undefined : String(outcome.grpcStatus);
    const rkey = `${status}\0${classification}\0${grpc ?? ''}\0${outcome.error ?? ''}`;
    let resp = route.responses.get(rkey);
    if (!resp) {
      const l: Record<string, string> = merged(route.labels, { status_code: status, classification });
      if (grpc !== undefined) l.grpc_status = grpc;
      if (outcome.error !== undefined) l.error = outcome.error;
      route.responses.set(rkey, (resp = { labels: l, count: 0 }));
    }
    let lat = route.latency.get(status);
    if (!lat) {
      route.latency.set(status, (lat = { labels: merged(route.labels, { status_code: status }), buckets: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0), sum: 0, count: 0 }));
    }
    return { resp, lat };
  }

  private requestValues(): Sample[] {
    return [...this.routes.values()].map((r) => ({ value: r.requests, labels: r.labels }));
  }

  private responseValues(): Sample[] {
    const out: Sample[] = [];
    for (const r of this.routes.values()) for (const s of r.responses.values()) out.push({ value: s.count, labels: s.labels });
    return out;
  }

  private latencyValues(): Sample[] {
    const out: Sample[] = [];
    for (const r of this.routes.values()) {
      for (const s of r.latency.values()) {
        let cumulative = 0;
        for (let i = 0; i <= LATENCY_BUCKETS_MS.length; i++) {
          cumulative += s.buckets[i]!;
          const le = i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i]! : '+Inf';
          out.push({ name: 'response_latency_ms_bucket', labels: { le: String(le), ...s.labels }, value: cumulative });
        }
        out.push({ name: 'response_latency_ms_sum', labels: s.labels, value: s.sum });
        out.push({ name: 'response_latency_ms_count', labels: s.labels, value: s.count });
      }
    }
    return out;
  }

  /** Exact latency per "direction authority", for the main thread to merge. */
  latencySnapshot(): Record<string, LatencyCounts> {
    const out: Record<string, LatencyCounts> = {};
    for (const [k, h] of this.exact) out[k] = latencyCounts(h);
    return out;
  }
}

function routeKey(l: HttpLabels): string {
  return `${l.direction}\0${l.authority}\0${l.target_addr}\0${l.tls}\0${l.no_tls_reason ?? ''}\0${l.client_id ?? ''}\0${l.server_id ?? ''}\0${l.srv_kind ?? ''}\0${l.srv_name ?? ''}\0${l.dst?.key ?? ''}`;
}

/** A histogram's non-empty buckets and maximum, as a worker hands them over. */
export function latencyCounts(h: LatencyHistogram): LatencyCounts {
  const buckets: number[] = [];
  for (let i = 0; i < h.countsArrayLength; i++) {
    const c = h.getCountAtIndex(i);
    if (c > 0) buckets.push(h.valueFromIndex(i), c);
  }
  return { buckets, max: h.maxValue };
}

/** Merges per-worker snapshots into percentiles (µs) per key. */
/**
 * The workers' latency buckets side by side: per key, every worker's [value, count] pairs in one
 * list (a reader adds counts of equal values) and the largest maximum. Counts are cumulative
 * since each worker started, so a viewer cuts windows by subtracting two answers.
 */
export function mergeLatencyBuckets(snapshots: Record<string, LatencyCounts>[]): Record<string, LatencyCounts> {
  const out: Record<string, LatencyCounts> = {};
  for (const snap of snapshots) {
    for (const [k, part] of Object.entries(snap)) {
      const into = (out[k] ??= { buckets: [], max: 0 });
      for (const x of part.buckets) into.buckets.push(x);
      into.max = Math.max(into.max, part.max);
    }
  }
  return out;
}

export function mergeLatency(snapshots: Record<string, LatencyCounts>[]): Record<string, { count: number; p50: number; p90: number; p95: number; p99: number; p999: number; max: number }> {
  const merged = new Map<string, { h: LatencyHistogram; max: number }>();
  for (const snap of snapshots) {
    for (const [k, part] of Object.entries(snap)) {
      let into = merged.get(k);
      if (!into) merged.set(k, (into = { h: new LatencyHistogram(), max: 0 }));
      for (let i = 0; i < part.buckets.length; i += 2) into.h.recordValueWithCount(part.buckets[i]!, part.buckets[i + 1]!);
      into.max = Math.max(into.max, part.max);
    }
  }
  const out: ReturnType<typeof mergeLatency> = {};
  for (const [k, { h, max }] of merged) {
    out[k] = {
      count: h.totalCount,
      p50: h.getValueAtPercentile(50),
      p90: h.getValueAtPercentile(90),
      p95: h.getValueAtPercentile(95),
      p99: h.getValueAtPercentile(99),
      p999: h.getValueAtPercentile(99.9),
      max,
    };
  }
  return out;
}
