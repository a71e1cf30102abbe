/**
 * Outbound route metrics with Linkerd 2.16's names and labels, so `linkerd viz` style queries and
 * dashboards read them: per route (`parent_*`, `route_*`) the request statuses and durations, per
 * backend (`backend_*`) the requests sent, and the retries: attempted, succeeded, given up at the
 * limit, and refused by the budget (`_retry_overflow_total`). HTTP routes as
 * `outbound_http_route_*`, gRPC routes as `outbound_grpc_route_*`.
 */
import type { ResourceRef } from '../../core/route/model';
import { Computed, Counter, type Registry, type Sample } from './registry';
import { merged } from '../../core/merged';

/** Seconds, as linkerd2-proxy's route duration histograms. */
export const ROUTE_DURATION_BUCKETS_S = [0.05, 0.5, 1, 10];

const PARENT = ['parent_group', 'parent_kind', 'parent_namespace', 'parent_name', 'parent_port', 'parent_section_name'];
const ROUTE = ['route_group', 'route_kind', 'route_namespace', 'route_name'];
const BACKEND = ['backend_group', 'backend_kind', 'backend_namespace', 'backend_name', 'backend_port', 'backend_section_name'];

export interface RouteLabels {
  parent: ResourceRef;
  route: ResourceRef;
}

const refLabels = (prefix: string, r: ResourceRef, port: boolean): Record<string, string> => ({
  [`${prefix}_group`]: r.group,
  [`${prefix}_kind`]: r.kind,
  [`${prefix}_namespace`]: r.namespace,
  [`${prefix}_name`]: r.name,
  ...(port ? { [`${prefix}_port`]: r.port ? String(r.port) : '', [`${prefix}_section_name`]: '' } : {}),
});

interface Proto {
  statuses: Counter;
  backendRequests: Counter;
  retryRequests: Counter;
  retrySuccesses: Counter;
  retryLimitExceeded: Counter;
  retryOverflow: Counter;
  durations: Map<string, { labels: Record<string, string>; buckets: number[]; sum: number; count: number }>;
}

/** One route's series, resolved once: a request on it counts without building label sets. */
interface RouteSeries {
  p: Proto;
  grpc: boolean;
  labels: Record<string, string>;
  retry: () => void;
  retrySuccess: () => void;
  limitExceeded: () => void;
  overflow: () => void;
  statuses: Map<string, () => void>;
  /** The same counters by status number, for answers without an error. */
  okStatuses: Map<number, () => void>;
  backends: Map<string, () => void>;
  backendRefs: WeakMap<ResourceRef, () => void>;
  duration: { labels: Record<string, string>; buckets: number[]; sum: number; count: number };
}

export class RouteMetrics {
  private readonly http: Proto;
  private readonly grpc: Proto;
  private readonly series = new Map<string, RouteSeries>();

  constructor(registry: Registry) {
    this.http = this.family(registry, 'http', ['http_status', 'error']);
    this.grpc = this.family(registry, 'grpc', ['grpc_status', 'error']);
  }

  private family(registry: Registry, p: 'http' | 'grpc', statusLabels: string[]): Proto {
    const n = `outbound_${p}_route`;
    const durations: Proto['durations'] = new Map();
    new Computed(registry, `${n}_request_duration_seconds`, `The time between a ${p} route's request and its response stream's end`, 'histogram', () => durationSamples(`${n}_request_duration_seconds`, durations));
    return {
      statuses: new Counter(registry, { name: `${n}_request_statuses_total`, help: `Completed ${p} route requests by their final status`, labelNames: [...PARENT, ...ROUTE, ...statusLabels] }),
      backendRequests: new Counter(registry, { name: `${n}_backend_requests_total`, help: `Requests (and retries) a ${p} route sent to each backend`, labelNames: [...PARENT, ...ROUTE, ...BACKEND] }),
      retryRequests: new Counter(registry, { name: `${n}_retry_requests_total`, help: 'Retries sent', labelNames: [...PARENT, ...ROUTE] }),
      retrySuccesses: new Counter(registry, { name: `${n}_retry_successes_total`, help: 'Requests that succeeded on a retry', labelNames: [...PARENT, ...ROUTE] }),
      retryLimitExceeded: new Counter(registry, { name: `${n}_retry_limit_exceeded_total`, help: 'Retryable failures not retried: the route\'s retry limit was reached', labelNames: [...PARENT, ...ROUTE] }),
      retryOverflow: new Counter(registry, { name: `${n}_retry_overflow_total`, help: 'Retryable failures not retried: the retry budget was spent', labelNames: [...PARENT, ...ROUTE] }),
      durations,
    };
  }

