/**
 * Loads core/api/outbound.proto (the outbound policy API) and converts between its messages and
 * the compiled outbound policy (core/route/model.ts). Shared by the control plane's server and
 * the proxy's client; the proxy checks what it receives (fromPbOutbound throws PolicyMessageError)
 * and keeps its last policy when a message is bad.
 */
import type * as grpc from '@grpc/grpc-js';
import { loadProto } from './grpc-load';
import type { GrpcMatch, HttpMatch } from '../policy/model';
import type { Backend, FailureAccrual, Filter, HeaderEdit, OutboundPolicy, OutboundRoute, PathRewrite, ResourceRef, RetryPolicy, RouteRule, Timeouts } from '../route/model';
import { DEFAULT_BUDGET } from '../route/model';
import { LOADER_OPTIONS } from './destination';
import { hdrFromPb, hdrToPb, PolicyMessageError, strFromPb, strToPb, type PbGrpcMatch, type PbHttpMatch } from './inbound';
import { protoFile } from './proto-file';

let cached: grpc.GrpcObject | undefined;

export function outboundClientConstructor(): grpc.ServiceClientConstructor {
  if (!cached) cached = loadProto(protoFile('outbound.proto'), LOADER_OPTIONS);
  return ((cached['linnet'] as grpc.GrpcObject)['outbound'] as grpc.GrpcObject)['OutboundPolicies'] as grpc.ServiceClientConstructor;
}

export function outboundServiceDefinition(): grpc.ServiceDefinition {
  return outboundClientConstructor().service;
}

export interface PbTrafficSpec {
  source_workload: string;
  target?: 'addr' | 'authority';
  addr?: string;
  authority?: string;
}

type PbMeta = { group: string; kind: string; namespace: string; name: string; port: number };
type PbHeaderEdit = { set: { name: string; value: string }[]; add: { name: string; value: string }[]; remove: string[] };
type PbPath = { replace?: 'full' | 'prefix'; full?: string; prefix?: string } | null;
type PbFilter = {
  kind?: string;
  request_header_modifier?: PbHeaderEdit | null;
  response_header_modifier?: PbHeaderEdit | null;
  request_redirect?: { scheme: string; host: string; path?: PbPath; port: number; status: number } | null;
  url_rewrite?: { host: string; path?: PbPath } | null;
};
type PbRetry = { limit: number; statuses: { start: number; end: number }[]; grpc_codes: number[]; timeout_ms: number } | null;
type PbTimeouts = { request_ms: number; response_ms: number; idle_ms: number; backend_request_ms: number } | null;
type PbRule = { matches: PbHttpMatch[]; grpc_matches: PbGrpcMatch[]; filters: PbFilter[]; backends: { metadata?: PbMeta | null; authority: string; weight: number; filters?: PbFilter[] }[]; timeouts?: PbTimeouts; retry?: PbRetry };
type PbRoute = { metadata?: PbMeta | null; created: string; hosts: string[]; grpc: boolean; rules: PbRule[] };
export interface PbOutboundPolicy {
  found: boolean;
  metadata?: PbMeta | null;
  authority: string;
  routes: PbRoute[];
  retry?: PbRetry;
  timeouts?: PbTimeouts;
  failure_accrual?: { max_failures: number; min_penalty_ms: number; max_penalty_ms: number; jitter_ratio: number } | null;
  budget?: { ratio: number; min_per_second: number } | null;
}

export const NOT_FOUND: PbOutboundPolicy = { found: false, authority: '', routes: [] };

// ---- to the wire ----

const metaToPb = (r: ResourceRef): PbMeta => ({ ...r });
const editToPb = (e: HeaderEdit): PbHeaderEdit => ({ set: e.set.map(([name, value]) => ({ name, value })), add: e.add.map(([name, value]) => ({ name, value })), remove: [...e.remove] });
const pathToPb = (p: PathRewrite | undefined): PbPath => (p ? { [p.kind]: p.value } : null);
const retryToPb = (r: RetryPolicy | undefined): PbRetry =>
  r ? { limit: r.limit, statuses: r.statuses.map(([start, end]) => ({ start, end })), grpc_codes: [...r.grpcCodes], timeout_ms: Math.round(r.timeoutMs ?? 0) } : null;
