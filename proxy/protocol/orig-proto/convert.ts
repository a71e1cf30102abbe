/**
 * Linkerd's "orig-proto" upgrade, the pure half: an HTTP/1.1 exchange carried between two proxies
 * as one HTTP/2 stream, the original version named in `l5d-orig-proto`. Outbound, the request
 * head becomes HTTP/2 headers and the HTTP/2 response becomes an HTTP/1.1 response head (status
 * line with a reason phrase, its framing chosen here); inbound, the HTTP/2 request becomes an
 * HTTP/1.1 request for the app and the app's response head becomes HTTP/2 headers. Hop-by-hop and
 * connection-specific fields never cross; every other field keeps its value.
 */
import { STATUS_CODES } from 'node:http';
import { owsTrim, type RequestHead, type ResponseHead } from '../h1/parse-head';
import type { Fields } from '../h2/semantics';

export const ORIG_PROTO = 'l5d-orig-proto';
export const ORIG_PROTO_HTTP11 = 'HTTP/1.1';

/** Fields that belong to one connection (RFC 9110 §7.6.1, RFC 9113 §8.2.2), plus the marker itself. */
const HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  ORIG_PROTO,
]);

/**
 * Whether an HTTP/1 request may ride HTTP/2 to a meshed endpoint. CONNECT and Upgrade
 * (WebSocket) stay on HTTP/1 over mTLS, as in Linkerd: they become byte tunnels. HTTP/1.0 stays
 * on HTTP/1 too: its keep-alive and close-delimited semantics are simplest carried as they are.
 * So does a body with a transfer coding besides chunked (HTTP/2 has no place to name it).
 */
export function canUpgradeToH2(head: RequestHead, tunnel: boolean): boolean {
  const te = head.transferEncoding;
  return head.minor === 1 && !tunnel && head.method !== 'CONNECT' && (te === undefined || (te.length === 1 && te[0] === 'chunked'));
}

/** The lower-case tokens of Connection fields (each names a field of this hop only). */
function connectionNamed(fields: Fields): ReadonlySet<string> {
  let out: Set<string> | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] !== 'connection') continue;
    out ??= new Set();
    for (const t of fields[i + 1]!.toLowerCase().split(',')) {
      const v = owsTrim(t);
      if (v.length > 0) out.add(v);
    }
  }
  return out ?? EMPTY;
}
const EMPTY: ReadonlySet<string> = new Set();