  /** Series found by the parent's and route's objects (a policy's, kept until the next policy). */
  private readonly byRef = [new WeakMap<ResourceRef, WeakMap<ResourceRef, RouteSeries>>(), new WeakMap<ResourceRef, WeakMap<ResourceRef, RouteSeries>>()];

  /** One request's recorder on its route. */
  start(grpc: boolean, l: RouteLabels): RouteRecorder {
    const refs = this.byRef[grpc ? 1 : 0]!;
    let byRoute = refs.get(l.parent);
    if (!byRoute) refs.set(l.parent, (byRoute = new WeakMap()));
    let s = byRoute.get(l.route);
    if (!s) byRoute.set(l.route, (s = this.seriesOf(grpc, l)));
    return new RouteRecorder(s);
  }

  private seriesOf(grpc: boolean, l: RouteLabels): RouteSeries {
    const key = `${grpc ? 'g' : 'h'}|${l.parent.group}/${l.parent.kind}/${l.parent.namespace}/${l.parent.name}:${l.parent.port}|${l.route.group}/${l.route.kind}/${l.route.namespace}/${l.route.name}`;
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size > 10_000) this.series.clear();
      const p = grpc ? this.grpc : this.http;
      const labels = merged(refLabels('parent', l.parent, true), refLabels('route', l.route, false));
      let duration = p.durations.get(key);
      if (!duration) p.durations.set(key, (duration = { labels, buckets: new Array<number>(ROUTE_DURATION_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 }));
      s = {
        p,
        grpc,
        labels,
        retry: p.retryRequests.bind(labels),
        retrySuccess: p.retrySuccesses.bind(labels),
        limitExceeded: p.retryLimitExceeded.bind(labels),
        overflow: p.retryOverflow.bind(labels),
        statuses: new Map(),
        okStatuses: new Map(),
        backends: new Map(),
        backendRefs: new WeakMap(),
        duration,
      };
      this.series.set(key, s);
    }
    return s;
  }
}

export class RouteRecorder {
  private readonly t0 = performance.now();
  private retried = false;
  constructor(private readonly s: RouteSeries) {}

  backend(b: ResourceRef): void {
    let inc = this.s.backendRefs.get(b);
    if (!inc) {
      const key = `${b.namespace}/${b.name}:${b.port}`;
      inc = this.s.backends.get(key);
      if (!inc) this.s.backends.set(key, (inc = this.s.p.backendRequests.bind(merged(this.s.labels, refLabels('backend', b, true)))));
      this.s.backendRefs.set(b, inc);
    }
    inc();
  }
  retry(): void {
    this.retried = true;
    this.s.retry();
  }
  limitExceeded(): void {
    this.s.limitExceeded();
  }
  overflow(): void {
    this.s.overflow();
  }
  /** The request is over: `error` as Linkerd's (REQUEST_TIMEOUT, ...), else ''. */
  end(status: number, grpcStatus: number | undefined, error: string, success: boolean): void {
    // Looked up by number when there is no error (nearly always): no string per request.
    const n = this.s.grpc ? (grpcStatus ?? -1) : status || -1;
    let inc = error === '' ? this.s.okStatuses.get(n) : undefined;
    if (!inc) {
      const code = n === -1 ? '' : String(n);
      const key = `${code}|${error}`;
      inc = this.s.statuses.get(key);
      if (!inc) this.s.statuses.set(key, (inc = this.s.p.statuses.bind(merged(this.s.labels, { [this.s.grpc ? 'grpc_status' : 'http_status']: code, error }))));
      if (error === '') this.s.okStatuses.set(n, inc);
    }
    inc();
    if (this.retried && success) this.s.retrySuccess();
    const d = this.s.duration;
    const sec = (performance.now() - this.t0) / 1000;
    let i = 0;
    while (i < ROUTE_DURATION_BUCKETS_S.length && sec > ROUTE_DURATION_BUCKETS_S[i]!) i++;
    d.buckets[i]!++;
    d.sum += sec;
    d.count++;
  }
}

function durationSamples(name: string, m: Proto['durations']): Sample[] {
  const out: Sample[] = [];
  for (const d of m.values()) {
    let c = 0;
    for (let i = 0; i <= ROUTE_DURATION_BUCKETS_S.length; i++) {
      c += d.buckets[i]!;
      out.push({ name: `${name}_bucket`, labels: merged(d.labels, { le: i < ROUTE_DURATION_BUCKETS_S.length ? String(ROUTE_DURATION_BUCKETS_S[i]) : '+Inf' }), value: c });
    }
    out.push({ name: `${name}_sum`, labels: d.labels, value: d.sum });
    out.push({ name: `${name}_count`, labels: d.labels, value: d.count });
  }
  return out;
}
