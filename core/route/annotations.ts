/**
 * Linkerd 2.16's route annotations (on a Service or an HTTPRoute/GRPCRoute; the route's win, per
 * group) read into a retry policy, timeouts and failure accrual, plus Linnet's retry budget.
 * Every problem is listed with the annotation's name and the accepted form; the caller refuses the
 * document. Pure.
 */
import type { FailureAccrual, RetryBudget, RetryPolicy, Timeouts } from './model';
import { DEFAULT_BUDGET, DEFAULT_FAILURE_ACCRUAL } from './model';

export const RETRY_HTTP = 'retry.linkerd.io/http';
export const RETRY_GRPC = 'retry.linkerd.io/grpc';
export const RETRY_LIMIT = 'retry.linkerd.io/limit';
export const RETRY_TIMEOUT = 'retry.linkerd.io/timeout';
export const TIMEOUT_REQUEST = 'timeout.linkerd.io/request';
export const TIMEOUT_RESPONSE = 'timeout.linkerd.io/response';
export const TIMEOUT_IDLE = 'timeout.linkerd.io/idle';
export const FAILURE_ACCRUAL = 'balancer.linkerd.io/failure-accrual';
const FA = 'balancer.linkerd.io/failure-accrual-consecutive-';
export const RETRY_BUDGET = 'retry.linnet.io/budget';

const GO_UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };
const DURATION_FORM = 'a duration such as 300ms, 10s, 1m30s';

/** A Go (and Gateway API) duration: `300ms`, `1.5s`, `1m30s`, `0s` → milliseconds, or undefined. */
export function parseGoDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/y;
  let ms = 0;
  let i = 0;
  while (i < t.length) {
    re.lastIndex = i;
    const m = re.exec(t);
    if (!m) return undefined;
    ms += Number(m[1]) * GO_UNIT_MS[m[2]!]!;
    i = re.lastIndex;
  }
  return i > 0 && Number.isFinite(ms) ? ms : undefined;
}

/** gRPC status names as Linkerd's retry.linkerd.io/grpc takes them (kebab-case; UPPER_SNAKE too). */
export const GRPC_CODES: Readonly<Record<string, number>> = {
  ok: 0, cancelled: 1, unknown: 2, 'invalid-argument': 3, 'deadline-exceeded': 4, 'not-found': 5, 'already-exists': 6,
  'permission-denied': 7, 'resource-exhausted': 8, 'failed-precondition': 9, aborted: 10, 'out-of-range': 11,
  unimplemented: 12, internal: 13, unavailable: 14, 'data-loss': 15, unauthenticated: 16,
};

export interface RouteSettings {
  retry?: RetryPolicy;
  timeouts: Timeouts;
  failureAccrual?: FailureAccrual;
  budget?: RetryBudget;
}

