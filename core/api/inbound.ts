/**
 * Loads core/api/inbound.proto (the inbound policy API) and converts between its messages and the
 * compiled policy (core/policy/model.ts). Shared by the control plane's server and the proxy's
 * client so both read the one contract; the proxy checks every message it receives (fromPbServer
 * throws a typed error) and keeps its last policy when one is bad.
 */
import type * as grpc from '@grpc/grpc-js';
import { loadProto } from './grpc-load';
import { LinnetError } from '../errors';
import { formatNet, parseNet } from '../policy/net';
import type { Authn, Authz, GrpcMatch, HeaderMatch, HttpMatch, InboundPolicy, InboundRoute, ProxyProtocol, StringMatch } from '../policy/model';
import { LOADER_OPTIONS } from './destination';
import { protoFile } from './proto-file';

let cached: grpc.GrpcObject | undefined;

function load(): grpc.GrpcObject {
  if (!cached) cached = loadProto(protoFile('inbound.proto'), LOADER_OPTIONS);
  return cached;
}

export function inboundClientConstructor(): grpc.ServiceClientConstructor {
  const pkg = (load()['linnet'] as grpc.GrpcObject)['inbound'] as grpc.GrpcObject;
  return pkg['InboundServerPolicies'] as grpc.ServiceClientConstructor;
}

export function inboundServiceDefinition(): grpc.ServiceDefinition {
  return inboundClientConstructor().service;
}

export class PolicyMessageError extends LinnetError {
  constructor(message: string) {
    super('LINNET_POLICY_MESSAGE_INVALID', message, { hint: 'the control plane sent a policy this proxy cannot read; it keeps its last policy (upgrade the older of the two)' });
    this.name = 'PolicyMessageError';
  }
}

// Wire shapes (as proto-loader produces them with LOADER_OPTIONS: oneofs name their field).
type Labels = Record<string, string>;
export interface PbPortSpec {
  workload: string;
  port: number;
}
export interface PbStringMatch {
  kind?: 'exact' | 'prefix' | 'regex';
  exact?: string;
  prefix?: string;
  regex?: string;
}
export interface PbHeaderMatch {
  name: string;
  value?: PbStringMatch | null;
}
export interface PbHttpMatch {
  path?: PbStringMatch | null;
  headers: PbHeaderMatch[];
  query_params: PbHeaderMatch[];
  method: string;
}
export interface PbGrpcMatch {
  service: string;
  method: string;
  regex: boolean;
  headers: PbHeaderMatch[];
}
interface PbAuthz {
  networks: { net: string; except: string[] }[];
  authentication?: {
    permit?: 'unauthenticated' | 'meshTLS';
    unauthenticated?: object | null;
    meshTLS?: { clients?: 'unauthenticated' | 'identities'; identities?: { identities: { name: string }[]; suffixes: { parts: string[] }[] } | null } | null;
  } | null;
  labels: Labels;
}
interface PbRoute {
  hosts: string[];
  rules: { matches: PbHttpMatch[]; grpc_matches: PbGrpcMatch[] }[];
  labels: Labels;
  authorizations: PbAuthz[];
}
export interface PbServer {
  protocol?: { kind?: string; [k: string]: unknown } | null;
  authorizations: PbAuthz[];
  labels: Labels;
  local_rate_limit?: { labels: Labels; total: number; identity: number; overrides: { requests_per_second: number; identities: { name: string }[] }[] } | null;
}

export const strToPb = (m: StringMatch | HeaderMatch): PbStringMatch => ({ [m.kind]: m.value });
export const hdrToPb = (h: HeaderMatch): PbHeaderMatch => ({ name: h.name, value: strToPb(h) });

function authzToPb(a: Authz): PbAuthz {
  const authentication: PbAuthz['authentication'] =
    a.authn.kind === 'unauthenticated'
      ? { unauthenticated: {} }
      : { meshTLS: { identities: { identities: a.authn.identities.map((name) => ({ name })), suffixes: a.authn.suffixes.map((parts) => ({ parts: [...parts] })) } } };
  return { networks: a.networks.map((n) => ({ net: formatNet(n.net), except: n.except.map(formatNet) })), authentication, labels: { kind: a.kind, name: a.name } };
}

function routeToPb(r: InboundRoute): PbRoute {
  const empty = r.http.length === 0 && r.grpc.length === 0;
  return {
    hosts: [...r.hosts],
    rules: empty
      ? []
      : [
          {
            matches: r.http.map((m) => ({ path: m.path ? strToPb(m.path) : null, headers: m.headers.map(hdrToPb), query_params: m.query.map(hdrToPb), method: m.method ?? '' })),
            grpc_matches: r.grpc.map((m) => ({ service: m.service ?? '', method: m.method ?? '', regex: m.kind === 'regex', headers: m.headers.map(hdrToPb) })),
          },
        ],
    labels: { kind: r.kind, name: r.name },
    authorizations: r.authorizations.map(authzToPb),
  };
}

