/**
 * One outbound request's plan under its Service's policy: the route and rule it matched (or the
 * default route), the backend chosen by weight, the request and response filters, a redirect the
 * proxy answers itself, and the retry and timeout settings. Pure: the request view and the random
 * number are given.
 */
import type { RequestView } from '../../../core/policy/model';
import { readRouteAnnotations, RETRY_GRPC, RETRY_HTTP, RETRY_LIMIT, RETRY_TIMEOUT, TIMEOUT_REQUEST, TIMEOUT_RESPONSE } from '../../../core/route/annotations';
import { pickBackend } from '../../../core/route/backend';
import { matchRoute } from '../../../core/route/match';
import type { Backend, Filter, HeaderEdit, OutboundPolicy, PathRewrite, ResourceRef, RetryPolicy, RouteRule, Timeouts } from '../../../core/route/model';
import { merged } from '../../../core/merged';

export interface RoutePlan {
  parent: ResourceRef;
  /** The matched route; the default route (kind "default") when none matched. */
  route: ResourceRef;
  /** The backend Service; undefined when the rule's backends all weigh 0 (the request gets 500). */
  backend: { ref: ResourceRef; authority: string } | undefined;
  requestHeaders?: HeaderEdit;
  responseHeaders?: HeaderEdit;
  rewrite?: { hostname?: string; path?: string };
  /** Answered by the proxy: 301/302 with this Location. */
  redirect?: { status: number; location: string };
  retry?: RetryPolicy;
  timeouts: Timeouts;
}

const DEFAULT_ROUTES: readonly ResourceRef[] = [false, true].map((grpc) => Object.freeze({ group: '', kind: 'default', namespace: '', name: grpc ? 'grpc' : 'http', port: 0 }));
/** The route unmatched requests are counted under (one object per kind: metrics find it by identity). */
export const defaultRouteRef = (grpc: boolean): ResourceRef => DEFAULT_ROUTES[grpc ? 1 : 0]!;

/**
 * Plans that depend on nothing in the request are made once and shared: the default route's per
 * policy, and a rule's when it has no filters and at most one backend. Shared plans are never
 * changed (withRequestOverrides copies).
 */
const defaultPlans = new WeakMap<OutboundPolicy, RoutePlan[]>();
const rulePlans = new WeakMap<RouteRule, RoutePlan>();

export function planRequest(policy: OutboundPolicy, grpc: boolean, r: RequestView, scheme: string, random: number): RoutePlan {
  const m = matchRoute(policy.routes, grpc, r);
  if (!m) {
    let plans = defaultPlans.get(policy);
    if (!plans) {
      const d = (g: boolean): RoutePlan => ({ parent: policy.parent, route: defaultRouteRef(g), backend: { ref: policy.parent, authority: policy.authority }, timeouts: policy.defaults.timeouts, ...(policy.defaults.retry ? { retry: policy.defaults.retry } : {}) });
      defaultPlans.set(policy, (plans = [d(false), d(true)]));
    }
    return plans[grpc ? 1 : 0]!;
  }
  const rule = m.rule;
  const fixed = rule.filters.length === 0 && rule.backends.length <= 1 && !rule.backends[0]?.filters?.length;
  if (fixed) {
    const known = rulePlans.get(rule);
    // The parent is part of the plan: a rule object shared by two policies is planned again.
    if (known && known.parent === policy.parent) return known;
  }
  const b = rule.backends.length === 0 ? { ref: policy.parent, authority: policy.authority } : pickBackend(rule.backends, random);
  const plan: RoutePlan = { parent: policy.parent, route: m.route.ref, backend: b && { ref: b.ref, authority: b.authority }, timeouts: rule.timeouts, ...(rule.retry ? { retry: rule.retry } : {}) };
  if (fixed) {
    rulePlans.set(rule, plan);
    return plan;
  }
  for (const f of rule.filters) applyFilter(plan, f, rule, r, scheme);
  // The chosen backend's own filters, after the rule's.
  const chosen = b && 'filters' in b ? (b as Backend).filters : undefined;
  if (chosen) for (const f of chosen) applyFilter(plan, f, rule, r, scheme);
  return plan;
}

