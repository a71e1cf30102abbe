/**
 * Strict HTTP/1.1 message-head parser (RFC 9112), pure: bytes in, a head or a refusal out. It
 * parses only the head; bodies are framed by the result (content-length countdown or chunked,
 * see chunked.ts) and copied, never re-parsed. Strict where leniency enables request smuggling:
 * bare CR or LF, obs-fold, whitespace before the colon, CTLs in values, duplicate or malformed
 * Content-Length, Content-Length with Transfer-Encoding, a request Transfer-Encoding not ending
 * in chunked — each refused (400), as llhttp refuses them in strict mode — and a request
 * Content-Length with whitespace after its digits (which strict llhttp reads one way for SP and
 * another for HTAB).
 *
 * The parser re-scans from the start each time more bytes arrive: heads are small and bounded by
 * `maxHeaderBytes`, and a head almost always arrives in one read.
 */
import { lowerFieldName } from '../field-names';

export interface HeadLimits {
  /** Bytes from the first byte of the start line to the end of the empty line. */
  maxHeaderBytes: number;
  maxHeaders: number;
}

export const DEFAULT_LIMITS: HeadLimits = { maxHeaderBytes: 16384, maxHeaders: 100 };

/** What the header fields say about framing and the connection, gathered in the one pass. */
export interface HeaderFacts {
  /** Raw field names, in order (case kept, forwarded as received). Built on first use. */
  readonly names: string[];
  /** The same names in lower case (common ones as shared constants, field-names.ts). Built on first use. */
  readonly lowerNames: string[];
  /** Field values with surrounding whitespace removed. Built on first use. */
  readonly values: string[];
  /** -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding present (its codings, lower-case, in order). */
  transferEncoding: string[] | undefined;
  /** Connection tokens, lower-case. */
  connection: string[];
  upgrade: string | undefined;
  host: string | undefined;
  expectContinue: boolean;
  /** A hop-by-hop field other than a chunked Transfer-Encoding is present: the head must be rebuilt. */
  hasHopByHop: boolean;
  /** How many hop-by-hop fields (Connection, Keep-Alive, TE, Upgrade, Proxy-Connection) there are. */
  hopFields: number;
}

export interface RequestHead extends HeaderFacts {
  method: string;
  target: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Offset of the first header line (after the request line) within the head. */
  fieldsStart: number;
  /** Leading empty lines skipped before the request line (RFC 9112 §2.2). */
  skipped: number;
}

export interface ResponseHead extends HeaderFacts {
  status: number;
  reason: string;
  minor: 0 | 1;
  fieldsStart: number;
}

export type HeadResult<H> =
  | { kind: 'need-more' }
  | { kind: 'error'; status: 400 | 431; detail: string }
  /** `length`: bytes the head took, from the first byte given (leading empty lines included). */
  | { kind: 'ok'; head: H; length: number };

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}
const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
/** RFC 9110 tchar. */
export const TCHAR = table((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));
/** Request-target bytes: visible ASCII (no SP, no CTL, no DEL, no bytes ≥ 0x80). */
const TARGET = table((c) => c > 0x20 && c < 0x7f);
/** field-value bytes: HTAB, SP, VCHAR, obs-text; never CR, LF, NUL or other CTLs. */
export const VALUE = table((c) => c === HTAB || (c >= 0x20 && c !== 0x7f));

/** HTTP methods llhttp accepts on HTTP/1.x (it refuses any other token, e.g. RTSP's ANNOUNCE). */
export const METHODS: ReadonlySet<string> = new Set(
  (
    'DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH SEARCH UNLOCK ' +
    'BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE PATCH ' +
    'PURGE MKCALENDAR LINK UNLINK SOURCE QUERY'
  ).split(' '),
);

const NEED_MORE = Object.freeze({ kind: 'need-more' as const });

class Refusal {
  constructor(
    readonly status: 400 | 431,
    readonly detail: string,
  ) {}
}

/** Where the scan ran out of bytes: the caller answers need-more (or 431 past the limit). */
const OUT = Symbol('need-more');

/** Hop-by-hop fields (RFC 9110 §7.6.1) plus the legacy ones proxies must not forward. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);

/**
 * The facts gathered while scanning, plus where each field is in the head's bytes: names and
 * values become strings only when something asks for them (a rebuilt head, a test), so the common
 * request that is forwarded as received allocates no string per field.
 */
