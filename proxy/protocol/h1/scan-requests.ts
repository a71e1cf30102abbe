/**
 * The proxy's reading of a client byte stream as a sequence of requests, pure: the same head
 * parser and body framing the connection handler uses, run over a whole buffer. It is what the
 * upstream would be sent (method, target, fields, body bytes) and where the proxy would refuse.
 * Used by the llhttp corpus test and the property tests; the handler runs the same steps
 * incrementally over a socket.
 */
import { ChunkedError, ChunkedScanner } from './chunked';
import { DEFAULT_LIMITS, parseRequestHead, requestFraming, requestKeepAlive, type HeadLimits } from './parse-head';

export interface ScannedRequest {
  method: string;
  target: string;
  minor: 0 | 1;
  fields: [string, string][];
  /** The body as framed on the wire (chunked bodies stay chunked: they are passed through). */
  rawBody: Buffer;
  /** The decoded content. */
  body: Buffer;
  /** The connection becomes a tunnel after this request if the upstream agrees (Upgrade, CONNECT). */
  tunnel: boolean;
}

export interface ScanResult {
  requests: ScannedRequest[];
  /** Why the stream was refused (400/431) after `requests`; nothing after them is forwarded. */
  error?: { status: number; detail: string };
  /** Bytes left that were not read: after `Connection: close`, a tunnel, or an incomplete message. */
  rest: number;
  incomplete: boolean;
}

export function scanRequests(input: Buffer, limits: HeadLimits = DEFAULT_LIMITS): ScanResult {
  const requests: ScannedRequest[] = [];
  let b = input;
  for (;;) {
    if (b.length === 0) return { requests, rest: 0, incomplete: false };
    const r = parseRequestHead(b, limits);
    if (r.kind === 'need-more') return { requests, rest: b.length, incomplete: true };
    if (r.kind === 'error') return { requests, error: { status: r.status, detail: r.detail }, rest: b.length, incomplete: false };
    const h = r.head;
    const fields: [string, string][] = h.names.map((n, i) => [n, h.values[i]!]);
    let p = r.length;
    const framing = requestFraming(h);
    let rawBody: Buffer;
    let body: Buffer;
    if (framing.kind === 'length') {
      if (b.length - p < framing.length) return { requests, rest: b.length, incomplete: true };
      rawBody = body = b.subarray(p, p + framing.length);
      p += framing.length;
    } else if (framing.kind === 'chunked') {
      const parts: Buffer[] = [];
      const sc = new ChunkedScanner({ onData: (buf, s, e) => parts.push(buf.subarray(s, e)) });
      let q: number;
      try {
        q = sc.push(b, p);
      } catch (e) {
        if (e instanceof ChunkedError) return { requests, error: { status: 400, detail: e.detail }, rest: b.length, incomplete: false };
        throw e;
      }
      if (!sc.done) return { requests, rest: b.length, incomplete: true };
      rawBody = b.subarray(p, q);
      body = Buffer.concat(parts);
      p = q;
    } else {
      rawBody = body = Buffer.alloc(0);
    }
    const tunnel = h.method === 'CONNECT' || (h.upgrade !== undefined && h.connection.includes('upgrade'));
    requests.push({ method: h.method, target: h.target, minor: h.minor, fields, rawBody, body, tunnel });
    b = b.subarray(p);
    if (tunnel || !requestKeepAlive(h)) return { requests, rest: b.length, incomplete: false };
  }
}
