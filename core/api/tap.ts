/**
 * The tap API (core/api/tap.proto, linkerd2-proxy-api's `io.linkerd.proxy.tap.Tap/Observe`):
 * the typed shapes the proxy and the control plane work with (a match, an
 * event), and the conversions to and from the wire (the grpc-js loader for clients is tap-service.ts,
 * so that the proxy's tap server, which speaks gRPC itself, never loads grpc-js). Shared by the proxy's tap server and the viz
 * tap client so both read the one contract. A match from the wire is checked here, once, and a
 * bad one is a typed error (TapMatchError) the server answers with INVALID_ARGUMENT.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LinnetError } from '../errors';
import { formatNet, parseIp, parseNet } from '../policy/net';

export class TapMatchError extends LinnetError {
  constructor(message: string) {
    super('LINNET_TAP_MATCH_INVALID', message, {
      hint: 'a tap match is all/any/not of source/destination (netmask or port range), http (scheme, method, authority, path: exact or prefix) and destination_label/route_label',
    });
    this.name = 'TapMatchError';
  }
}

// ---- The typed shapes ----

export type TapStringMatch = { exact: string } | { prefix: string };

/** A source or destination condition: an address within a network (`10.0.0.0/8`), or a port range. */
export type TapTcpMatch = { net: string } | { ports: { min: number; max: number } };

export type TapMatch =
  | { all: TapMatch[] }
  | { any: TapMatch[] }
  | { not: TapMatch }
  | { source: TapTcpMatch }
  | { destination: TapTcpMatch }
  /** `http` or `https` (or another scheme's name). */
  | { scheme: string }
  /** An upper-case method name: `GET`, `POST`, ... */
  | { method: string }
  | { authority: TapStringMatch }
  | { path: TapStringMatch }
  | { destinationLabel: { key: string; value: string } }
  | { routeLabel: { key: string; value: string } };

export interface TapAddr {
  ip: string;
  port: number;
}

export interface TapStreamId {
  base: number;
  stream: number;
}

export type TapHttpEvent =
  | { kind: 'request_init'; id: TapStreamId; method: string; scheme: string; authority: string; path: string }
  | { kind: 'response_init'; id: TapStreamId; sinceRequestInitUs: number; status: number }
  | {
      kind: 'response_end';
      id: TapStreamId;
      sinceRequestInitUs: number;
      sinceResponseInitUs: number;
      responseBytes: number;
      /** The gRPC status from the trailers (or trailers-only headers) of a gRPC response. */
      grpcStatus?: number;
      /** The stream ended by a reset (or the connection was lost) instead: the HTTP/2 error code. */
      resetErrorCode?: number;
    };

/** One event as the proxy reports it. */
export interface TapEvent {
  direction: 'inbound' | 'outbound';
  source: TapAddr;
  destination: TapAddr;
  /** The client's TLS as labels (`tls`, `client_id`). */
  sourceLabels: Record<string, string>;
  /** Discovery's labels of the endpoint (`pod`, `service`, `namespace`, ...) and its TLS (`tls`, `server_id`). */
  destinationLabels: Record<string, string>;
  routeLabels: Record<string, string>;
  http: TapHttpEvent;
}

/** What an Observe asks for. `limit` 0: no limit; `maxRps` 0 (or absent): the proxy's cap. */
export interface TapRequest {
  limit: number;
  maxRps?: number;
  match?: TapMatch;
}

// ---- Wire shapes (proto-loader with TAP_LOADER_OPTIONS) ----