interface Scan extends Omit<HeaderFacts, 'names' | 'lowerNames' | 'values'> {
  /** nameStart, nameEnd, valueStart, valueEnd per field. */
  offsets: number[];
}

/** What both heads share: the field strings (built on demand) and the facts the scan found. */
class Fields {
  private n: string[] | undefined;
  private v: string[] | undefined;
  private lower: string[] | undefined;
  private readonly offsets: number[];
  constructor(
    private readonly raw: Buffer,
    f: Scan,
  ) {
    this.offsets = f.offsets;
    this.contentLength = f.contentLength;
    this.transferEncoding = f.transferEncoding;
    this.connection = f.connection;
    this.upgrade = f.upgrade;
    this.host = f.host;
    this.expectContinue = f.expectContinue;
    this.hasHopByHop = f.hasHopByHop;
    this.hopFields = f.hopFields;
  }
  readonly contentLength: number;
  readonly transferEncoding: string[] | undefined;
  readonly connection: string[];
  readonly upgrade: string | undefined;
  readonly host: string | undefined;
  readonly expectContinue: boolean;
  readonly hasHopByHop: boolean;
  readonly hopFields: number;
  get names(): string[] {
    return (this.n ??= this.strings(0));
  }
  get lowerNames(): string[] {
    if (this.lower === undefined) {
      const out: string[] = [];
      for (let i = 0; i < this.offsets.length; i += 4) out.push(lowerFieldName(this.raw, this.offsets[i]!, this.offsets[i + 1]!));
      this.lower = out;
    }
    return this.lower;
  }
  get values(): string[] {
    return (this.v ??= this.strings(2));
  }
  private strings(at: number): string[] {
    const out: string[] = [];
    for (let i = at; i < this.offsets.length; i += 4) out.push(this.raw.toString('latin1', this.offsets[i], this.offsets[i + 1]));
    return out;
  }
}

class ReqHead extends Fields implements RequestHead {
  constructor(
    raw: Buffer,
    f: Scan,
    readonly method: string,
    readonly target: string,
    readonly minor: 0 | 1,
    readonly fieldsStart: number,
    readonly skipped: number,
  ) {
    super(raw, f);
  }
}

class ResHead extends Fields implements ResponseHead {
  constructor(
    raw: Buffer,
    f: Scan,
    readonly status: number,
    readonly reason: string,
    readonly minor: 0 | 1,
    readonly fieldsStart: number,
  ) {
    super(raw, f);
  }
}

function newFacts(): Scan {
  return {
    offsets: [],
    contentLength: -1,
    transferEncoding: undefined,
    connection: [],
    upgrade: undefined,
    host: undefined,
    expectContinue: false,
    hasHopByHop: false,
    hopFields: 0,
  };
}

/**
 * Strips OWS (SP and HTAB, RFC 9110 §5.6.3) only. String.prototype.trim would also strip what
 * latin1 decodes as Unicode space (0xA0 NBSP, 0x85): `Transfer-Encoding:\xa0chunked` would read
 * as chunked here while an upstream refuses or ignores it (fuzz finding).
 */
export function owsTrim(v: string): string {
  return v.replace(/^[ \t]+|[ \t]+$/g, '');
}

function splitTokens(v: string): string[] {
  // One token, as most Connection and Transfer-Encoding fields carry: no split, no trim (the scan
  // trimmed the value).
  if (v.indexOf(',') === -1) return v === '' ? [] : [v.toLowerCase()];
  const out: string[] = [];
  for (const part of v.split(',')) {
    const t = owsTrim(part).toLowerCase();
    if (t !== '') out.push(t);
  }
  return out;
}

/**
 * Scans header lines from `p` to the empty line. Returns the offset after the empty line, or OUT.
 * Throws Refusal on a malformed line or a framing conflict.
 */