function applyFilter(plan: RoutePlan, f: Filter, rule: RouteRule, r: RequestView, scheme: string): void {
  switch (f.kind) {
    case 'requestHeaderModifier':
      plan.requestHeaders = merge(plan.requestHeaders, f);
      return;
    case 'responseHeaderModifier':
      plan.responseHeaders = merge(plan.responseHeaders, f);
      return;
    case 'urlRewrite': {
      const path = f.path ? rewritePath(f.path, rule, r.path) : undefined;
      plan.rewrite = merged(f.hostname ? { hostname: f.hostname } : {}, path !== undefined ? { path: path + (r.query ? `?${r.query}` : '') } : {});
      return;
    }
    case 'requestRedirect': {
      const host = f.hostname ?? r.host;
      const sch = f.scheme ?? scheme;
      // Gateway API: the port is kept unless given; the scheme's default port is left out.
      const port = f.port !== undefined ? f.port : undefined;
      const portText = port === undefined || (sch === 'http' && port === 80) || (sch === 'https' && port === 443) ? '' : `:${port}`;
      const path = f.path ? rewritePath(f.path, rule, r.path) : r.path;
      plan.redirect = { status: f.status, location: `${sch}://${host}${portText}${path}${r.query ? `?${r.query}` : ''}` };
      return;
    }
  }
}

function merge(a: HeaderEdit | undefined, b: HeaderEdit): HeaderEdit {
  return a ? { set: [...a.set, ...b.set], add: [...a.add, ...b.add], remove: [...a.remove, ...b.remove] } : { set: b.set, add: b.add, remove: b.remove };
}

/** ReplaceFullPath, or ReplacePrefixMatch of the rule's PathPrefix match that matched. */
function rewritePath(p: PathRewrite, rule: RouteRule, path: string): string {
  if (p.kind === 'full') return p.value;
  for (const m of rule.http) {
    if (m.path?.kind !== 'prefix') continue;
    const pre = m.path.value.length > 1 && m.path.value.endsWith('/') ? m.path.value.slice(0, -1) : m.path.value;
    if (pre === '/' || path === pre || path.startsWith(`${pre}/`)) {
      const rest = pre === '/' ? path.slice(1) : path.slice(pre.length);
      const base = p.value.endsWith('/') ? p.value.slice(0, -1) : p.value;
      const joined = rest === '' ? base || '/' : `${base}${rest.startsWith('/') ? rest : `/${rest}`}`;
      return joined === '' ? '/' : joined;
    }
  }
  return path;
}

/** Applies a header edit to name/value pairs (lower-case names): set replaces, add appends, remove drops. */
export function editHeaders(pairs: [string, string][], e: HeaderEdit): [string, string][] {
  const drop = new Set([...e.remove, ...e.set.map(([n]) => n)]);
  const out = pairs.filter(([n]) => !drop.has(n.toLowerCase()));
  for (const [n, v] of e.set) out.push([n, v]);
  for (const [n, v] of e.add) out.push([n, v]);
  return out;
}

/** Per-request overrides (Linkerd's l5d-* request headers) and the annotation each stands for. */
export const L5D_REQUEST_HEADERS: readonly (readonly [string, string])[] = [
  ['l5d-retry-http', RETRY_HTTP],
  ['l5d-retry-grpc', RETRY_GRPC],
  ['l5d-retry-limit', RETRY_LIMIT],
  ['l5d-retry-timeout', RETRY_TIMEOUT],
  ['l5d-timeout', TIMEOUT_REQUEST],
  ['l5d-response-timeout', TIMEOUT_RESPONSE],
];

/**
 * The plan with a request's own l5d-* headers over the route's retry and timeout settings (only
 * when the proxy allows them). A header that does not read leaves the plan as it was; the
 * problems are returned for a log line.
 */
export function withRequestOverrides(plan: RoutePlan, header: (name: string) => string | undefined): { plan: RoutePlan; problems: string[] } {
  const given: Record<string, string> = {};
  for (const [h, a] of L5D_REQUEST_HEADERS) {
    const v = header(h);
    if (v !== undefined) given[a] = v;
  }
  if (Object.keys(given).length === 0) return { plan, problems: [] };
  const problems: string[] = [];
  const o = readRouteAnnotations(given, problems);
  if (problems.length > 0) {
    const names = new Map(L5D_REQUEST_HEADERS.map(([h, a]) => [a, h]));
    return { plan, problems: problems.map((p) => p.replace(/^metadata\.annotations\.([^:]+)/, (_m, a: string) => `header ${names.get(a) ?? a}`)) };
  }
  const next: RoutePlan = merged(plan, { timeouts: merged(plan.timeouts, o.timeouts) });
  if (o.retry) {
    const base = plan.retry;
    next.retry = {
      limit: given[RETRY_LIMIT] !== undefined ? o.retry.limit : (base?.limit ?? o.retry.limit),
      statuses: given[RETRY_HTTP] !== undefined ? o.retry.statuses : (base?.statuses ?? []),
      grpcCodes: given[RETRY_GRPC] !== undefined ? o.retry.grpcCodes : (base?.grpcCodes ?? []),
      ...((o.retry.timeoutMs ?? base?.timeoutMs) !== undefined ? { timeoutMs: o.retry.timeoutMs ?? base!.timeoutMs! } : {}),
    };
  }
  return { plan: next, problems: [] };
}
