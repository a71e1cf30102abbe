/**
 * The inbound policy one port of one workload runs under, as the control plane compiles it and
 * the proxy enforces it (the shape of linkerd2-proxy-api's inbound `Server`): how the port's
 * traffic is read (proxyProtocol), who may connect (authorizations), and for HTTP and gRPC the
 * routes, each with its own authorizations. Pure: no sockets, no clock, so the proxy and the
 * control plane share it and it is unit-tested and fuzzed directly.
 */
import { ALL_NETWORKS, DEFAULT_CLUSTER_NETWORKS, netContains, parseNetList, type Ip, type IpNet } from './net';

export type ProxyProtocol = 'detect' | 'http1' | 'http2' | 'grpc' | 'opaque' | 'tls';

/** Who must have signed the connection: nobody, or a peer proxy with a matching identity. */
export type Authn =
  | { kind: 'unauthenticated' }
  | {
      kind: 'meshTLS';
      /** Exact identities. */
      identities: readonly string[];
      /** DNS-like suffixes as label lists; an empty list matches every identity (`*`). */
      suffixes: readonly (readonly string[])[];
    };

export interface NetworkMatch {
  net: IpNet;
  except: readonly IpNet[];
}

/** One way to be allowed in. `kind`/`name` become the `authz_kind`/`authz_name` metric labels. */
export interface Authz {
  kind: string;
  name: string;
  /** The client's address must be in one of these (and in none of its exceptions). */
  networks: readonly NetworkMatch[];
  authn: Authn;
}

export interface StringMatch {
  kind: 'exact' | 'prefix' | 'regex';
  value: string;
}

export interface HeaderMatch {
  /** Lower-case. */
  name: string;
  kind: 'exact' | 'regex';
  value: string;
}

export interface HttpMatch {
  path?: StringMatch;
  method?: string;
  headers: readonly HeaderMatch[];
  query: readonly HeaderMatch[];
}

export interface GrpcMatch {
  /** Exact or regex (Gateway API's GRPCMethodMatch). */
  kind: 'exact' | 'regex';
  service?: string;
  method?: string;
  headers: readonly HeaderMatch[];
}

export interface InboundRoute {
  /** `route_kind`: default (none declared), probe, or the resource's kind. */
  kind: string;
  name: string;
  /** Hostnames the route is for; empty: any. `*.example.com` matches one or more labels. */
  hosts: readonly string[];
  /** The route applies when any one matches (an empty list matches everything). */
  http: readonly HttpMatch[];
  grpc: readonly GrpcMatch[];
  authorizations: readonly Authz[];
}

export interface RateLimit {
  name: string;
  /** Requests per second for the whole server; 0: none. */
  total: number;
  /** Requests per second for each client identity (unmeshed clients share one); 0: none. */
  identity: number;
  /** Per-identity budgets that replace `identity` for those clients. */
  overrides: readonly { requestsPerSecond: number; identities: readonly string[] }[];
}

export interface InboundPolicy {
  protocol: ProxyProtocol;
  /** `srv_kind` (server or default) and `srv_name` (the Server's name or the default policy). */
  server: { kind: string; name: string };
  /** Connection-level: opaque, TLS, undetected traffic. */
  authorizations: readonly Authz[];
  /** Request-level: HTTP routes (gRPC routes when the protocol is gRPC). Empty: every request is "route not found". */
  routes: readonly InboundRoute[];
  rateLimit?: RateLimit;
}

export const DEFAULT_POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'deny', 'audit'] as const;
export type DefaultPolicy = (typeof DEFAULT_POLICIES)[number];

export function isDefaultPolicy(s: string): s is DefaultPolicy {
  return (DEFAULT_POLICIES as readonly string[]).includes(s);
}

const everywhere = (nets: readonly IpNet[]): NetworkMatch[] => nets.map((net) => ({ net, except: [] }));
const ANY_IDENTITY: Authn = Object.freeze({ kind: 'meshTLS', identities: [], suffixes: [[]] });
const NOBODY_NEEDED: Authn = Object.freeze({ kind: 'unauthenticated' });

/** The authorizations a default policy stands for (Linkerd's: labelled kind=default, name=policy). */
export function defaultAuthorizations(policy: DefaultPolicy, clusterNetworks: readonly IpNet[]): Authz[] {
  const authz = (networks: readonly IpNet[], authn: Authn): Authz[] => [{ kind: 'default', name: policy, networks: everywhere(networks), authn }];
  switch (policy) {
    case 'all-unauthenticated':
    case 'audit': // allowed, but the proxy reports it as what would have been denied
      return authz(ALL_NETWORKS, NOBODY_NEEDED);
    case 'all-authenticated':
      return authz(ALL_NETWORKS, ANY_IDENTITY);
    case 'cluster-authenticated':
      return authz(clusterNetworks, ANY_IDENTITY);
    case 'cluster-unauthenticated':
      return authz(clusterNetworks, NOBODY_NEEDED);
    case 'deny':
      return [];
  }
}