type Long = string | number;
interface PbIp {
  ip?: 'ipv4' | 'ipv6';
  ipv4?: number;
  ipv6?: { first: Long; last: Long } | null;
}
interface PbTcpAddress {
  ip?: PbIp | null;
  port: number;
}
interface PbRegistered {
  type?: 'registered' | 'unregistered';
  registered?: string;
  unregistered?: string;
}
interface PbStringMatch {
  match?: 'exact' | 'prefix';
  exact?: string;
  prefix?: string;
}
interface PbTcpMatch {
  match?: 'netmask' | 'ports';
  netmask?: { ip?: PbIp | null; mask: number } | null;
  ports?: { min: number; max: number } | null;
}
export interface PbMatch {
  match?: 'all' | 'any' | 'not' | 'source' | 'destination' | 'http' | 'destination_label' | 'route_label';
  all?: { matches: PbMatch[] } | null;
  any?: { matches: PbMatch[] } | null;
  not?: PbMatch | null;
  source?: PbTcpMatch | null;
  destination?: PbTcpMatch | null;
  http?: { match?: 'scheme' | 'method' | 'authority' | 'path'; scheme?: PbRegistered | null; method?: PbRegistered | null; authority?: PbStringMatch | null; path?: PbStringMatch | null } | null;
  destination_label?: { key: string; value: string } | null;
  route_label?: { key: string; value: string } | null;
}
export interface PbObserveRequest {
  limit: number;
  max_rps?: number;
  match?: PbMatch | null;
}
interface PbDuration {
  seconds: Long;
  nanos: number;
}
export interface PbTapEvent {
  source?: PbTcpAddress | null;
  source_meta?: { labels: Record<string, string> } | null;
  route_meta?: { labels: Record<string, string> } | null;
  destination?: PbTcpAddress | null;
  destination_meta?: { labels: Record<string, string> } | null;
  proxy_direction: string;
  event?: 'http';
  http?: {
    event?: 'request_init' | 'response_init' | 'response_end';
    request_init?: { id?: PbStreamId | null; method?: PbRegistered | null; scheme?: PbRegistered | null; authority: string; path: string } | null;
    response_init?: { id?: PbStreamId | null; since_request_init?: PbDuration | null; http_status: number } | null;
    response_end?: {
      id?: PbStreamId | null;
      since_request_init?: PbDuration | null;
      since_response_init?: PbDuration | null;
      response_bytes: Long;
      eos?: { end?: 'grpc_status_code' | 'reset_error_code'; grpc_status_code?: number; reset_error_code?: number } | null;
    } | null;
  } | null;
}
interface PbStreamId {
  base: number;
  stream: Long;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'HEAD', 'TRACE'];
const SCHEMES = ['HTTP', 'HTTPS'];

// ---- Addresses ----

function ipToPb(ip: string): PbIp {
  const p = parseIp(ip);
  if (!p) return { ip: 'ipv4', ipv4: 0 };
  if (p.family === 4) return { ip: 'ipv4', ipv4: Number(p.value) };
  return { ip: 'ipv6', ipv6: { first: String(p.value >> 64n), last: String(p.value & 0xffffffffffffffffn) } };
}

function ipFromPb(pb: PbIp | null | undefined): string {
  if (pb?.ipv6 && (pb.ip === 'ipv6' || pb.ipv4 === undefined)) {
    const v = (BigInt(pb.ipv6.first) << 64n) | BigInt(pb.ipv6.last);
    return formatNet({ family: 6, base: v, prefix: 128 }).replace(/\/128$/, '');
  }
  const v = (pb?.ipv4 ?? 0) >>> 0;
  return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join('.');
}

function addrToPb(a: TapAddr): PbTcpAddress {
  return { ip: ipToPb(a.ip), port: a.port };
}

function addrFromPb(pb: PbTcpAddress | null | undefined): TapAddr {
  return { ip: ipFromPb(pb?.ip), port: pb?.port ?? 0 };
}

// ---- Matches ----

/** A tap's match tree is small; a deeper or larger one is refused rather than evaluated per request. */
export const MAX_MATCH_DEPTH = 16;
export const MAX_MATCH_NODES = 256;

function registeredToPb(name: string, known: string[]): PbRegistered {
  const up = name.toUpperCase();
  return known.includes(up) ? { type: 'registered', registered: up } : { type: 'unregistered', unregistered: name };
}

function registeredFromPb(pb: PbRegistered | null | undefined, known: string[], what: string): string {
  if (pb?.type === 'unregistered' || (pb?.unregistered !== undefined && pb.registered === undefined)) {
    if (!pb.unregistered) throw new TapMatchError(`an unregistered ${what} is empty`);
    return pb.unregistered;
  }
  const r = pb?.registered ?? known[0]!;
  if (!known.includes(r)) throw new TapMatchError(`unknown ${what} ${JSON.stringify(r)}`);
  return r;
}

function stringMatchFromPb(pb: PbStringMatch | null | undefined, what: string): TapStringMatch {
  if (pb?.match === 'exact' || (pb?.match === undefined && pb?.exact)) return { exact: pb.exact ?? '' };
  if (pb?.match === 'prefix' || (pb?.match === undefined && pb?.prefix)) return { prefix: pb.prefix ?? '' };
  throw new TapMatchError(`${what}: a string match needs exact or prefix`);
}

function tcpToPb(t: TapTcpMatch): PbTcpMatch {
  if ('net' in t) {
    const n = parseNet(t.net);
    const addr = formatNet(n).replace(/\/\d+$/, '');
    return { match: 'netmask', netmask: { ip: ipToPb(addr), mask: n.prefix } };
  }
  return { match: 'ports', ports: { min: t.ports.min, max: t.ports.max } };
}

