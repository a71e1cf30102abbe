/**
 * Protocol detection: from the first bytes a client sends, decide whether the connection is TLS,
 * HTTP/2 with prior knowledge, HTTP/1.x, or something else (opaque TCP).
 *
 * Pure and stateless: the connection handler calls detect() with everything received so far each
 * time bytes arrive, and replays those bytes to whichever handler wins, so nothing is consumed.
 * The answer is a function of the prefix alone and is monotone: need-more until the first
 * certain answer, then that same answer for every longer prefix, however the bytes were split.
 * Only the first DETECT_MAX_BYTES bytes are ever looked at.
 */
import { parseClientHello, TLS_MAX_RECORD_PAYLOAD, TLS_RECORD_HEADER_BYTES } from './client-hello';

/**
 * The most bytes detection buffers before it must answer: one TLS record of the largest
 * allowed size (5-byte header + 2^14 payload, RFC 8446 §5.1). Any ClientHello a client sends in
 * one record fits — today's are 0.2–2 KiB, even with post-quantum key shares or ECH — and so
 * does an HTTP/1 request line twice the 8000 octets RFC 9112 §3 asks recipients to support.
 * Bounding it keeps a slow or hostile client from making the proxy buffer without limit.
 */
export const DETECT_MAX_BYTES = TLS_RECORD_HEADER_BYTES + TLS_MAX_RECORD_PAYLOAD;

/** Stable reasons for an opaque answer (usable as a metric label). */
export type OpaqueReason =
  | 'unknown-protocol' // first byte is neither a TLS handshake record nor an HTTP token character
  | 'http1-bad-method' // the method token is not followed by a single SP
  | 'http1-bad-target' // the request-target is not origin-, absolute-, authority- or asterisk-form
  | 'http1-bad-version' // not "HTTP/1.0" or "HTTP/1.1" followed by CRLF
  | 'http1-line-too-long' // no complete request line within DETECT_MAX_BYTES
  | 'tls-not-handshake-record'
  | 'tls-bad-record-length'
  | 'tls-not-client-hello'
  | 'tls-too-large'
  | 'tls-malformed'
  | 'undecided'; // no decision before the detect timeout or the client's FIN (set by the accept layer)

export type Detected =
  | { kind: 'tls'; sni?: string; alpn: string[] }
  | { kind: 'h2' }
  | { kind: 'http1'; method: string; target: string; version: '1.0' | '1.1' }
  | { kind: 'opaque'; reason: OpaqueReason; detail?: string };
export type DetectResult = Detected | { kind: 'need-more' };

// Shared frozen answers: the common outcomes allocate nothing.
const NEED_MORE: DetectResult = Object.freeze({ kind: 'need-more' });
const H2: DetectResult = Object.freeze({ kind: 'h2' });
const OPAQUE = new Map<OpaqueReason, DetectResult>();
function opaque(reason: OpaqueReason): DetectResult {
  let r = OPAQUE.get(reason);
  if (r === undefined) OPAQUE.set(reason, (r = Object.freeze({ kind: 'opaque', reason })));
  return r;
}

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}
const isAlpha = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** RFC 9110 §5.6.2 tchar. */
const TCHAR = table((c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));
/** Visible ASCII (RFC 5234 VCHAR); request-targets are URI text, so no controls, SP or bytes ≥ 0x80. */
const VCHAR = table((c) => c >= 0x21 && c <= 0x7e);
/** RFC 3986 §3.1 scheme characters after the first ALPHA. */
const SCHEME = table((c) => isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e);
/** RFC 3986 authority without userinfo: unreserved, pct-encoded, sub-delims, ':' and IP-literal brackets. */
const AUTHORITY = table((c) => isAlpha(c) || isDigit(c) || "-._~%!$&'()*+,;=:[]".includes(String.fromCharCode(c)));

/** Decide from the bytes seen so far (the whole prefix, not a delta). */
export function detect(prefix: Buffer): DetectResult {
  const n = prefix.length < DETECT_MAX_BYTES ? prefix.length : DETECT_MAX_BYTES;
  if (n === 0) return NEED_MORE;
  const b0 = prefix[0];
  if (b0 === 0x16) return detectTls(prefix, n);
  if (TCHAR[b0] === 0) return opaque('unknown-protocol');
  if (b0 === 0x50 /* P */) {
    // "PRI" is a valid method token, so only the whole 24-byte preface tells h2 from HTTP/1.
    const m = n < H2_PREFACE.length ? n : H2_PREFACE.length;
    if (prefix.compare(H2_PREFACE, 0, m, 0, m) === 0) return m === H2_PREFACE.length ? H2 : NEED_MORE;
  }
  return detectHttp1(prefix, n);
}

