/**
 * One proxy's per-route numbers at one scrape, read from its metrics: the outbound route metrics
 * (Linkerd 2.16's `outbound_{http,grpc}_route_*`, by `parent_*` and `route_*`) and, on the
 * inbound side, the routes the authorization counters name (`inbound_http_authz_{allow,deny}_total`
 * by `srv_*` and `route_*`). Pure; snapshot.ts calls it for every sample.
 */
import type { Labels } from '../../core/prom-text';

/** As snapshot.ts' Counts (declared here too so that the two modules do not import each other). */
export interface Counts {
  success: number;
  failure: number;
  /** cumulative counts by upper bound (ms; Infinity for +Inf) */
  buckets: Map<number, number>;
}
const emptyCounts = (): Counts => ({ success: 0, failure: 0, buckets: new Map() });

/** Metric names the route view reads (the Prometheus source asks for these too). */
export const ROUTE_METRICS = [
  'outbound_http_route_request_statuses_total',
  'outbound_grpc_route_request_statuses_total',
  'outbound_http_route_request_duration_seconds_bucket',
  'outbound_grpc_route_request_duration_seconds_bucket',
  'outbound_http_route_retry_requests_total',
  'outbound_grpc_route_retry_requests_total',
  'outbound_http_route_backend_requests_total',
  'outbound_grpc_route_backend_requests_total',
  'inbound_http_authz_allow_total',
  'inbound_http_authz_deny_total',
];

export interface RouteId {
  direction: 'outbound' | 'inbound';
  protocol: 'http' | 'grpc';
  /** outbound: the Service (parent_*); inbound: the Server (srv_kind, srv_name) */
  parentKind: string;
  parentNamespace: string;
  parentName: string;
  parentPort: string;
  /** `default` for the route a request gets when no route matched */
  routeKind: string;
  routeNamespace: string;
  routeName: string;
}

export interface RouteCounts {
  id: RouteId;
  /**
   * Requests by their final status (a retried request once), with the duration histogram in ms;
   * outbound only: the inbound authorization counters do not classify responses.
   */
  counts: Counts;
  /** requests seen (outbound: success + failure; inbound: authorized and denied) */
  requests: number;
  /** retries sent (outbound) */
  retries: number;
  /** attempts per backend Service (`namespace/name:port`), retries included (outbound) */
  backends: Map<string, number>;
}

const routeKey = (id: RouteId) => [id.direction, id.protocol, id.parentKind, id.parentNamespace, id.parentName, id.parentPort, id.routeKind, id.routeNamespace, id.routeName].join('\0');

function outboundId(protocol: 'http' | 'grpc', l: Labels): RouteId {
  return {
    direction: 'outbound',
    protocol,
    parentKind: l.parent_kind ?? '',
    parentNamespace: l.parent_namespace ?? '',
    parentName: l.parent_name ?? '',
    parentPort: l.parent_port ?? '',
    routeKind: l.route_kind ?? '',
    routeNamespace: l.route_namespace ?? '',
    routeName: l.route_name ?? '',
  };
}

function inboundId(l: Labels): RouteId {
  return {
    direction: 'inbound',
    protocol: 'http',
    parentKind: l.srv_kind ?? '',
    parentNamespace: '',
    parentName: l.srv_name ?? '',
    parentPort: /:(\d+)$/.exec(l.target_addr ?? '')?.[1] ?? '',
    routeKind: l.route_kind ?? '',
    routeNamespace: '',
    routeName: l.route_name ?? '',
  };
}

/**
 * Whether a final status is a success, as the proxy classifies a route's request: no error, an
 * HTTP status below 500, and for gRPC an OK status (or none: an HTTP answer without one).
 */
export function routeSuccess(protocol: 'http' | 'grpc', l: Labels): boolean {
  if (l.error) return false;
  if (protocol === 'grpc') return l.grpc_status === undefined || l.grpc_status === '' || l.grpc_status === '0';
  const s = Number(l.http_status);
  return Number.isInteger(s) && s > 0 && s < 500;
}

function entry(m: Map<string, RouteCounts>, id: RouteId): RouteCounts {
  const k = routeKey(id);
  let r = m.get(k);
  if (!r) m.set(k, (r = { id, counts: emptyCounts(), requests: 0, retries: 0, backends: new Map() }));
  return r;
}

/** Adds one sample to `routes` (keyed by the route's identity); false when it is not a route metric. */
export function addRouteSample(routes: Map<string, RouteCounts>, name: string, l: Labels, v: number): boolean {
  const m = /^outbound_(http|grpc)_route_(request_statuses_total|request_duration_seconds_bucket|retry_requests_total|backend_requests_total)$/.exec(name);
  if (m) {
    const protocol = m[1] as 'http' | 'grpc';
    const r = entry(routes, outboundId(protocol, l));
    switch (m[2]) {
      case 'request_statuses_total':
        if (routeSuccess(protocol, l)) r.counts.success += v;
        else r.counts.failure += v;
        r.requests += v;
        break;
      case 'request_duration_seconds_bucket': {
        if (l.le === undefined) break;
        // Seconds on the wire; the views compute in milliseconds, as response_latency_ms.
        const le = l.le === '+Inf' ? Infinity : Number(l.le) * 1000;
        r.counts.buckets.set(le, (r.counts.buckets.get(le) ?? 0) + v);
        break;
      }
      case 'retry_requests_total':
        r.retries += v;
        break;
      case 'backend_requests_total': {
        const b = `${l.backend_namespace ?? ''}/${l.backend_name ?? ''}:${l.backend_port ?? ''}`;
        r.backends.set(b, (r.backends.get(b) ?? 0) + v);
        break;
      }
    }
    return true;
  }
  if (name === 'inbound_http_authz_allow_total' || name === 'inbound_http_authz_deny_total') {
    entry(routes, inboundId(l)).requests += v;
    return true;
  }
  return false;
}