function tcpFromPb(pb: PbTcpMatch | null | undefined, what: string): TapTcpMatch {
  if (pb?.match === 'netmask' || (pb?.match === undefined && pb?.netmask)) {
    const ip = ipFromPb(pb.netmask?.ip);
    const mask = pb.netmask?.mask ?? 0;
    const max = isIPv4(ip) ? 32 : 128;
    if (mask > max) throw new TapMatchError(`${what}: netmask /${mask} is longer than ${max} bits`);
    // Normalised (host bits cleared) so the proxy compares integers only.
    return { net: formatNet(parseNet(`${ip}/${mask}`)) };
  }
  if (pb?.match === 'ports' || (pb?.match === undefined && pb?.ports)) {
    let min = pb.ports?.min ?? 0;
    let max = pb.ports?.max ?? 0;
    // As tap.proto: a bound that is not given makes the range that one port.
    if (min === 0) min = max;
    if (max === 0) max = min;
    if (min < 1 || max > 65535 || min > max) throw new TapMatchError(`${what}: port range ${min}-${max} is not within 1-65535 with min <= max`);
    return { ports: { min, max } };
  }
  throw new TapMatchError(`${what}: a tcp match needs a netmask or ports`);
}

export function matchToPb(m: TapMatch): PbMatch {
  if ('all' in m) return { match: 'all', all: { matches: m.all.map(matchToPb) } };
  if ('any' in m) return { match: 'any', any: { matches: m.any.map(matchToPb) } };
  if ('not' in m) return { match: 'not', not: matchToPb(m.not) };
  if ('source' in m) return { match: 'source', source: tcpToPb(m.source) };
  if ('destination' in m) return { match: 'destination', destination: tcpToPb(m.destination) };
  if ('scheme' in m) return { match: 'http', http: { match: 'scheme', scheme: registeredToPb(m.scheme, SCHEMES) } };
  if ('method' in m) return { match: 'http', http: { match: 'method', method: registeredToPb(m.method, METHODS) } };
  if ('authority' in m) return { match: 'http', http: { match: 'authority', authority: m.authority } };
  if ('path' in m) return { match: 'http', http: { match: 'path', path: m.path } };
  if ('destinationLabel' in m) return { match: 'destination_label', destination_label: m.destinationLabel };
  return { match: 'route_label', route_label: m.routeLabel };
}

/** Reads a match from the wire; throws TapMatchError when it is empty, unknown or too large. */
export function matchFromPb(pb: PbMatch, depth = 0, budget = { nodes: MAX_MATCH_NODES }): TapMatch {
  if (depth >= MAX_MATCH_DEPTH) throw new TapMatchError(`the match is nested deeper than ${MAX_MATCH_DEPTH} levels`);
  if (--budget.nodes < 0) throw new TapMatchError(`the match has more than ${MAX_MATCH_NODES} conditions`);
  const seq = (s: { matches: PbMatch[] } | null | undefined) => (s?.matches ?? []).map((x) => matchFromPb(x, depth + 1, budget));
  switch (pb.match) {
    case 'all':
      return { all: seq(pb.all) };
    case 'any':
      return { any: seq(pb.any) };
    case 'not':
      if (!pb.not) throw new TapMatchError('not: needs a match');
      return { not: matchFromPb(pb.not, depth + 1, budget) };
    case 'source':
      return { source: tcpFromPb(pb.source, 'source') };
    case 'destination':
      return { destination: tcpFromPb(pb.destination, 'destination') };
    case 'http': {
      const h = pb.http;
      switch (h?.match) {
        case 'scheme':
          return { scheme: registeredFromPb(h.scheme, SCHEMES, 'scheme').toLowerCase() };
        case 'method':
          return { method: registeredFromPb(h.method, METHODS, 'method') };
        case 'authority':
          return { authority: stringMatchFromPb(h.authority, 'authority') };
        case 'path':
          return { path: stringMatchFromPb(h.path, 'path') };
        default:
          throw new TapMatchError('http: needs scheme, method, authority or path');
      }
    }
    case 'destination_label':
      return { destinationLabel: { key: pb.destination_label?.key ?? '', value: pb.destination_label?.value ?? '' } };
    case 'route_label':
      return { routeLabel: { key: pb.route_label?.key ?? '', value: pb.route_label?.value ?? '' } };
    default:
      throw new TapMatchError('a match names none of all, any, not, source, destination, http, destination_label, route_label');
  }
}

export function observeToPb(r: TapRequest): PbObserveRequest {
  return { limit: r.limit, max_rps: r.maxRps ?? 0, ...(r.match ? { match: matchToPb(r.match) } : {}) };
}

