/**
 * The route layer of one outbound request: the target's policy (waited for once, briefly, on a
 * target's first request), the plan (route, backend by weight, filters), and what the protocol
 * server is asked to do (CallPolicy: rewritten heads, timeouts, retries). Retries are decided
 * here and only here: retryable answer, the route's limit, then the Service's retry budget.
 */
import type { RequestView } from '../../../core/policy/model';
import { isRetryable } from '../../../core/route/annotations';
import { RetryBudgetTracker } from '../../../core/route/budget';
import type { FailureAccrual, OutboundPolicy, RetryBudget } from '../../../core/route/model';
import { RETRY_BODY_LIMIT } from '../../../core/route/model';
import type { RouteMetrics, RouteRecorder } from '../../metrics/route-metrics';
import type { CallPolicy, HttpOutcome } from '../../protocol/call';
import { HttpProxyError } from '../../protocol/errors';
import type { LogicalDestination } from '../ingress';
import type { AccrualOptions } from '../peak-ewma';
import type { RequestHead } from '../../protocol/h1/parse-head';
import { editH1Head, editRequestHead } from './h1-head';
import { editH2Fields } from './h2-fields';
import { planRequest, withRequestOverrides, type RoutePlan } from './plan';
import type { Logger } from '../../../core/log';
import type { OutboundPolicies } from './policy-client';

/** How long a target's first request waits for the control plane's first answer. */
export const POLICY_READY_MS = 1000;

export interface RouteServices {
  policies: OutboundPolicies;
  metrics: RouteMetrics;
  budgets: RetryBudgets;
  /** Honour a request's l5d-retry-* / l5d-timeout headers (LINNET_PROXY_OUTBOUND_ALLOW_L5D_REQUEST_HEADERS). */
  allowRequestHeaders: boolean;
  log?: Logger;
}

/** One retry budget per parent Service (as Linkerd's per-route budget, but shared by its routes). */
export class RetryBudgets {
  private readonly byParent = new Map<string, { budget: RetryBudget; tracker: RetryBudgetTracker }>();
  /** A policy's tracker, found without building its parent's key on every request. */
  private readonly byPolicy = new WeakMap<OutboundPolicy, RetryBudgetTracker>();

  of(policy: OutboundPolicy): RetryBudgetTracker {
    let t = this.byPolicy.get(policy);
    if (!t) {
      const p = policy.parent;
      this.byPolicy.set(policy, (t = this.get(`${p.namespace}/${p.name}:${p.port}`, policy.budget)));
    }
    return t;
  }

  get(key: string, budget: RetryBudget): RetryBudgetTracker {
    let e = this.byParent.get(key);
    if (!e || e.budget.ratio !== budget.ratio || e.budget.minPerSecond !== budget.minPerSecond) {
      if (this.byParent.size > 10_000) this.byParent.clear();
      this.byParent.set(key, (e = { budget, tracker: new RetryBudgetTracker(budget) }));
    }
    return e.tracker;
  }
}

const accrualCache = new WeakMap<FailureAccrual, AccrualOptions>();
function accrualOf(f: FailureAccrual | undefined): AccrualOptions | undefined {
  if (!f) return undefined;
  let a = accrualCache.get(f);
  if (!a) accrualCache.set(f, (a = { consecutiveFailures: f.maxFailures, baseBackoffMs: f.minPenaltyMs, maxBackoffMs: f.maxPenaltyMs, jitter: Math.min(1, f.jitterRatio) }));
  return a;
}

const destinations = new Map<string, LogicalDestination>();
function parseAuthority(a: string): LogicalDestination {
  let d = destinations.get(a);
  if (!d) {
    if (destinations.size > 10_000) destinations.clear();
    const i = a.lastIndexOf(':');
    destinations.set(a, (d = { host: a.slice(0, i).toLowerCase(), port: Number(a.slice(i + 1)) }));
  }
  return d;
}

/** A request under a route: what the server is asked (CallPolicy) and what the call path needs. */
export class RoutedRequest implements CallPolicy {
  readonly dest: LogicalDestination;
  readonly accrual: AccrualOptions | undefined;
  readonly requestTimeoutMs: number | undefined;
  readonly attemptTimeoutMs: number | undefined;
  readonly responseTimeoutMs: number | undefined;
  readonly idleTimeoutMs: number | undefined;
  readonly retry: CallPolicy['retry'];
  readonly h1Head: CallPolicy['h1Head'];
  readonly h1ResponseHead: CallPolicy['h1ResponseHead'];
  readonly h2Request: CallPolicy['h2Request'];
  readonly h2Response: CallPolicy['h2Response'];
  /** The parsed head with the request filters applied (orig-proto builds HTTP/2 fields from it). */
  readonly editHead: ((h: RequestHead) => RequestHead) | undefined;
  /** The last attempt was answered with something retried (it counts against its endpoint). */
  lastAttemptFailed = false;
  private retries = 0;

