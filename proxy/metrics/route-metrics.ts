/**
 * Outbound route metrics with Linkerd 2.16's names and labels, so `linkerd viz` style queries and
 * dashboards read them: per route (`parent_*`, `route_*`) the request statuses and durations, per
 * backend (`backend_*`) the requests sent, and the retries: attempted, succeeded, given up at the
 * limit, and refused by the budget (`_retry_overflow_total`). HTTP routes as
 * `outbound_http_route_*`, gRPC routes as `outbound_grpc_route_*`.
 */
import type { ResourceRef } from '../../core/route/model';
import { Computed, Counter, type Registry, type Sample } from './registry';

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

export class RouteMetrics {
  private readonly http: Proto;
  private readonly grpc: Proto;

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

  /** One request's recorder on its route. */
  start(grpc: boolean, l: RouteLabels): RouteRecorder {
    return new RouteRecorder(grpc ? this.grpc : this.http, grpc, { ...refLabels('parent', l.parent, true), ...refLabels('route', l.route, false) });
  }
}

export class RouteRecorder {
  private readonly t0 = performance.now();
  private retried = false;
  constructor(
    private readonly p: Proto,
    private readonly grpc: boolean,
    private readonly labels: Record<string, string>,
  ) {}

  backend(b: ResourceRef): void {
    this.p.backendRequests.inc({ ...this.labels, ...refLabels('backend', b, true) });
  }
  retry(): void {
    this.retried = true;
    this.p.retryRequests.inc(this.labels);
  }
  limitExceeded(): void {
    this.p.retryLimitExceeded.inc(this.labels);
  }
  overflow(): void {
    this.p.retryOverflow.inc(this.labels);
  }
  /** The request is over: `error` as Linkerd's (REQUEST_TIMEOUT, ...), else ''. */
  end(status: number, grpcStatus: number | undefined, error: string, success: boolean): void {
    const statusLabel = this.grpc ? { grpc_status: grpcStatus === undefined ? '' : String(grpcStatus) } : { http_status: status ? String(status) : '' };
    this.p.statuses.inc({ ...this.labels, ...statusLabel, error });
    if (this.retried && success) this.p.retrySuccesses.inc(this.labels);
    const key = JSON.stringify(this.labels);
    let d = this.p.durations.get(key);
    if (!d) this.p.durations.set(key, (d = { labels: this.labels, buckets: new Array<number>(ROUTE_DURATION_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 }));
    const s = (performance.now() - this.t0) / 1000;
    let i = ROUTE_DURATION_BUCKETS_S.findIndex((b) => s <= b);
    if (i < 0) i = ROUTE_DURATION_BUCKETS_S.length;
    d.buckets[i]!++;
    d.sum += s;
    d.count++;
  }
}

function durationSamples(name: string, m: Proto['durations']): Sample[] {
  const out: Sample[] = [];
  for (const d of m.values()) {
    let c = 0;
    for (let i = 0; i <= ROUTE_DURATION_BUCKETS_S.length; i++) {
      c += d.buckets[i]!;
      out.push({ name: `${name}_bucket`, labels: { ...d.labels, le: i < ROUTE_DURATION_BUCKETS_S.length ? String(ROUTE_DURATION_BUCKETS_S[i]) : '+Inf' }, value: c });
    }
    out.push({ name: `${name}_sum`, labels: d.labels, value: d.sum });
    out.push({ name: `${name}_count`, labels: d.labels, value: d.count });
  }
  return out;
}