function scanFields(b: Buffer, p: number, end: number, start: number, limits: HeadLimits, f: Scan, isRequest: boolean): number | typeof OUT {
  let count = 0;
  let clSeen = false;
  for (;;) {
    if (p >= end) return OUT;
    let c = b[p]!;
    if (c === CR) {
      if (p + 1 >= end) return OUT;
      if (b[p + 1] !== LF) throw new Refusal(400, 'expected LF after CR at the end of the head');
      p += 2;
      // The limit counts the start line too: without this, a long request line with no fields
      // that arrived in one read passed, while the same bytes split were 431 (fuzz finding).
      if (p - start > limits.maxHeaderBytes) throw new Refusal(431, `head larger than ${limits.maxHeaderBytes} bytes`);
      break;
    }
    if (c === SP || c === HTAB) throw new Refusal(400, 'obsolete line folding or whitespace before a field name');
    // field-name
    const nameStart = p;
    while (p < end && TCHAR[b[p]!] === 1) p++;
    if (p >= end) return OUT;
    if (b[p] !== COLON || p === nameStart) throw new Refusal(400, 'invalid header field name');
    const nameEnd = p++;
    // OWS, value, OWS
    while (p < end && (b[p] === SP || b[p] === HTAB)) p++;
    const valueStart = p;
    while (p < end && VALUE[b[p]!] === 1) p++;
    if (p >= end) return OUT;
    c = b[p]!;
    if (c !== CR) throw new Refusal(400, c === LF ? 'bare LF in header field' : 'invalid character in header value');
    if (p + 1 >= end) return OUT;
    if (b[p + 1] !== LF) throw new Refusal(400, 'bare CR in header field');
    let valueEnd = p;
    while (valueEnd > valueStart && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HTAB)) valueEnd--;
    const trailingOws = valueEnd !== p;
    p += 2;
    if (++count > limits.maxHeaders) throw new Refusal(431, `more than ${limits.maxHeaders} header fields`);
    if (p - start > limits.maxHeaderBytes) throw new Refusal(431, `head larger than ${limits.maxHeaderBytes} bytes`);

    f.offsets.push(nameStart, nameEnd, valueStart, valueEnd);
    const n = nameEnd - nameStart;
    // Cheap pre-filter on length: most fields are none of the ones framing depends on.
    if (n === 4 || n === 6 || n === 7 || n === 10 || n === 14 || n === 16 || n === 17 || n === 2) {
      fact(f, lowerFieldName(b, nameStart, nameEnd), b.toString('latin1', valueStart, valueEnd), isRequest, clSeen, trailingOws);
    }
    if (f.contentLength >= 0) clSeen = true;
  }
  if (f.transferEncoding !== undefined && f.contentLength >= 0) {
    throw new Refusal(400, 'Content-Length together with Transfer-Encoding');
  }
  if (f.transferEncoding !== undefined) {
    const te = f.transferEncoding;
    const chunkedAt = te.indexOf('chunked');
    if (chunkedAt !== -1 && chunkedAt !== te.length - 1) throw new Refusal(400, 'chunked must be the final transfer coding, once');
    if (isRequest && chunkedAt === -1) throw new Refusal(400, 'request Transfer-Encoding does not end in chunked');
  }
  return p;
}

/** Records what one field says (`lower`: its name in lower case); throws on framing conflicts. */
function fact(f: Scan, lower: string, value: string, isRequest: boolean, clSeen: boolean, trailingOws: boolean): void {
  switch (lower) {
    case 'content-length': {
      // RFC 9110 §5.5 makes the OWS in "Content-Length: 5\t" not part of the value, but a request
      // head is forwarded byte for byte and upstreams disagree on it (llhttp refuses a trailing
      // HTAB and takes a trailing SP; other parsers read neither as a number): a framing field
      // that an upstream may read differently from the proxy is refused, never passed on.
      if (isRequest && trailingOws) throw new Refusal(400, 'whitespace after the Content-Length value');
      if (clSeen) {
        // Identical duplicates are tolerable in a response (RFC 9110 §8.6); never in a request.
        if (isRequest || String(f.contentLength) !== value) throw new Refusal(400, 'duplicate Content-Length');
        return;
      }
      if (!/^[0-9]{1,15}$/.test(value)) throw new Refusal(400, 'invalid Content-Length');
      f.contentLength = Number(value);
      return;
    }
    case 'transfer-encoding': {
      const codings = splitTokens(value);
      if (codings.length === 0 || value.split(',').some((c) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(owsTrim(c)))) {
        throw new Refusal(400, 'invalid Transfer-Encoding');
      }
      if (f.transferEncoding && f.transferEncoding.includes('chunked')) throw new Refusal(400, 'chunked must be the final transfer coding, once');
      f.transferEncoding = (f.transferEncoding ?? []).concat(codings);
      return;
    }
    case 'connection':
      f.hasHopByHop = true;
      f.hopFields++;
      for (const t of splitTokens(value)) f.connection.push(t);
      return;
    case 'upgrade':
      f.hasHopByHop = true;
      f.hopFields++;
      f.upgrade = value;
      return;
    case 'host':
      if (f.host !== undefined && isRequest) throw new Refusal(400, 'more than one Host');
      f.host = value;
      return;
    case 'expect':
      if (value.toLowerCase() === '100-continue') f.expectContinue = true;
      return;
    case 'keep-alive':
    case 'proxy-connection':
    case 'te':
      f.hasHopByHop = true;
      f.hopFields++;
      return;
    default:
      return;
  }
}