/** Reads the annotations; `problems` collects `metadata.annotations.<name>: why` lines. */
export function readRouteAnnotations(a: Readonly<Record<string, string>>, problems: string[]): RouteSettings {
  const bad = (name: string, why: string) => problems.push(`metadata.annotations.${name}: ${why}`);
  const duration = (name: string): number | undefined => {
    const v = a[name];
    if (v === undefined) return undefined;
    const ms = parseGoDuration(v);
    if (ms === undefined || ms < 0) return void bad(name, `${JSON.stringify(v)} is not ${DURATION_FORM}`);
    return ms;
  };
  const integer = (name: string, min: number, max: number): number | undefined => {
    const v = a[name];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) return void bad(name, `${JSON.stringify(v)} is not an integer ${min}-${max}`);
    return Number(v);
  };

  const out: RouteSettings = { timeouts: {} };
  const statuses: [number, number][] = [];
  const http = a[RETRY_HTTP];
  if (http !== undefined) {
    for (const raw of http.split(',')) {
      const p = raw.trim().toLowerCase();
      if (p === '') continue;
      if (p === '5xx') statuses.push([500, 599]);
      else if (p === 'gateway-error') statuses.push([502, 504]);
      else {
        const m = /^(\d{3})(?:-(\d{3}))?$/.exec(p);
        const lo = m ? Number(m[1]) : 0;
        const hi = m?.[2] ? Number(m[2]) : lo;
        if (!m || lo < 100 || hi > 599 || lo > hi) bad(RETRY_HTTP, `${JSON.stringify(raw.trim())} is not 5xx, gateway-error, a status (503) or a range (500-504)`);
        else statuses.push([lo, hi]);
      }
    }
  }
  const grpcCodes: number[] = [];
  const grpc = a[RETRY_GRPC];
  if (grpc !== undefined) {
    for (const raw of grpc.split(',')) {
      const p = raw.trim().toLowerCase().replace(/_/g, '-');
      if (p === '') continue;
      const code = GRPC_CODES[p];
      if (code === undefined) bad(RETRY_GRPC, `${JSON.stringify(raw.trim())} is not a gRPC status name (${Object.keys(GRPC_CODES).join(', ')})`);
      else grpcCodes.push(code);
    }
  }
  const limit = integer(RETRY_LIMIT, 0, 100);
  const perTry = duration(RETRY_TIMEOUT);
  if (http !== undefined || grpc !== undefined || limit !== undefined || perTry !== undefined) {
    out.retry = { limit: limit ?? 1, statuses, grpcCodes, ...(perTry ? { timeoutMs: perTry } : {}) };
  }
  const request = duration(TIMEOUT_REQUEST);
  const response = duration(TIMEOUT_RESPONSE);
  const idle = duration(TIMEOUT_IDLE);
  // 0 means no timeout, as in Linkerd.
  if (request) out.timeouts.requestMs = request;
  if (response) out.timeouts.responseMs = response;
  if (idle) out.timeouts.idleMs = idle;

  const fa = a[FAILURE_ACCRUAL];
  if (fa !== undefined) {
    if (fa.trim() !== 'consecutive') bad(FAILURE_ACCRUAL, `${JSON.stringify(fa)} is not "consecutive"`);
    const d = DEFAULT_FAILURE_ACCRUAL;
    const jitterText = a[`${FA}jitter-ratio`];
    let jitterRatio = d.jitterRatio;
    if (jitterText !== undefined) {
      const j = Number(jitterText);
      if (!/^\s*\d*\.?\d+\s*$/.test(jitterText) || j < 0 || j > 100) bad(`${FA}jitter-ratio`, `${JSON.stringify(jitterText)} is not a number 0-100`);
      else jitterRatio = j;
    }
    out.failureAccrual = {
      maxFailures: integer(`${FA}max-failures`, 1, 1_000_000) ?? d.maxFailures,
      minPenaltyMs: duration(`${FA}min-penalty`) ?? d.minPenaltyMs,
      maxPenaltyMs: duration(`${FA}max-penalty`) ?? d.maxPenaltyMs,
      jitterRatio,
    };
    if (out.failureAccrual.minPenaltyMs > out.failureAccrual.maxPenaltyMs) bad(`${FA}min-penalty`, 'is longer than the max-penalty');
  }
  const budget = a[RETRY_BUDGET];
  if (budget !== undefined) {
    // "20%" or "0.2", optionally ",10" retries per second always allowed.
    const m = /^\s*(\d*\.?\d+)(%?)\s*(?:,\s*(\d+)\s*)?$/.exec(budget);
    const ratio = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
    if (!m || !(ratio >= 0 && ratio <= 10)) bad(RETRY_BUDGET, `${JSON.stringify(budget)} is not a ratio ("20%" or "0.2"), optionally with a floor per second ("20%,10")`);
    else out.budget = { ratio, minPerSecond: m[3] !== undefined ? Number(m[3]) : DEFAULT_BUDGET.minPerSecond };
  }
  return out;
}

/** The route's settings over the Service's, per group: a route that says anything about retries decides them. */
export function overlay(service: RouteSettings, route: RouteSettings): RouteSettings {
  const hasTimeouts = Object.keys(route.timeouts).length > 0;
  const retry = route.retry ?? service.retry;
  return { timeouts: hasTimeouts ? route.timeouts : service.timeouts, ...(retry ? { retry } : {}) };
}

/** Whether an HTTP response (status) or a gRPC status (trailers or trailers-only) is to be retried. */
export function isRetryable(p: RetryPolicy, status: number, grpcStatus: number | undefined): boolean {
  if (grpcStatus !== undefined && p.grpcCodes.includes(grpcStatus)) return true;
  for (const [lo, hi] of p.statuses) if (status >= lo && status <= hi) return true;
  return false;
}