  constructor(
    readonly plan: RoutePlan,
    policy: OutboundPolicy,
    readonly recorder: RouteRecorder,
    private readonly budget: RetryBudgetTracker,
  ) {
    this.dest = parseAuthority(plan.backend!.authority);
    this.accrual = accrualOf(policy.failureAccrual);
    this.requestTimeoutMs = plan.timeouts.requestMs;
    this.attemptTimeoutMs = plan.retry?.timeoutMs ?? plan.timeouts.backendRequestMs;
    this.responseTimeoutMs = plan.timeouts.responseMs;
    this.idleTimeoutMs = plan.timeouts.idleMs;
    // The request is its own retry policy: no object or closure per request.
    this.retry = plan.retry && plan.retry.limit > 0 ? this : undefined;
    const rw = plan.rewrite;
    const req = plan.requestHeaders;
    this.h1Head = req || rw ? (h) => editH1Head(h, req, rw) : undefined;
    this.editHead = req || rw ? (h) => editRequestHead(h, req, rw) : undefined;
    const res = plan.responseHeaders;
    this.h1ResponseHead = res ? (h) => editH1Head(h, res, undefined) : undefined;
    this.h2Request = req || rw ? (f, n) => editH2Fields(f, n, req, rw) : undefined;
    this.h2Response = res ? (f, n) => editH2Fields(f, n, res, undefined) : undefined;
  }

  readonly maxBodyBytes = RETRY_BODY_LIMIT;

  shouldRetry(status: number, grpcStatus?: number): boolean {
    const p = this.plan.retry;
    if (!p || !isRetryable(p, status, grpcStatus)) return false;
    if (this.retries >= p.limit) {
      this.recorder.limitExceeded();
      return false;
    }
    if (!this.budget.tryRetry()) {
      this.recorder.overflow();
      return false;
    }
    this.retries++;
    this.lastAttemptFailed = true;
    this.recorder.retry();
    return true;
  }

  /** An attempt goes to the backend (first or retry). */
  attempt(): void {
    this.recorder.backend(this.plan.backend!.ref);
  }

  end(o: HttpOutcome, grpc: boolean): void {
    const error = o.error === 'LINNET_HTTP_RESPONSE_TIMEOUT' ? 'REQUEST_TIMEOUT' : o.error ? 'UNEXPECTED' : '';
    const ok = !o.error && o.status > 0 && o.status < 500 && (!grpc || o.grpcStatus === undefined || o.grpcStatus === 0);
    this.recorder.end(o.status, o.grpcStatus, error, ok);
  }
}

/**
 * The route for a request to `target` ("ip:port", or "name:port" in ingress mode), or undefined
 * when the target has no policy (it goes where it would without routes). Rejects (or throws) with
 * the proxy's own answer for a redirect or a rule with no backend to send to. Synchronous once the
 * target's policy is known: a promise only while a target's first request waits for it.
 */
export function routeRequest(svc: RouteServices, target: string, kind: 'addr' | 'authority', grpc: boolean, view: RequestView, scheme: string): RoutedRequest | undefined | Promise<RoutedRequest | undefined> {
  const tp = svc.policies.ready(target, kind, POLICY_READY_MS);
  if (tp instanceof Promise) return tp.then((t) => routeUnder(svc, t.policy, target, grpc, view, scheme));
  return routeUnder(svc, tp.policy, target, grpc, view, scheme);
}

function routeUnder(svc: RouteServices, policy: OutboundPolicy | undefined, target: string, grpc: boolean, view: RequestView, scheme: string): RoutedRequest | undefined {
  if (!policy) return undefined;
  let plan = planRequest(policy, grpc, view, scheme, Math.random());
  if (svc.allowRequestHeaders) {
    const o = withRequestOverrides(plan, (n) => view.header(n));
    if (o.problems.length > 0) svc.log?.debug('l5d request headers ignored', { target, problems: o.problems.join('; ') });
    plan = o.plan;
  }
  const recorder = svc.metrics.start(grpc, plan);
  if (plan.redirect) {
    const err = new HttpProxyError(plan.redirect.status === 301 ? 'movedPermanently' : 'found', plan.redirect.location);
    err.headers = [['location', plan.redirect.location]];
    recorder.end(plan.redirect.status, undefined, '', true);
    throw err;
  }
  if (!plan.backend) {
    recorder.end(500, undefined, 'UNEXPECTED', false);
    throw new HttpProxyError('noBackend', `route ${plan.route.namespace}/${plan.route.name}: every backend weighs 0`);
  }
  const budget = svc.budgets.of(policy);
  budget.request();
  return new RoutedRequest(plan, policy, recorder, budget);
}