function outcome<H>(p: number | typeof OUT, bufLen: number, limits: HeadLimits, start: number, make: (end: number) => H): HeadResult<H> {
  if (p === OUT) {
    if (bufLen - start > limits.maxHeaderBytes) return { kind: 'error', status: 431, detail: `head larger than ${limits.maxHeaderBytes} bytes` };
    return NEED_MORE;
  }
  return { kind: 'ok', head: make(p), length: p };
}

/** Parses a request head from the start of `b`. */
export function parseRequestHead(b: Buffer, limits: HeadLimits = DEFAULT_LIMITS): HeadResult<RequestHead> {
  try {
    const end = b.length;
    let p = 0;
    // Empty lines before a request line are ignored (RFC 9112 §2.2), e.g. after a pipelined body.
    while (p < end && b[p] === CR) {
      if (p + 1 >= end) return NEED_MORE;
      if (b[p + 1] !== LF) throw new Refusal(400, 'bare CR before the request line');
      p += 2;
      if (p > limits.maxHeaderBytes) throw new Refusal(431, 'too many empty lines');
    }
    const skipped = p;
    const r = requestLine(b, p, end);
    if (r === OUT) return outcome(OUT, end, limits, skipped, () => undefined as never);
    const f = newFacts();
    const q = scanFields(b, r.next, end, skipped, limits, f, true);
    if (q === OUT) return outcome(OUT, end, limits, skipped, () => undefined as never);
    const head = new ReqHead(b, f, r.method, r.target, r.minor, r.next, skipped);
    return { kind: 'ok', head, length: q };
  } catch (e) {
    if (e instanceof Refusal) return { kind: 'error', status: e.status, detail: e.detail };
    throw e;
  }
}

function requestLine(b: Buffer, p: number, end: number): { method: string; target: string; minor: 0 | 1; next: number } | typeof OUT {
  const m0 = p;
  while (p < end && TCHAR[b[p]!] === 1) p++;
  if (p >= end) return OUT;
  if (b[p] !== SP || p === m0) throw new Refusal(400, 'invalid method');
  const method = b.toString("latin1", m0, p);
  if (!METHODS.has(method)) throw new Refusal(400, `unknown method ${JSON.stringify(method.slice(0, 20))}`);
  p++;
  const t0 = p;
  while (p < end && TARGET[b[p]!] === 1) p++;
  if (p >= end) return OUT;
  if (b[p] !== SP || p === t0) throw new Refusal(400, 'invalid request-target');
  const target = b.toString("latin1", t0, p);
  p++;
  const minor = version(b, p, end);
  if (minor === OUT) return OUT;
  p += 8;
  if (p >= end) return OUT;
  if (b[p] !== CR) throw new Refusal(400, 'expected CRLF after the HTTP version');
  if (p + 1 >= end) return OUT;
  if (b[p + 1] !== LF) throw new Refusal(400, 'bare CR after the HTTP version');
  if (method === 'CONNECT') {
    if (!isAuthorityForm(target)) throw new Refusal(400, 'CONNECT needs an authority-form target');
  } else if (target.charCodeAt(0) !== 0x2f /* / */ && target !== '*' && !ABSOLUTE_FORM.test(target)) {
    // Neither origin-form, asterisk-form nor absolute-form: an upstream would read it its own way.
    throw new Refusal(400, 'invalid request-target form');
  }
  return { method, target, minor, next: p + 2 };
}

const HTTP1_ = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."

/** "HTTP/1.0" or "HTTP/1.1" at p → minor; anything else is refused (HTTP/0.9, 2.0 are not HTTP/1 here). */
function version(b: Buffer, p: number, end: number): 0 | 1 | typeof OUT {
  for (let i = 0; i < 7; i++) {
    if (p + i >= end) return OUT;
    if (b[p + i] !== HTTP1_[i]) throw new Refusal(400, 'invalid HTTP version');
  }
  if (p + 7 >= end) return OUT;
  const d = b[p + 7];
  if (d === 0x30) return 0;
  if (d === 0x31) return 1;
  throw new Refusal(400, 'invalid HTTP version');
}