/** An audit authorization allows, but every use of it is logged and counted as a would-be denial. */
export function isAudit(a: Authz): boolean {
  return a.kind === 'default' && a.name === 'audit';
}

/** The route every request matches when a server declares none (Linkerd's `default` route). */
export function defaultRoute(authorizations: readonly Authz[]): InboundRoute {
  return { kind: 'default', name: 'default', hosts: [], http: [], grpc: [], authorizations };
}

/** Probe paths stay open to everyone (kubelet has no identity), GET only, as Linkerd does. */
export function probeRoute(paths: readonly string[]): InboundRoute {
  return {
    kind: 'default',
    name: 'probe',
    hosts: [],
    http: paths.map((p) => ({ path: { kind: 'exact', value: p }, method: 'GET', headers: [], query: [] })),
    grpc: [],
    authorizations: [{ kind: 'default', name: 'probe', networks: everywhere(ALL_NETWORKS), authn: NOBODY_NEEDED }],
  };
}

/** The policy a proxy applies before the control plane has answered (or without one). */
export function defaultPolicy(policy: DefaultPolicy, clusterNetworks: readonly IpNet[], protocol: ProxyProtocol = 'detect', probePaths: readonly string[] = []): InboundPolicy {
  const authorizations = defaultAuthorizations(policy, clusterNetworks);
  const routes = probePaths.length > 0 ? [probeRoute(probePaths), defaultRoute(authorizations)] : [defaultRoute(authorizations)];
  return { protocol, server: { kind: 'default', name: policy }, authorizations, routes };
}

export const DEFAULT_CLUSTER = parseNetList(DEFAULT_CLUSTER_NETWORKS);

// ---- the decision ----

/** What the proxy knows of a client: its address, and its identity when it came over mTLS. */
export interface Client {
  ip: Ip | undefined;
  identity: string | undefined;
}

export function identityMatches(authn: Authn, identity: string | undefined): boolean {
  if (authn.kind === 'unauthenticated') return true;
  if (identity === undefined) return false;
  if (authn.identities.includes(identity)) return true;
  for (const s of authn.suffixes) {
    if (s.length === 0) return true;
    // `*.demo.serviceaccount...`: at least one more label in front of the suffix.
    const tail = s.join('.');
    if (identity.length > tail.length + 1 && identity.endsWith(tail) && identity[identity.length - tail.length - 1] === '.') return true;
  }
  return false;
}

export function networkMatches(networks: readonly NetworkMatch[], ip: Ip | undefined): boolean {
  if (!ip) return false;
  return networks.some((n) => netContains(n.net, ip) && !n.except.some((e) => netContains(e, ip)));
}

export function permits(a: Authz, c: Client): boolean {
  return networkMatches(a.networks, c.ip) && identityMatches(a.authn, c.identity);
}

/** The first authorization that lets the client in (explicit ones come before defaults), or undefined. */
export function authorize(authzs: readonly Authz[], c: Client): Authz | undefined {
  for (const a of authzs) if (permits(a, c)) return a;
  return undefined;
}

/** What a route match reads of a request. */
export interface RequestView {
  method: string;
  /** The path without the query. */
  path: string;
  /** The raw query string without `?` ('' when none). */
  query: string;
  /** The authority without port, lower-case. */
  host: string;
  header(name: string): string | undefined;
}

const regexCache = new Map<string, RegExp | null>();
/** Regexes are compiled once per pattern; a pattern that does not compile matches nothing. */
function regex(pattern: string): RegExp | null {
  let r = regexCache.get(pattern);
  if (r === undefined) {
    try {
      r = new RegExp(`^(?:${pattern})$`);
    } catch {
      r = null;
    }
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(pattern, r);
  }
  return r;
}

/** One string condition of a match (exact, Gateway API path prefix, or anchored regex). */
export function stringMatches(m: StringMatch | HeaderMatch, v: string | undefined): boolean {
  if (v === undefined) return false;
  if (m.kind === 'exact') return v === m.value;
  if (m.kind === 'regex') return regex(m.value)?.test(v) ?? false;
  // Gateway API PathPrefix: by path segments, so /api matches /api and /api/x, not /apix.
  const trailing = m.value.length > 1 && m.value.charCodeAt(m.value.length - 1) === 0x2f;
  const n = trailing ? m.value.length - 1 : m.value.length;
  if (n === 1 && m.value === '/') return true;
  // v is the prefix itself, or continues it with "/" (no string built per call: a hot path).
  return v.startsWith(m.value.slice(0, n)) && (v.length === n || v.charCodeAt(n) === 0x2f);
}

