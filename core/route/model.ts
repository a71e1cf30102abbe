/**
 * The outbound policy of one Service port as the control plane compiles it and the proxy applies
 * it (the shape of linkerd2-proxy-api's outbound `OutboundPolicy`): the routes attached to the
 * Service (HTTPRoute, GRPCRoute with a Service parent), each rule's filters and weighted backends,
 * and the retry, timeout and failure-accrual settings from the route's or the Service's
 * annotations. Pure data; matching and choosing live beside it (match.ts, backend.ts).
 */
import type { GrpcMatch, HttpMatch } from '../policy/model';

/** A resource as metric labels name it (`parent_*`, `route_*`, `backend_*`). */
export interface ResourceRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  /** Service ports only; 0 otherwise. */
  port: number;
}

/** A Service a rule sends to: its authority (`name.ns.svc.cluster-domain:port`) and its share. */
export interface Backend {
  ref: ResourceRef;
  authority: string;
  /** Relative share; 0: never chosen. */
  weight: number;
  /** Filters applied when this backend is chosen, after the rule's (Gateway API backendRef filters). */
  filters?: readonly Filter[];
}

export interface HeaderEdit {
  /** Lower-case names. */
  set: readonly (readonly [string, string])[];
  add: readonly (readonly [string, string])[];
  remove: readonly string[];
}

export type PathRewrite = { kind: 'full'; value: string } | { kind: 'prefix'; value: string };

export type Filter =
  | ({ kind: 'requestHeaderModifier' } & HeaderEdit)
  | ({ kind: 'responseHeaderModifier' } & HeaderEdit)
  | { kind: 'requestRedirect'; scheme?: string; hostname?: string; path?: PathRewrite; port?: number; status: number }
  | { kind: 'urlRewrite'; hostname?: string; path?: PathRewrite };

/** Which responses are retried, how often, and how long each attempt may take. */
export interface RetryPolicy {
  /** Retries after the first attempt (retry.linkerd.io/limit, default 1). */
  limit: number;
  /** Inclusive HTTP status ranges that are retried. */
  statuses: readonly (readonly [number, number])[];
  /** gRPC status codes that are retried. */
  grpcCodes: readonly number[];
  /** Per attempt (retry.linkerd.io/timeout or timeouts.backendRequest); an attempt that takes longer is retried. */
  timeoutMs?: number;
}

export interface Timeouts {
  /** The whole exchange, retries included, to the response's end (timeout.linkerd.io/request, timeouts.request). */
  requestMs?: number;
  /** From the request's end to the response's end (timeout.linkerd.io/response). */
  responseMs?: number;
  /** Longest quiet time on the exchange (timeout.linkerd.io/idle). */
  idleMs?: number;
  /** Each attempt to a backend (timeouts.backendRequest); a retryable timeout is retried. */
  backendRequestMs?: number;
}

/** Linkerd's consecutive failure accrual (balancer.linkerd.io/failure-accrual: consecutive). */
export interface FailureAccrual {
  maxFailures: number;
  minPenaltyMs: number;
  maxPenaltyMs: number;
  jitterRatio: number;
}

/** Retries are at most `ratio` of the original requests, plus `minPerSecond` (Linnet's budget). */
export interface RetryBudget {
  ratio: number;
  minPerSecond: number;
}

export interface RouteRule {
  /** HTTPRoute matches (any one selects the rule); empty with no grpc: every request. */
  http: readonly HttpMatch[];
  /** GRPCRoute matches. */
  grpc: readonly GrpcMatch[];
  filters: readonly Filter[];
  /** Empty: the parent Service itself. */
  backends: readonly Backend[];
  timeouts: Timeouts;
  retry?: RetryPolicy;
}

export interface OutboundRoute {
  ref: ResourceRef;
  /** Creation order (timestamp or file order), for precedence between routes. */
  created: string;
  /** Hostnames the route is for; empty: any. */
  hosts: readonly string[];
  grpc: boolean;
  rules: readonly RouteRule[];
}

export interface OutboundPolicy {
  parent: ResourceRef;
  /** The parent Service's own authority: unmatched requests and rules without backends go there. */
  authority: string;
  /** Routes ordered by precedence between routes (oldest, then namespace/name). */
  routes: readonly OutboundRoute[];
  /** What unmatched requests get (the Service's annotations). */
  defaults: { timeouts: Timeouts; retry?: RetryPolicy };
  failureAccrual?: FailureAccrual;
  budget: RetryBudget;
}

export const DEFAULT_BUDGET: RetryBudget = Object.freeze({ ratio: 0.2, minPerSecond: 10 });
export const DEFAULT_FAILURE_ACCRUAL: FailureAccrual = Object.freeze({ maxFailures: 7, minPenaltyMs: 1000, maxPenaltyMs: 60_000, jitterRatio: 0.5 });
/** A request whose body is larger than this is not retried (it is not kept). */
export const RETRY_BODY_LIMIT = 64 * 1024;

/** Routes ordered as the Gateway API breaks ties between routes: oldest first, then namespace/name. */
export function orderRoutes(routes: readonly OutboundRoute[]): OutboundRoute[] {
  const key = (r: OutboundRoute) => `${r.ref.namespace}/${r.ref.name}`;
  return [...routes].sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
