/**
 * Which rule of which route an outbound request takes, by the Gateway API's precedence: across
 * every rule of every route, the match with an Exact path, else the longest PathPrefix, else a
 * RegularExpression path (longest pattern); then a method; then the most header matches; then the
 * most query-parameter matches. Ties go to the oldest route, then the first by namespace/name
 * (the order the policy's routes arrive in), then the first rule in the route. A more specific
 * hostname wins before any of that. Pure.
 */
import { queryParam, stringMatches, type GrpcMatch, type HttpMatch, type RequestView } from '../policy/model';
import type { OutboundRoute, RouteRule } from './model';

/**
 * A match's specificity as one number, so comparing costs no allocation: from the most to the
 * least significant, host (0-999), path kind (3 exact, 2 prefix, 1 regex, 0 none), path length
 * (0-99,999), method (0/1), header matches (0-99), query matches (0-99); -1: no match.
 */
const HOST = 1e12;
const KIND = 1e10;
const LEN = 1e5;
const METHOD = 1e4;
const HEADERS = 1e2;
const cap = (n: number, max: number) => (n > max ? max : n);

const PATH_KIND = { exact: 3, prefix: 2, regex: 1 } as const;

function httpScore(m: HttpMatch, r: RequestView): number {
  if (m.path && !stringMatches(m.path, r.path)) return -1;
  if (m.method && m.method !== r.method) return -1;
  for (const h of m.headers) if (!stringMatches(h, r.header(h.name))) return -1;
  for (const q of m.query) if (!stringMatches(q, queryParam(r.query, q.name))) return -1;
  return (m.path ? PATH_KIND[m.path.kind] * KIND + cap(m.path.value.length, 99_999) * LEN : 0) + (m.method ? METHOD : 0) + cap(m.headers.length, 99) * HEADERS + cap(m.query.length, 99);
}

/** GRPCRoute: an exact service and method beat regexes and absent ones; then header matches. */
function grpcScore(m: GrpcMatch, r: RequestView): number {
  const slash = r.path.lastIndexOf('/');
  const service = r.path.slice(1, slash > 0 ? slash : undefined);
  const method = slash > 0 ? r.path.slice(slash + 1) : '';
  const one = (want: string | undefined, have: string) => want === undefined || stringMatches({ kind: m.kind, value: want }, have);
  if (!one(m.service, service) || !one(m.method, method)) return -1;
  for (const h of m.headers) if (!stringMatches(h, r.header(h.name))) return -1;
  const exact = m.kind === 'exact' ? 2 : 1;
  return (m.service ? exact : 0) * KIND + (m.method ? exact : 0) * LEN + cap(m.headers.length, 99) * HEADERS;
}

function hostScore(hosts: readonly string[], host: string): number {
  if (hosts.length === 0) return 0;
  let best = -1;
  for (const h of hosts) {
    if (h === host) return cap(1 + h.length * 2, 999);
    // `*.example.com` stands for one or more labels; a longer suffix is more specific.
    if (h.startsWith('*.') && host.length > h.length - 1 && host.endsWith(h.slice(1))) best = Math.max(best, cap(h.length * 2, 998));
  }
  return best;
}

export interface RouteMatch {
  route: OutboundRoute;
  rule: RouteRule;
}

/**
 * The route and rule for a request, or undefined (the request goes to the parent Service as it
 * would without routes). `routes` must be in precedence order between routes (orderRoutes).
 * A GRPCRoute is considered for gRPC requests only, an HTTPRoute for any.
 */
export function matchRoute(routes: readonly OutboundRoute[], grpc: boolean, r: RequestView): RouteMatch | undefined {
  let best: RouteMatch | undefined;
  let bestScore = -1;
  for (const route of routes) {
    if (route.grpc && !grpc) continue;
    const h = hostScore(route.hosts, r.host);
    if (h < 0) continue;
    for (const rule of route.rules) {
      let s = -1;
      if (route.grpc) {
        if (rule.grpc.length === 0) s = 0;
        for (const m of rule.grpc) s = Math.max(s, grpcScore(m, r));
      } else {
        if (rule.http.length === 0) s = PATH_KIND.prefix * KIND + LEN; // no matches: PathPrefix "/"
        for (const m of rule.http) s = Math.max(s, httpScore(m, r));
      }
      if (s < 0) continue;
      s += h * HOST;
      // Strictly better only: on a tie the earlier route (older, then by name) and rule keep it.
      if (s > bestScore) {
        best = { route, rule };
        bestScore = s;
      }
    }
  }
  return best;
}
