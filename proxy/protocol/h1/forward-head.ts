/**
 * The heads the proxy sends on: the request head towards the upstream and the response head back
 * to the client, with hop-by-hop fields removed (RFC 9110 §7.6.1: Connection and every field it
 * names, Keep-Alive, Proxy-Connection, TE, Upgrade) except what an upgrade needs. Bodies are
 * passed through with their framing, so Transfer-Encoding stays. When nothing needs removing the
 * received bytes are forwarded as they are (the common case costs no copy).
 */
import type { RequestHead, ResponseHead } from './parse-head';

const DROP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade']);

function fieldsWithout(h: RequestHead | ResponseHead, keepUpgrade: boolean, dropTransferEncoding = false): string {
  let out = '';
  const named = h.connection;
  for (let i = 0; i < h.names.length; i++) {
    const name = h.names[i]!;
    const lower = name.toLowerCase();
    if (keepUpgrade && lower === 'upgrade') {
      out += `${name}: ${h.values[i]}\r\n`;
      continue;
    }
    if (DROP.has(lower)) continue;
    if (dropTransferEncoding && lower === 'transfer-encoding') continue;
    // Fields the sender named in Connection are for this hop only; framing fields stay (they are
    // what the passed-through body is delimited by).
    if (named.length > 0 && named.includes(lower) && lower !== 'transfer-encoding' && lower !== 'content-length') continue;
    out += `${name}: ${h.values[i]}\r\n`;
  }
  return out;
}

/**
 * The request head for the upstream. `tunnel`: an Upgrade the proxy carries (Upgrade kept,
 * `connection: upgrade`). HTTP/1.0 requests ask the upstream for keep-alive: the proxy's upstream
 * connections are pooled whatever the client does.
 */
export function upstreamRequestHead(raw: Buffer, length: number, h: RequestHead, tunnel: boolean): Buffer {
  if (!h.hasHopByHop && h.minor === 1 && h.skipped === 0) return raw.subarray(0, length);
  let s = `${h.method} ${h.target} HTTP/1.${h.minor}\r\n${fieldsWithout(h, tunnel)}`;
  if (tunnel && h.method !== 'CONNECT') s += 'connection: upgrade\r\n';
  else if (h.minor === 0) s += 'connection: keep-alive\r\n';
  return Buffer.from(`${s}\r\n`, 'latin1');
}

export interface ResponseHeadOptions {
  /** The proxy closes the client connection after this response. */
  close: boolean;
  /** The client speaks HTTP/1.0 and keeps the connection: it needs `connection: keep-alive`. */
  keepAlive10: boolean;
  /** A 101 the proxy carries: keep Upgrade, say `connection: upgrade`. */
  upgrade: boolean;
  /** The body goes out decoded (chunked to an HTTP/1.0 client). */
  dropTransferEncoding?: boolean;
}

/**
 * `Connection: keep-alive` alone is what this hop would say too (the proxy keeps an HTTP/1.1
 * client's connection): such a head (nginx sends it on every response) is forwarded as it is.
 */
function onlyKeepAlive(h: ResponseHead): boolean {
  return h.hopFields === 1 && h.connection.length === 1 && h.connection[0] === 'keep-alive';
}

export function clientResponseHead(raw: Buffer, length: number, h: ResponseHead, o: ResponseHeadOptions): Buffer {
  if ((!h.hasHopByHop || onlyKeepAlive(h)) && !o.close && !o.keepAlive10 && !o.upgrade && h.minor === 1) return raw.subarray(0, length);
  let s = `HTTP/1.1 ${h.status} ${h.reason}\r\n${fieldsWithout(h, o.upgrade, o.dropTransferEncoding)}`;
  if (o.upgrade) s += 'connection: upgrade\r\n';
  else if (o.close) s += 'connection: close\r\n';
  else if (o.keepAlive10) s += 'connection: keep-alive\r\n';
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/** The authority a request is for: the absolute-form target's, else Host; lower-case. */
export function requestAuthority(h: RequestHead): string {
  if (h.method === 'CONNECT') return h.target.toLowerCase();
  const t = h.target;
  if (t.charCodeAt(0) !== 0x2f /* / */ && t !== '*') {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#@]*@)?([^/?#]*)/.exec(t);
    if (m) return m[2]!.toLowerCase();
  }
  return (h.host ?? '').toLowerCase();
}
