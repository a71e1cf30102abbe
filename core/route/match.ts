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
 * One match of one rule, as an index entry. `seq` is the rule's place in precedence order between
 * routes and within a route (ties go to the lower). `m` undefined: a rule without matches.
 */
interface Candidate extends RouteMatch {
  route: OutboundRoute;
  rule: RouteRule;
  seq: number;
  http?: HttpMatch;
  grpc?: GrpcMatch;
}

/**
 * A route table indexed by what a request's path can rule out at once: Exact paths by value,
 * PathPrefix matches by their prefix, the rest (regex, no path, gRPC, rules without matches)
 * always tried. Every candidate the index yields is still checked in full, so the index only
 * skips matches that cannot succeed; 50 routes cost a few map lookups instead of 100 checks.
 */
interface RouteIndex {
  exact: Map<string, Candidate[]>;
  prefix: Map<string, Candidate[]>;
  always: Candidate[];
}

/** Built once per route table (a policy's routes do not change: a new policy is a new array). */
const indexes = new WeakMap<readonly OutboundRoute[], RouteIndex>();

function indexOf(routes: readonly OutboundRoute[]): RouteIndex {
  let ix = indexes.get(routes);
  if (ix) return ix;
  ix = { exact: new Map(), prefix: new Map(), always: [] };
  const add = (map: Map<string, Candidate[]>, key: string, c: Candidate) => {
    const list = map.get(key);
    if (list) list.push(c);
    else map.set(key, [c]);
  };
  let seq = 0;
  for (const route of routes) {
    for (const rule of route.rules) {
      const at = seq++;
      if (route.grpc) {
        if (rule.grpc.length === 0) ix.always.push({ route, rule, seq: at });
        for (const g of rule.grpc) ix.always.push({ route, rule, seq: at, grpc: g });
        continue;
      }
      if (rule.http.length === 0) ix.always.push({ route, rule, seq: at });
      for (const m of rule.http) {
        const c: Candidate = { route, rule, seq: at, http: m };
        const p = m.path;
        if (p?.kind === 'exact') add(ix.exact, p.value, c);
        else if (p?.kind === 'prefix' && prefixKey(p.value).length > 1) add(ix.prefix, prefixKey(p.value), c);
        else ix.always.push(c);
      }
    }
  }
  indexes.set(routes, ix);
  return ix;
}

/** A PathPrefix as stringMatches compares it: without one trailing slash. */
const prefixKey = (v: string) => (v.length > 1 && v.charCodeAt(v.length - 1) === 0x2f ? v.slice(0, -1) : v);

/**
 * The route and rule for a request, or undefined (the request goes to the parent Service as it
 * would without routes). `routes` must be in precedence order between routes (orderRoutes).
 * A GRPCRoute is considered for gRPC requests only, an HTTPRoute for any.
 */
export function matchRoute(routes: readonly OutboundRoute[], grpc: boolean, r: RequestView): RouteMatch | undefined {
  if (routes.length === 0) return undefined;
  const ix = indexOf(routes);
  const best: Best = { c: undefined, score: -1 };
  consider(ix.always, grpc, r, best);
  const path = r.path;
  if (ix.exact.size > 0) {
    const list = ix.exact.get(path);
    if (list) consider(list, grpc, r, best);
  }
  if (ix.prefix.size > 0) {
    // Every prefix a PathPrefix match could be: the path cut at each "/" and the path itself.
    for (let i = 2; i <= path.length; i++) {
      if (i < path.length && path.charCodeAt(i) !== 0x2f) continue;
      const list = ix.prefix.get(i === path.length ? path : path.slice(0, i));
      if (list) consider(list, grpc, r, best);
    }
  }
  return best.c;
}

interface Best {
  c: Candidate | undefined;
  score: number;
}

function consider(list: readonly Candidate[], grpc: boolean, r: RequestView, best: Best): void {
  for (const c of list) {
    const route = c.route;
    if (route.grpc && !grpc) continue;
    let s = c.grpc ? grpcScore(c.grpc, r) : c.http ? httpScore(c.http, r) : route.grpc ? 0 : PATH_KIND.prefix * KIND + LEN; // no matches: PathPrefix "/"
    if (s < 0) continue;
    if (route.hosts.length > 0) {
      const h = hostScore(route.hosts, r.host);
      if (h < 0) continue;
      s += h * HOST;
    }
    // On a tie the earlier rule (older route, then by name, then first in the route) keeps it.
    if (s > best.score || (s === best.score && best.c !== undefined && c.seq < best.c.seq)) {
      best.c = c;
      best.score = s;
    }
  }
}