/** `:authority` and `:path` of a request-target: absolute-form gives both, origin-form the path. */
export function splitTarget(target: string): { authority: string | undefined; path: string } {
  if (target === '*' || target.charCodeAt(0) === 0x2f /* / */) return { authority: undefined, path: target };
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/(?:[^/?#@]*@)?([^/?#]*)([^#]*)/.exec(target);
  if (!m) return { authority: undefined, path: target };
  const rest = m[2]!;
  return { authority: m[1]!, path: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest };
}

/**
 * The HTTP/2 request fields for an HTTP/1.1 request head (the body framing is the caller's).
 * Repeated fields stay separate, as HTTP/2 allows; a content-length repeated with the same value
 * (the parser refused different ones) is sent once.
 */
export function h2RequestHeaders(h: RequestHead, fallbackAuthority: string): Fields {
  const { authority, path } = splitTarget(h.target);
  const out: Fields = [':method', h.method, ':scheme', 'http', ':authority', authority ?? h.host ?? fallbackAuthority, ':path', path];
  const named = h.connection;
  let trailers = false;
  let length = false;
  const names = h.lowerNames;
  const values = h.values;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = values[i]!;
    if (name === 'te') {
      // The one TE value HTTP/2 allows: the client accepts trailers.
      if (value.toLowerCase().split(',').some((t) => owsTrim(t) === 'trailers')) trailers = true;
      continue;
    }
    if (HOP.has(name) || name === 'host') continue;
    if (named.length > 0 && named.includes(name) && name !== 'content-length') continue;
    if (name === 'content-length') {
      if (length) continue;
      length = true;
    }
    out.push(name, value);
  }
  if (trailers) out.push('te', 'trailers');
  out.push(ORIG_PROTO, ORIG_PROTO_HTTP11);
  return out;
}

export interface H1ResponseHead {
  /** Status line and fields, ending with the empty line (latin1). */
  head: string;
  /** The body follows chunked (the HTTP/2 response named no length and has a body). */
  chunked: boolean;
}

/** Field lines of an HTTP/2 header section for an HTTP/1 message, without pseudo and hop fields. */
function fieldLines(fields: Fields, skip?: ReadonlySet<string>): string {
  let s = '';
  const named = connectionNamed(fields);
  for (let i = 0; i < fields.length; i += 2) {
    const k = fields[i]!;
    if (k.charCodeAt(0) === 0x3a /* : */ || HOP.has(k) || named.has(k) || skip?.has(k)) continue;
    s += `${k}: ${fields[i + 1]!}\r\n`;
  }
  return s;
}

function valueOf(fields: Fields, name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function reasonOf(status: number): string {
  return STATUS_CODES[status] ?? 'Unknown';
}

const NO_LENGTH: ReadonlySet<string> = new Set(['content-length']);

/**
 * The HTTP/1.1 response head for an HTTP/2 response to a `method` request. Framing: none for
 * HEAD, 1xx, 204 and 304 (a content-length kept where it describes the entity: HEAD, 304);
 * content-length when the response has one (or ended with its headers: length 0); else chunked.
 */
export function h1ResponseHead(fields: Fields, method: string, endStream: boolean): H1ResponseHead {
  const status = Number(valueOf(fields, ':status')) || 502;
  const cl = valueOf(fields, 'content-length');
  const hasLength = cl !== undefined && /^\d+$/.test(cl);
  const noBody = method === 'HEAD' || status < 200 || status === 204 || status === 304;
  const dropLength = status < 200 || status === 204 || (!noBody && !hasLength);
  let s = `HTTP/1.1 ${status} ${reasonOf(status)}\r\n${fieldLines(fields, dropLength ? NO_LENGTH : undefined)}`;
  let chunked = false;
  if (!noBody && !hasLength) {
    if (endStream) s += 'content-length: 0\r\n';
    else {
      s += 'transfer-encoding: chunked\r\n';
      chunked = true;
    }
  }
  return { head: `${s}\r\n`, chunked };
}

/** An interim (1xx) response for an HTTP/1.1 client. */
export function h1InterimHead(fields: Fields): string {
  const status = Number(valueOf(fields, ':status'));
  return `HTTP/1.1 ${status} ${reasonOf(status)}\r\n${fieldLines(fields, NO_LENGTH)}\r\n`;
}

/** Framing fields and the like, which a trailer section must not carry (RFC 9110 §6.5.1). */
const NOT_TRAILERS: ReadonlySet<string> = new Set(['content-length', 'host', 'content-type', 'content-encoding', 'authorization', 'set-cookie', 'cookie']);

/** The last chunk and the trailer section of a chunked body. */
export function lastChunk(trailers: Fields | undefined): Buffer {
  return Buffer.from(`0\r\n${trailers ? fieldLines(trailers, NOT_TRAILERS) : ''}\r\n`, 'latin1');
}

/** One chunk of a chunked body around `data`. */
export function chunk(data: Buffer): Buffer {
  const size = Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1');
  return Buffer.concat([size, data, CRLF], size.length + data.length + 2);
}
const CRLF = Buffer.from('\r\n', 'latin1');

/** HTTP/2 trailers from HTTP/1 trailer fields (lower-case names), without what trailers may not carry. */
export function h2Trailers(fields: Fields | undefined): Fields {
  const out: Fields = [];
  if (!fields) return out;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    if (name.charCodeAt(0) === 0x3a || HOP.has(name) || NOT_TRAILERS.has(name)) continue;
    out.push(name, fields[i + 1]!);
  }
  return out;
}

export interface H1Request {
  method: string;
  path: string;
  /** [name, value, ...]: Host first; content-length kept; chunked named when the body has no length. */
  headers: Fields;
  chunked: boolean;
}

/** The HTTP/1.1 request for the app from an HTTP/2 request that carried `l5d-orig-proto`. */
export function h1RequestFromH2(fields: Fields, endStream: boolean): H1Request {
  const method = valueOf(fields, ':method') ?? 'GET';
  const path = valueOf(fields, ':path') ?? '/';
  const headers: Fields = [];
  const host = valueOf(fields, ':authority') ?? valueOf(fields, 'host');
  if (host !== undefined) headers.push('host', host);
  const named = connectionNamed(fields);
  let length = false;
  for (let i = 0; i < fields.length; i += 2) {
    const k = fields[i]!;
    if (k.charCodeAt(0) === 0x3a || HOP.has(k) || named.has(k) || k === 'host') continue;
    if (k === 'content-length') {
      if (length) continue;
      length = true;
    }
    headers.push(k, fields[i + 1]!);
  }
  const chunked = !endStream && !length;
  if (chunked) headers.push('transfer-encoding', 'chunked');
  // An empty body of a method that usually has one is framed explicitly, as Node's HTTP client
  // did before: some servers answer 411 to a POST without a length.
  else if (endStream && !length && !BODYLESS_METHODS.has(method)) headers.push('content-length', '0');
  return { method, path, headers, chunked };
}

const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible latin1 and HTAB/SP: nothing that could end a line or leave latin1. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REQUEST_TARGET = /^[\x21-\x7e\x80-\xff]+$/;

/**
 * The bytes of the HTTP/1.1 request head for `r`, or undefined when a method, target, name or
 * value could not be written as it is (the HTTP/2 side validated them already; this keeps a
 * request line or field from ever being split, whatever reached us).
 */
export function h1RequestHeadBytes(r: H1Request): Buffer | undefined {
  if (!TOKEN.test(r.method) || !REQUEST_TARGET.test(r.path)) return undefined;
  let s = `${r.method} ${r.path} HTTP/1.1\r\n`;
  const h = r.headers;
  for (let i = 0; i < h.length; i += 2) {
    const k = h[i]!;
    const v = h[i + 1]!;
    if (!TOKEN.test(k) || !FIELD_VALUE.test(v)) return undefined;
    s += `${k}: ${v}\r\n`;
  }
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/**
 * HTTP/2 response fields from a parsed HTTP/1 response head: its fields (names lower-cased),
 * minus hop-by-hop ones and those its Connection field names.
 */
export function h2ResponseFromHead(h: ResponseHead): Fields {
  const { status, lowerNames, values, connection } = h;
  const out: Fields = [':status', String(status)];
  let length = false;
  for (let i = 0; i < lowerNames.length; i++) {
    const name = lowerNames[i]!;
    if (HOP.has(name) || (connection.length > 0 && connection.includes(name))) continue;
    if (name === 'content-length') {
      if (length) continue;
      length = true;
    }
    out.push(name, values[i]!);
  }
  return out;
}

/**
 * The fields of a chunked body's trailer section (its bytes as ChunkedScanner validated them:
 * `name: value` lines, each ending in CRLF, then an empty line), lower-case names, in order.
 */
export function parseTrailerSection(text: string): Fields {
  const out: Fields = [];
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out.push(line.slice(0, i).toLowerCase(), line.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, ''));
  }
  return out;
}