export function toPbServer(p: InboundPolicy): PbServer {
  const routes = p.routes.map(routeToPb);
  const protocol =
    p.protocol === 'detect'
      ? { detect: { http_routes: routes } }
      : p.protocol === 'opaque'
        ? { opaque: {} }
        : p.protocol === 'tls'
          ? { tls: {} }
          : { [p.protocol]: { routes } };
  const rl = p.rateLimit;
  return {
    protocol,
    authorizations: p.authorizations.map(authzToPb),
    labels: { kind: p.server.kind, name: p.server.name, group: p.server.kind === 'server' ? 'policy.linkerd.io' : '' },
    local_rate_limit: rl
      ? { labels: { kind: 'HTTPLocalRateLimitPolicy', name: rl.name }, total: rl.total, identity: rl.identity, overrides: rl.overrides.map((o) => ({ requests_per_second: o.requestsPerSecond, identities: o.identities.map((name) => ({ name })) })) }
      : null,
  };
}

// ---- from the wire, checked ----

export function strFromPb(m: PbStringMatch | null | undefined, where: string): StringMatch {
  if (!m) throw new PolicyMessageError(`${where}: a match without a value`);
  const kind = m.kind ?? (m.exact !== undefined ? 'exact' : m.prefix !== undefined ? 'prefix' : m.regex !== undefined ? 'regex' : undefined);
  if (!kind) throw new PolicyMessageError(`${where}: a match without a value`);
  return { kind, value: m[kind] ?? '' };
}

export function hdrFromPb(h: PbHeaderMatch, where: string): HeaderMatch {
  const v = strFromPb(h.value, where);
  if (v.kind === 'prefix') throw new PolicyMessageError(`${where}: a header match is exact or regex`);
  return { name: h.name.toLowerCase(), kind: v.kind, value: v.value };
}

function authzFromPb(a: PbAuthz, where: string): Authz {
  const networks = a.networks.map((n, i) => {
    try {
      return { net: parseNet(n.net), except: n.except.map(parseNet) };
    } catch (e) {
      throw new PolicyMessageError(`${where}.networks[${i}]: ${(e as Error).message}`);
    }
  });
  const au = a.authentication;
  let authn: Authn;
  if (au?.unauthenticated || au?.permit === 'unauthenticated') authn = { kind: 'unauthenticated' };
  else if (au?.meshTLS) {
    const ids = au.meshTLS.identities;
    authn = ids
      ? { kind: 'meshTLS', identities: ids.identities.map((i) => i.name), suffixes: ids.suffixes.map((s) => s.parts) }
      : // mesh TLS without identities: any identity.
        { kind: 'meshTLS', identities: [], suffixes: [[]] };
  } else throw new PolicyMessageError(`${where}: an authorization without authentication`);
  return { kind: a.labels['kind'] ?? '', name: a.labels['name'] ?? '', networks, authn };
}

function routeFromPb(r: PbRoute, where: string): InboundRoute {
  const http: HttpMatch[] = [];
  const grpc: GrpcMatch[] = [];
  r.rules.forEach((rule, i) => {
    const rw = `${where}.rules[${i}]`;
    if (rule.matches.length === 0 && rule.grpc_matches.length === 0) http.push({ path: { kind: 'prefix', value: '/' }, headers: [], query: [] });
    rule.matches.forEach((m, j) => {
      const mw = `${rw}.matches[${j}]`;
      http.push({ ...(m.path ? { path: strFromPb(m.path, `${mw}.path`) } : {}), ...(m.method ? { method: m.method } : {}), headers: m.headers.map((h) => hdrFromPb(h, `${mw}.headers`)), query: m.query_params.map((h) => hdrFromPb(h, `${mw}.query_params`)) });
    });
    rule.grpc_matches.forEach((m, j) => {
      grpc.push({ kind: m.regex ? 'regex' : 'exact', ...(m.service ? { service: m.service } : {}), ...(m.method ? { method: m.method } : {}), headers: m.headers.map((h) => hdrFromPb(h, `${rw}.grpc_matches[${j}].headers`)) });
    });
  });
  return {
    kind: r.labels['kind'] ?? 'default',
    name: r.labels['name'] ?? 'default',
    hosts: r.hosts.map((h) => h.toLowerCase()),
    http,
    grpc,
    authorizations: r.authorizations.map((a, i) => authzFromPb(a, `${where}.authorizations[${i}]`)),
  };
}

const PROTOCOLS: readonly ProxyProtocol[] = ['detect', 'http1', 'http2', 'grpc', 'opaque', 'tls'];

export function fromPbServer(s: PbServer): InboundPolicy {
  const kind = (s.protocol?.kind ?? 'detect') as ProxyProtocol;
  if (!PROTOCOLS.includes(kind)) throw new PolicyMessageError(`protocol: ${JSON.stringify(kind)} is not known`);
  const body = (s.protocol?.[kind] ?? {}) as { routes?: PbRoute[]; http_routes?: PbRoute[] };
  const routes = (body.routes ?? body.http_routes ?? []).map((r, i) => routeFromPb(r, `routes[${i}]`));
  const rl = s.local_rate_limit;
  return {
    protocol: kind,
    server: { kind: s.labels['kind'] ?? 'default', name: s.labels['name'] ?? '' },
    authorizations: s.authorizations.map((a, i) => authzFromPb(a, `authorizations[${i}]`)),
    routes,
    ...(rl && (rl.total > 0 || rl.identity > 0 || rl.overrides.length > 0)
      ? { rateLimit: { name: rl.labels['name'] ?? '', total: rl.total, identity: rl.identity, overrides: rl.overrides.map((o) => ({ requestsPerSecond: o.requests_per_second, identities: o.identities.map((i) => i.name) })) } }
      : {}),
  };
}
