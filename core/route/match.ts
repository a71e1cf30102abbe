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

/** host, path kind (3 exact, 2 prefix, 1 regex, 0 none), path length, method, headers, query. */
type Score = readonly [number, number, number, number, number, number];

const PATH_KIND = { exact: 3, prefix: 2, regex: 1 } as const;

function httpScore(m: HttpMatch, r: RequestView): [number, number, number, number, number] | undefined {
  if (m.path && !stringMatches(m.path, r.path)) return undefined;
  if (m.method && m.method !== r.method) return undefined;
  for (const h of m.headers) if (!stringMatches(h, r.header(h.name))) return undefined;
  for (const q of m.query) if (!stringMatches(q, queryParam(r.query, q.name))) return undefined;
  return [m.path ? PATH_KIND[m.path.kind] : 0, m.path?.value.length ?? 0, m.method ? 1 : 0, m.headers.length, m.query.length];
}

/** GRPCRoute: an exact service and method beat regexes and absent ones; then header matches. */
function grpcScore(m: GrpcMatch, r: RequestView): [number, number, number, number, number] | undefined {
  const slash = r.path.lastIndexOf('/');
  const service = r.path.slice(1, slash > 0 ? slash : undefined);
  const method = slash > 0 ? r.path.slice(slash + 1) : '';
  const one = (want: string | undefined, have: string) => want === undefined || stringMatches({ kind: m.kind, value: want }, have);
  if (!one(m.service, service) || !one(m.method, method)) return undefined;
  for (const h of m.headers) if (!stringMatches(h, r.header(h.name))) return undefined;
  const exact = m.kind === 'exact' ? 2 : 1;
  return [m.service ? exact : 0, m.method ? exact : 0, 0, m.headers.length, 0];
}

function hostScore(hosts: readonly string[], host: string): number {
  if (hosts.length === 0) return 0;
  let best = -1;
  for (const h of hosts) {
    if (h === host) return 1 + h.length * 2;
    // `*.example.com` stands for one or more labels; a longer suffix is more specific.
    if (h.startsWith('*.') && host.length > h.length - 1 && host.endsWith(h.slice(1))) best = Math.max(best, h.length * 2);
  }
  return best;
}

function better(a: Score, b: Score): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
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
  let bestScore: Score | undefined;
  for (const route of routes) {
    if (route.grpc && !grpc) continue;
    const h = hostScore(route.hosts, r.host);
    if (h < 0) continue;
    for (const rule of route.rules) {
      let s: Score | undefined;
      if (route.grpc) {
        if (rule.grpc.length === 0) s = [h, 0, 0, 0, 0, 0];
        for (const m of rule.grpc) {
          const x = grpcScore(m, r);
          if (x && (!s || better([h, ...x], s))) s = [h, ...x];
        }
      } else {
        if (rule.http.length === 0) s = [h, PATH_KIND.prefix, 1, 0, 0, 0]; // no matches: PathPrefix "/"
        for (const m of rule.http) {
          const x = httpScore(m, r);
          if (x && (!s || better([h, ...x], s))) s = [h, ...x];
        }
      }
      // Strictly better only: on a tie the earlier route (older, then by name) and rule keep it.
      if (s && (!bestScore || better(s, bestScore))) {
        best = { route, rule };
        bestScore = s;
      }
    }
  }
  return best;
}