export function observeFromPb(pb: PbObserveRequest): TapRequest {
  return { limit: pb.limit ?? 0, maxRps: pb.max_rps ?? 0, ...(pb.match ? { match: matchFromPb(pb.match) } : {}) };
}

// ---- Events ----

function durationToPb(us: number): PbDuration {
  const u = Math.max(0, Math.round(us));
  return { seconds: String(Math.floor(u / 1e6)), nanos: (u % 1e6) * 1000 };
}

function durationFromPb(d: PbDuration | null | undefined): number {
  if (!d) return 0;
  return Number(d.seconds) * 1e6 + Math.round(d.nanos / 1000);
}

function idToPb(id: TapStreamId): PbStreamId {
  return { base: id.base, stream: String(id.stream) };
}

function idFromPb(id: PbStreamId | null | undefined): TapStreamId {
  return { base: id?.base ?? 0, stream: Number(id?.stream ?? 0) };
}

export function eventToPb(e: TapEvent): PbTapEvent {
  const h = e.http;
  let http: PbTapEvent['http'];
  if (h.kind === 'request_init') {
    http = {
      event: 'request_init',
      request_init: { id: idToPb(h.id), method: registeredToPb(h.method, METHODS), scheme: registeredToPb(h.scheme, SCHEMES), authority: h.authority, path: h.path },
    };
  } else if (h.kind === 'response_init') {
    http = { event: 'response_init', response_init: { id: idToPb(h.id), since_request_init: durationToPb(h.sinceRequestInitUs), http_status: h.status } };
  } else {
    const eos =
      h.grpcStatus !== undefined
        ? { end: 'grpc_status_code' as const, grpc_status_code: h.grpcStatus }
        : h.resetErrorCode !== undefined
          ? { end: 'reset_error_code' as const, reset_error_code: h.resetErrorCode }
          : null;
    http = {
      event: 'response_end',
      response_end: {
        id: idToPb(h.id),
        since_request_init: durationToPb(h.sinceRequestInitUs),
        since_response_init: durationToPb(h.sinceResponseInitUs),
        response_bytes: String(h.responseBytes),
        eos,
      },
    };
  }
  return {
    source: addrToPb(e.source),
    source_meta: { labels: e.sourceLabels },
    route_meta: { labels: e.routeLabels },
    destination: addrToPb(e.destination),
    destination_meta: { labels: e.destinationLabels },
    proxy_direction: e.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
    event: 'http',
    http,
  };
}

export function eventFromPb(pb: PbTapEvent): TapEvent {
  const h = pb.http;
  let http: TapHttpEvent;
  if (h?.request_init && (h.event === 'request_init' || h.event === undefined)) {
    const r = h.request_init;
    http = {
      kind: 'request_init',
      id: idFromPb(r.id),
      method: r.method?.type === 'unregistered' ? (r.method.unregistered ?? '') : (r.method?.registered ?? 'GET'),
      scheme: (r.scheme?.type === 'unregistered' ? (r.scheme.unregistered ?? '') : (r.scheme?.registered ?? 'HTTP')).toLowerCase(),
      authority: r.authority,
      path: r.path,
    };
  } else if (h?.response_init && (h.event === 'response_init' || h.event === undefined)) {
    const r = h.response_init;
    http = { kind: 'response_init', id: idFromPb(r.id), sinceRequestInitUs: durationFromPb(r.since_request_init), status: r.http_status };
  } else {
    const r = h?.response_end;
    http = {
      kind: 'response_end',
      id: idFromPb(r?.id),
      sinceRequestInitUs: durationFromPb(r?.since_request_init),
      sinceResponseInitUs: durationFromPb(r?.since_response_init),
      responseBytes: Number(r?.response_bytes ?? 0),
      ...(r?.eos?.end === 'grpc_status_code' ? { grpcStatus: r.eos.grpc_status_code ?? 0 } : {}),
      ...(r?.eos?.end === 'reset_error_code' ? { resetErrorCode: r.eos.reset_error_code ?? 0 } : {}),
    };
  }
  return {
    direction: pb.proxy_direction === 'INBOUND' ? 'inbound' : 'outbound',
    source: addrFromPb(pb.source),
    destination: addrFromPb(pb.destination),
    sourceLabels: { ...(pb.source_meta?.labels ?? {}) },
    destinationLabels: { ...(pb.destination_meta?.labels ?? {}) },
    routeLabels: { ...(pb.route_meta?.labels ?? {}) },
    http,
  };
}

/** `ip:port` of an address, brackets around IPv6. */
export function formatTapAddr(a: TapAddr): string {
  return isIPv6(a.ip) ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}