/**
 * absolute-form (RFC 9112 §3.2.2) as an upstream reads it: letters, "://", an authority of
 * unreserved, sub-delims, '%', ':', '@' and brackets, then nothing or a path or query. RFC 3986
 * allows more (`urn:x`, `a+b://x`, a '"' or '#' right after the host) but llhttp refuses those
 * (HPE_INVALID_URL), and a target the upstream refuses is one the proxy must not read as a
 * request (fuzz findings: `GET a: HTTP/1.1`, `GET a://" HTTP/1.1`).
 */
const ABSOLUTE_FORM = /^[A-Za-z]+:\/\/[A-Za-z0-9!$%&'()*+,\-.:;=@[\]_~]*(?:[/?]|$)/;

function isAuthorityForm(t: string): boolean {
  return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+):[0-9]{1,5}$/.test(t);
}

/** Parses a response head from the start of `b`. Malformed responses are `error` (the caller answers 502). */
export function parseResponseHead(b: Buffer, limits: HeadLimits = DEFAULT_LIMITS): HeadResult<ResponseHead> {
  try {
    const end = b.length;
    let p = 0;
    const minor = version(b, p, end);
    if (minor === OUT) return outcome(OUT, end, limits, 0, () => undefined as never);
    p += 8;
    if (p + 4 > end) return outcome(OUT, end, limits, 0, () => undefined as never);
    if (b[p] !== SP) throw new Refusal(400, 'expected SP after the version');
    let status = 0;
    for (let i = 1; i <= 3; i++) {
      const d = b[p + i]! - 0x30;
      if (d < 0 || d > 9) throw new Refusal(400, 'invalid status code');
      status = status * 10 + d;
    }
    if (status < 100) throw new Refusal(400, 'invalid status code');
    p += 4;
    let reason = '';
    if (p >= end) return outcome(OUT, end, limits, 0, () => undefined as never);
    if (b[p] === SP) {
      const r0 = ++p;
      while (p < end && VALUE[b[p]!] === 1) p++;
      if (p >= end) return outcome(OUT, end, limits, 0, () => undefined as never);
      reason = b.toString("latin1", r0, p);
    }
    if (b[p] !== CR) throw new Refusal(400, 'invalid status line');
    if (p + 1 >= end) return outcome(OUT, end, limits, 0, () => undefined as never);
    if (b[p + 1] !== LF) throw new Refusal(400, 'bare CR in the status line');
    p += 2;
    const fieldsStart = p;
    const f = newFacts();
    const q = scanFields(b, p, end, 0, limits, f, false);
    if (q === OUT) return outcome(OUT, end, limits, 0, () => undefined as never);
    const head = new ResHead(b, f, status, reason, minor, fieldsStart);
    return { kind: 'ok', head, length: q };
  } catch (e) {
    if (e instanceof Refusal) return { kind: 'error', status: e.status, detail: e.detail };
    throw e;
  }
}

/** How a request's body is delimited (RFC 9112 §6.3). */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export function requestFraming(h: RequestHead): BodyFraming {
  // What follows a CONNECT head is tunnel data (RFC 9110 §9.3.6: its content has no meaning).
  if (h.method === 'CONNECT') return { kind: 'none' };
  if (h.transferEncoding) return { kind: 'chunked' }; // validated to end in chunked
  if (h.contentLength > 0) return { kind: 'length', length: h.contentLength };
  return { kind: 'none' };
}

export function responseFraming(h: ResponseHead, requestMethod: string): BodyFraming {
  if (requestMethod === 'HEAD' || h.status === 204 || h.status === 304 || (h.status >= 100 && h.status < 200)) return { kind: 'none' };
  if (requestMethod === 'CONNECT' && h.status >= 200 && h.status < 300) return { kind: 'none' };
  if (h.transferEncoding) {
    return h.transferEncoding[h.transferEncoding.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  }
  if (h.contentLength >= 0) return h.contentLength === 0 ? { kind: 'none' } : { kind: 'length', length: h.contentLength };
  return { kind: 'close' };
}

/** Whether the client wants the connection kept after this exchange. */
export function requestKeepAlive(h: RequestHead): boolean {
  if (h.connection.includes('close')) return false;
  return h.minor === 1 || h.connection.includes('keep-alive');
}

export function responseKeepAlive(h: ResponseHead): boolean {
  if (h.connection.includes('close')) return false;
  return h.minor === 1 || h.connection.includes('keep-alive');
}
