/**
 * Linkerd's "orig-proto" upgrade, the pure half: an HTTP/1.1 exchange carried between two proxies
 * as one HTTP/2 stream, the original version named in `l5d-orig-proto`. Outbound, the request
 * head becomes HTTP/2 headers and the HTTP/2 response becomes an HTTP/1.1 response head (status
 * line with a reason phrase, its framing chosen here); inbound, the HTTP/2 request becomes an
 * HTTP/1.1 request for the app and the app's response head becomes HTTP/2 headers. Hop-by-hop and
 * connection-specific fields never cross; every other field keeps its value.
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { owsTrim, type RequestHead } from '../h1/parse-head';

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

/** Adds a field to a header object: repeated fields are combined (RFC 9110 §5.3). */
function addField(out: Record<string, string | string[]>, name: string, value: string): void {
  const prev = out[name];
  if (prev === undefined) out[name] = value;
  else if (name === 'set-cookie') out[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  // Node's http2 refuses arrays for single-value fields; a list-valued field combines losslessly.
  else if (name === 'cookie') out[name] = `${prev as string}; ${value}`;
  else if (name === 'content-length') return; // duplicates were refused unless equal
  else out[name] = `${prev as string}, ${value}`;
}

function connectionNamed(v: string | string[] | undefined): ReadonlySet<string> {
  if (v === undefined) return EMPTY;
  const s = Array.isArray(v) ? v.join(',') : v;
  return new Set(s.toLowerCase().split(',').map(owsTrim).filter((t) => t.length > 0));
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

/** The HTTP/2 request headers for an HTTP/1.1 request head (the body framing is the caller's). */
export function h2RequestHeaders(h: RequestHead, fallbackAuthority: string): OutgoingHttpHeaders {
  const { authority, path } = splitTarget(h.target);
  const out: Record<string, string | string[]> = {
    ':method': h.method,
    ':scheme': 'http',
    ':authority': authority ?? h.host ?? fallbackAuthority,
    ':path': path,
  };
  const named = h.connection;
  let trailers = false;
  for (let i = 0; i < h.names.length; i++) {
    const name = h.names[i]!.toLowerCase();
    const value = h.values[i]!;
    if (name === 'te') {
      // The one TE value HTTP/2 allows: the client accepts trailers.
      if (value.toLowerCase().split(',').some((t) => owsTrim(t) === 'trailers')) trailers = true;
      continue;
    }
    if (HOP.has(name) || name === 'host') continue;
    if (named.length > 0 && named.includes(name) && name !== 'content-length') continue;
    addField(out, name, value);
  }
  if (trailers) out.te = 'trailers';
  out[ORIG_PROTO] = ORIG_PROTO_HTTP11;
  return out;
}

export interface H1ResponseHead {
  /** Status line and fields, ending with the empty line (latin1). */
  head: string;
  /** The body follows chunked (the HTTP/2 response named no length and has a body). */
  chunked: boolean;
}

/** Field lines of an HTTP/2 header block for an HTTP/1 message, without pseudo and hop fields. */
function fieldLines(h: IncomingHttpHeaders | Record<string, unknown>, skip?: ReadonlySet<string>): string {
  let s = '';
  const named = connectionNamed(h.connection as string | string[] | undefined);
  for (const k of Object.keys(h)) {
    if (k.charCodeAt(0) === 0x3a /* : */ || HOP.has(k) || named.has(k) || skip?.has(k)) continue;
    const v = (h as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) s += `${k}: ${String(x)}\r\n`;
    else s += `${k}: ${String(v)}\r\n`;
  }
  return s;
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
export function h1ResponseHead(h: IncomingHttpHeaders, method: string, endStream: boolean): H1ResponseHead {
  const status = Number(h[':status']) || 502;
  const cl = h['content-length'];
  const hasLength = typeof cl === 'string' && /^\d+$/.test(cl);
  const noBody = method === 'HEAD' || status < 200 || status === 204 || status === 304;
  const dropLength = status < 200 || status === 204 || (!noBody && !hasLength);
  let s = `HTTP/1.1 ${status} ${reasonOf(status)}\r\n${fieldLines(h, dropLength ? NO_LENGTH : undefined)}`;
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
export function h1InterimHead(h: IncomingHttpHeaders): string {
  const status = Number(h[':status']);
  return `HTTP/1.1 ${status} ${reasonOf(status)}\r\n${fieldLines(h, NO_LENGTH)}\r\n`;
}

/** Framing fields and the like, which a trailer section must not carry (RFC 9110 §6.5.1). */
const NOT_TRAILERS: ReadonlySet<string> = new Set(['content-length', 'host', 'content-type', 'content-encoding', 'authorization', 'set-cookie', 'cookie']);

/** The last chunk and the trailer section of a chunked body. */
export function lastChunk(trailers: IncomingHttpHeaders | undefined): Buffer {
  return Buffer.from(`0\r\n${trailers ? fieldLines(trailers, NOT_TRAILERS) : ''}\r\n`, 'latin1');
}

/** One chunk of a chunked body around `data`. */
export function chunk(data: Buffer): Buffer {
  const size = Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1');
  return Buffer.concat([size, data, CRLF], size.length + data.length + 2);
}
const CRLF = Buffer.from('\r\n', 'latin1');

/** HTTP/2 trailers from HTTP/1 trailer fields (or from HTTP/2 ones, filtered alike). */
export function h2Trailers(fields: Record<string, string | string[]> | IncomingHttpHeaders | undefined): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  if (!fields) return out;
  for (const k of Object.keys(fields)) {
    const name = k.toLowerCase();
    if (name.charCodeAt(0) === 0x3a || HOP.has(name) || NOT_TRAILERS.has(name)) continue;
    const v = (fields as Record<string, unknown>)[k];
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) addField(out, name, String(x));
  }
  return out;
}

export interface H1Request {
  method: string;
  path: string;
  /** Host first; content-length kept; chunked named when the body has no length. */
  headers: Record<string, string | string[]>;
  chunked: boolean;
}

/** The HTTP/1.1 request for the app from an HTTP/2 request that carried `l5d-orig-proto`. */
export function h1RequestFromH2(h: IncomingHttpHeaders, endStream: boolean): H1Request {
  const method = String(h[':method'] ?? 'GET');
  const path = String(h[':path'] ?? '/');
  const headers: Record<string, string | string[]> = {};
  const host = h[':authority'] ?? h.host;
  if (typeof host === 'string') headers.host = host;
  const named = connectionNamed(h.connection);
  for (const k of Object.keys(h)) {
    if (k.charCodeAt(0) === 0x3a || HOP.has(k) || named.has(k) || k === 'host') continue;
    const v = h[k];
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) addField(headers, k, x);
  }
  const chunked = !endStream && headers['content-length'] === undefined;
  if (chunked) headers['transfer-encoding'] = 'chunked';
  // An empty body of a method that usually has one is framed explicitly, as Node's HTTP client
  // did before: some servers answer 411 to a POST without a length.
  else if (endStream && headers['content-length'] === undefined && !BODYLESS_METHODS.has(method)) headers['content-length'] = '0';
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
  for (const k in h) {
    if (!TOKEN.test(k)) return undefined;
    const v = h[k]!;
    if (typeof v === 'string') {
      if (!FIELD_VALUE.test(v)) return undefined;
      s += `${k}: ${v}\r\n`;
    } else {
      for (const x of v) {
        if (!FIELD_VALUE.test(x)) return undefined;
        s += `${k}: ${x}\r\n`;
      }
    }
  }
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/**
 * HTTP/2 response headers from a parsed HTTP/1 response head: its fields (names as received),
 * minus hop-by-hop ones and those its Connection field names (`connection`, lower-case tokens).
 */
export function h2ResponseFromFields(status: number, names: readonly string[], values: readonly string[], connection: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = { ':status': String(status) };
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!.toLowerCase();
    if (HOP.has(name) || (connection.length > 0 && connection.includes(name))) continue;
    addField(out, name, values[i]!);
  }
  return out;
}

/**
 * The fields of a chunked body's trailer section (its bytes as ChunkedScanner validated them:
 * `name: value` lines, each ending in CRLF, then an empty line), lower-case names, repeated
 * fields as arrays.
 */
export function parseTrailerSection(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).toLowerCase();
    const value = line.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** HTTP/2 response headers from an HTTP/1 response's status and raw field list (name, value, ...). */
export function h2ResponseFromH1(status: number, rawHeaders: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = { ':status': String(status) };
  let named: ReadonlySet<string> = EMPTY;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') named = connectionNamed([...named, rawHeaders[i + 1]!].join(','));
  }
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (HOP.has(name) || named.has(name)) continue;
    addField(out, name, rawHeaders[i + 1]!);
  }
  return out;
}