/** The first value of a query parameter in a raw query string; undefined when absent. */
export function queryParam(query: string, name: string): string | undefined {
  for (const kv of query.split('&')) {
    const eq = kv.indexOf('=');
    if ((eq < 0 ? kv : kv.slice(0, eq)) === name) return eq < 0 ? '' : kv.slice(eq + 1);
  }
  return undefined;
}

/** How specific a match is, to prefer the most specific route (Gateway API's precedence). */
type Score = [number, number, number, number, number];

function httpScore(m: HttpMatch, r: RequestView): Score | undefined {
  if (m.path && !stringMatches(m.path, r.path)) return undefined;
  if (m.method && m.method !== r.method) return undefined;
  for (const h of m.headers) if (!stringMatches(h, r.header(h.name))) return undefined;
  for (const q of m.query) if (!stringMatches(q, queryParam(r.query, q.name))) return undefined;
  const exact = m.path?.kind === 'exact' ? 1 : 0;
  const prefixLen = m.path?.kind === 'prefix' ? m.path.value.length : m.path ? 0 : -1;
  return [exact, prefixLen, m.method ? 1 : 0, m.headers.length, m.query.length];
}

function grpcScore(m: GrpcMatch, r: RequestView): Score | undefined {
  // gRPC paths are /package.Service/Method.
  const slash = r.path.lastIndexOf('/');
  const service = r.path.slice(1, slash > 0 ? slash : undefined);
  const method = slash > 0 ? r.path.slice(slash + 1) : '';
  const one = (want: string | undefined, have: string) => want === undefined || stringMatches({ kind: m.kind, value: want }, have);
  if (!one(m.service, service) || !one(m.method, method)) return undefined;
  for (const h of m.headers) if (!stringMatches(h, r.header(h.name))) return undefined;
  return [m.kind === 'exact' ? 1 : 0, m.service ? 1 : 0, m.method ? 1 : 0, m.headers.length, 0];
}

function hostMatches(hosts: readonly string[], host: string): number {
  if (hosts.length === 0) return 0;
  let best = -1;
  for (const h of hosts) {
    if (h === host) return 2;
    if (h.startsWith('*.') && host.endsWith(h.slice(1)) && host.length > h.length - 1) best = 1;
  }
  return best;
}

function better(a: Score, b: Score): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

/**
 * The route a request takes: the most specific matching rule wins; on a tie the earlier route
 * (routes arrive ordered, as Linkerd orders them by creation then name). Undefined: no route
 * (404, counted as route not found).
 */
export function matchRoute(routes: readonly InboundRoute[], grpc: boolean, r: RequestView): InboundRoute | undefined {
  let best: InboundRoute | undefined;
  let bestScore: Score | undefined;
  let bestHost = -1;
  for (const route of routes) {
    const h = hostMatches(route.hosts, r.host);
    if (h < 0) continue;
    let score: Score | undefined;
    if (route.grpc.length > 0) {
      // A gRPC route (GRPCRoute) is for gRPC requests only.
      if (!grpc) continue;
      for (const m of route.grpc) {
        const s = grpcScore(m, r);
        if (s && (!score || better(s, score))) score = s;
      }
    } else if (route.http.length > 0) {
      for (const m of route.http) {
        const s = httpScore(m, r);
        if (s && (!score || better(s, score))) score = s;
      }
    } else score = [0, -1, 0, 0, 0]; // the default route: every request, least specific
    if (!score) continue;
    if (!best || h > bestHost || (h === bestHost && better(score, bestScore!))) {
      best = route;
      bestScore = score;
      bestHost = h;
    }
  }
  return best;
}

export type Decision =
  | { allowed: true; authz: Authz; route?: InboundRoute; audit: boolean }
  | { allowed: false; reason: 'unauthorized' | 'route-not-found'; route?: InboundRoute };

/** A connection's decision (opaque, TLS, undetected traffic). */
export function decideConnection(p: InboundPolicy, c: Client): Decision {
  const authz = authorize(p.authorizations, c);
  return authz ? { allowed: true, authz, audit: isAudit(authz) } : { allowed: false, reason: 'unauthorized' };
}

/** A request's decision: its route, then the route's authorizations. */
export function decideRequest(p: InboundPolicy, c: Client, r: RequestView, grpc: boolean): Decision {
  const route = matchRoute(p.routes, grpc, r);
  if (!route) return { allowed: false, reason: 'route-not-found' };
  const authz = authorize(route.authorizations, c);
  return authz ? { allowed: true, authz, route, audit: isAudit(authz) } : { allowed: false, reason: 'unauthorized', route };
}