const timeoutsToPb = (t: Timeouts): PbTimeouts => ({ request_ms: Math.round(t.requestMs ?? 0), response_ms: Math.round(t.responseMs ?? 0), idle_ms: Math.round(t.idleMs ?? 0), backend_request_ms: Math.round(t.backendRequestMs ?? 0) });

function filterToPb(f: Filter): PbFilter {
  switch (f.kind) {
    case 'requestHeaderModifier':
      return { request_header_modifier: editToPb(f) };
    case 'responseHeaderModifier':
      return { response_header_modifier: editToPb(f) };
    case 'requestRedirect':
      return { request_redirect: { scheme: f.scheme ?? '', host: f.hostname ?? '', path: pathToPb(f.path), port: f.port ?? 0, status: f.status } };
    case 'urlRewrite':
      return { url_rewrite: { host: f.hostname ?? '', path: pathToPb(f.path) } };
  }
}

function ruleToPb(r: RouteRule): PbRule {
  return {
    matches: r.http.map((m) => ({ path: m.path ? strToPb(m.path) : null, headers: m.headers.map(hdrToPb), query_params: m.query.map(hdrToPb), method: m.method ?? '' })),
    grpc_matches: r.grpc.map((m) => ({ service: m.service ?? '', method: m.method ?? '', regex: m.kind === 'regex', headers: m.headers.map(hdrToPb) })),
    filters: r.filters.map(filterToPb),
    backends: r.backends.map((b) => ({ metadata: metaToPb(b.ref), authority: b.authority, weight: b.weight, filters: (b.filters ?? []).map(filterToPb) })),
    timeouts: timeoutsToPb(r.timeouts),
    retry: retryToPb(r.retry),
  };
}

export function toPbOutbound(p: OutboundPolicy): PbOutboundPolicy {
  const fa = p.failureAccrual;
  return {
    found: true,
    metadata: metaToPb(p.parent),
    authority: p.authority,
    routes: p.routes.map((r) => ({ metadata: metaToPb(r.ref), created: r.created, hosts: [...r.hosts], grpc: r.grpc, rules: r.rules.map(ruleToPb) })),
    retry: retryToPb(p.defaults.retry),
    timeouts: timeoutsToPb(p.defaults.timeouts),
    failure_accrual: fa ? { max_failures: fa.maxFailures, min_penalty_ms: fa.minPenaltyMs, max_penalty_ms: fa.maxPenaltyMs, jitter_ratio: fa.jitterRatio } : null,
    budget: { ratio: p.budget.ratio, min_per_second: p.budget.minPerSecond },
  };
}

// ---- from the wire, checked ----