function detectTls(prefix: Buffer, n: number): DetectResult {
  const r = parseClientHello(n === prefix.length ? prefix : prefix.subarray(0, n), DETECT_MAX_BYTES);
  if (r.status === 'need-more') return NEED_MORE;
  if (r.status === 'ok') {
    const { sni, alpn } = r.hello;
    return sni === undefined ? { kind: 'tls', alpn } : { kind: 'tls', sni, alpn };
  }
  return { kind: 'opaque', reason: `tls-${r.problem}`, detail: r.detail };
}

/** need-more, unless the buffer is already full: a line that long is not worth waiting for. */
function more(n: number): DetectResult {
  return n >= DETECT_MAX_BYTES ? opaque('http1-line-too-long') : NEED_MORE;
}

const VERSION_PREFIX = Buffer.from('HTTP/1.', 'latin1');

/**
 * HTTP/1 request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3), checked
 * byte by byte so that the first byte which cannot belong to a valid line answers opaque at once.
 * Strict on purpose: what is called http1 here must be accepted by the HTTP layer, and whatever
 * is not is still forwarded intact as opaque TCP, so strictness never breaks a connection. No
 * bare LF, no repeated SP, no bytes ≥ 0x80 in the target.
 */
function detectHttp1(b: Buffer, n: number): DetectResult {
  let i = 0;
  while (i < n && TCHAR[b[i]] === 1) i++;
  if (i === n) return more(n);
  if (b[i] !== SP) return opaque('http1-bad-method');
  const methodEnd = i++;
  const isConnect = methodEnd === 7 && b.toString('latin1', 0, 7) === 'CONNECT';
  const isOptions = methodEnd === 7 && !isConnect && b.toString('latin1', 0, 7) === 'OPTIONS';

  const targetStart = i;
  if (i === n) return more(n);
  const t0 = b[i];
  let lastColon = -1;
  if (isConnect) {
    // authority-form only (RFC 9112 §3.2.3): host ":" port, checked once the target ends.
    while (i < n && AUTHORITY[b[i]] === 1) {
      if (b[i] === 0x3a) lastColon = i;
      i++;
    }
  } else if (t0 === 0x2f /* / */) {
    i++; // origin-form
    while (i < n && VCHAR[b[i]] === 1) i++;
  } else if (t0 === 0x2a /* * */) {
    if (!isOptions) return opaque('http1-bad-target'); // asterisk-form is for OPTIONS only
    i++;
  } else if (isAlpha(t0)) {
    i++; // absolute-form: scheme ":" ...
    while (i < n && SCHEME[b[i]] === 1) i++;
    if (i === n) return more(n);
    if (b[i] !== 0x3a) return opaque('http1-bad-target');
    i++;
    while (i < n && VCHAR[b[i]] === 1) i++;
  } else {
    return opaque('http1-bad-target');
  }
  if (i === n) return more(n);
  if (b[i] !== SP || i === targetStart) return opaque('http1-bad-target');
  if (isConnect) {
    // host non-empty, port all digits and non-empty
    if (lastColon <= targetStart || lastColon === i - 1) return opaque('http1-bad-target');
    for (let k = lastColon + 1; k < i; k++) if (!isDigit(b[k])) return opaque('http1-bad-target');
  }
  const targetEnd = i++;

  for (let k = 0; k < VERSION_PREFIX.length; k++, i++) {
    if (i === n) return more(n);
    if (b[i] !== VERSION_PREFIX[k]) return opaque('http1-bad-version');
  }
  if (i === n) return more(n);
  const minor = b[i++];
  if (minor !== 0x30 && minor !== 0x31) return opaque('http1-bad-version');
  if (i === n) return more(n);
  if (b[i++] !== CR) return opaque('http1-bad-version');
  if (i === n) return more(n);
  if (b[i] !== LF) return opaque('http1-bad-version');
  return {
    kind: 'http1',
    method: b.toString('latin1', 0, methodEnd),
    target: b.toString('latin1', targetStart, targetEnd),
    version: minor === 0x31 ? '1.1' : '1.0',
  };
}