function metaFromPb(m: PbMeta | null | undefined, where: string): ResourceRef {
  if (!m || !m.kind || !m.name) throw new PolicyMessageError(`${where}.metadata: kind and name are required`);
  return { group: m.group, kind: m.kind, namespace: m.namespace, name: m.name, port: m.port };
}
const editFromPb = (e: PbHeaderEdit | null | undefined): HeaderEdit => ({
  set: (e?.set ?? []).map((h) => [h.name.toLowerCase(), h.value] as const),
  add: (e?.add ?? []).map((h) => [h.name.toLowerCase(), h.value] as const),
  remove: (e?.remove ?? []).map((n) => n.toLowerCase()),
});
function pathFromPb(p: PbPath | undefined): PathRewrite | undefined {
  if (!p) return undefined;
  if (p.full !== undefined && p.replace !== 'prefix') return { kind: 'full', value: p.full };
  if (p.prefix !== undefined) return { kind: 'prefix', value: p.prefix };
  return undefined;
}
function retryFromPb(r: PbRetry | undefined, where: string): RetryPolicy | undefined {
  if (!r) return undefined;
  if (r.limit > 100) throw new PolicyMessageError(`${where}.limit: ${r.limit} is over 100`);
  return { limit: r.limit, statuses: r.statuses.map((s) => [s.start, s.end] as const), grpcCodes: [...r.grpc_codes], ...(r.timeout_ms > 0 ? { timeoutMs: r.timeout_ms } : {}) };
}
function timeoutsFromPb(t: PbTimeouts | undefined): Timeouts {
  const out: Timeouts = {};
  if (t?.request_ms) out.requestMs = t.request_ms;
  if (t?.response_ms) out.responseMs = t.response_ms;
  if (t?.idle_ms) out.idleMs = t.idle_ms;
  if (t?.backend_request_ms) out.backendRequestMs = t.backend_request_ms;
  return out;
}
function filterFromPb(f: PbFilter, where: string): Filter {
  if (f.request_header_modifier) return { kind: 'requestHeaderModifier', ...editFromPb(f.request_header_modifier) };
  if (f.response_header_modifier) return { kind: 'responseHeaderModifier', ...editFromPb(f.response_header_modifier) };
  const rr = f.request_redirect;
  if (rr) {
    const path = pathFromPb(rr.path);
    return { kind: 'requestRedirect', status: rr.status || 302, ...(rr.scheme ? { scheme: rr.scheme } : {}), ...(rr.host ? { hostname: rr.host } : {}), ...(path ? { path } : {}), ...(rr.port ? { port: rr.port } : {}) };
  }
  const ur = f.url_rewrite;
  if (ur) {
    const path = pathFromPb(ur.path);
    return { kind: 'urlRewrite', ...(ur.host ? { hostname: ur.host } : {}), ...(path ? { path } : {}) };
  }
  throw new PolicyMessageError(`${where}: a filter of no known kind`);
}
function ruleFromPb(r: PbRule, where: string): RouteRule {
  const http: HttpMatch[] = r.matches.map((m, j) => {
    const mw = `${where}.matches[${j}]`;
    return { ...(m.path ? { path: strFromPb(m.path, `${mw}.path`) } : {}), ...(m.method ? { method: m.method } : {}), headers: m.headers.map((h) => hdrFromPb(h, `${mw}.headers`)), query: m.query_params.map((h) => hdrFromPb(h, `${mw}.query_params`)) };
  });
  const grpc: GrpcMatch[] = r.grpc_matches.map((m, j) => ({ kind: m.regex ? 'regex' : 'exact', ...(m.service ? { service: m.service } : {}), ...(m.method ? { method: m.method } : {}), headers: m.headers.map((h) => hdrFromPb(h, `${where}.grpc_matches[${j}].headers`)) }));
  const backends: Backend[] = r.backends.map((b, j) => {
    if (!/^[^:]+:\d+$/.test(b.authority)) throw new PolicyMessageError(`${where}.backends[${j}].authority: ${JSON.stringify(b.authority)} is not name:port`);
    const filters = (b.filters ?? []).map((f, k) => filterFromPb(f, `${where}.backends[${j}].filters[${k}]`));
    return { ref: metaFromPb(b.metadata, `${where}.backends[${j}]`), authority: b.authority, weight: b.weight, ...(filters.length > 0 ? { filters } : {}) };
  });
  const retry = retryFromPb(r.retry, `${where}.retry`);
  return { http, grpc, filters: r.filters.map((f, j) => filterFromPb(f, `${where}.filters[${j}]`)), backends, timeouts: timeoutsFromPb(r.timeouts), ...(retry ? { retry } : {}) };
}

/** The policy in a message; undefined when the target is not a known Service. */
export function fromPbOutbound(p: PbOutboundPolicy): OutboundPolicy | undefined {
  if (!p.found) return undefined;
  const routes: OutboundRoute[] = p.routes.map((r, i) => ({
    ref: metaFromPb(r.metadata, `routes[${i}]`),
    created: r.created,
    hosts: r.hosts.map((h) => h.toLowerCase()),
    grpc: r.grpc,
    rules: r.rules.map((x, j) => ruleFromPb(x, `routes[${i}].rules[${j}]`)),
  }));
  const retry = retryFromPb(p.retry, 'retry');
  const fa = p.failure_accrual;
  const failureAccrual: FailureAccrual | undefined = fa ? { maxFailures: Math.max(1, fa.max_failures), minPenaltyMs: fa.min_penalty_ms, maxPenaltyMs: Math.max(fa.min_penalty_ms, fa.max_penalty_ms), jitterRatio: fa.jitter_ratio } : undefined;
  return {
    parent: metaFromPb(p.metadata, 'parent'),
    authority: p.authority,
    routes,
    defaults: { timeouts: timeoutsFromPb(p.timeouts), ...(retry ? { retry } : {}) },
    ...(failureAccrual ? { failureAccrual } : {}),
    budget: p.budget ? { ratio: p.budget.ratio, minPerSecond: p.budget.min_per_second } : DEFAULT_BUDGET,
  };
}
