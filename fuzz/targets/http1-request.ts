/**
 * Fuzz target for the HTTP/1 request side (proxy/protocol/h1: parse-head, chunked, forward-head,
 * scan-requests). One input is the byte stream a client sends on one connection. The target
 * reads it as the proxy does (heads, then bodies by their framing, until an error, an incomplete
 * message, `Connection: close` or a tunnel), builds the bytes the proxy would send upstream, and
 * asks Node's llhttp (strict) what an upstream would make of them: the same requests, no more, no
 * fewer, with the same bodies. That is the request-smuggling property.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ChunkedError, ChunkedScanner } from '../../proxy/protocol/h1/chunked';
import { upstreamRequestHead } from '../../proxy/protocol/h1/forward-head';
import { DEFAULT_LIMITS, parseRequestHead, requestFraming, requestKeepAlive, type HeadResult, type RequestHead } from '../../proxy/protocol/h1/parse-head';
import { scanRequests } from '../../proxy/protocol/h1/scan-requests';
import { llhttpParse } from '../llhttp';
import { describeError, violations, type Fail } from '../target';

export const name = 'http1-request';
export const properties = [
  'never-throws: parseRequestHead, the chunked scanner (other than ChunkedError) and scanRequests return on any input',
  'monotone: over growing prefixes the head parse is need-more, then one answer that never changes',
  'chunked-split: the chunked scanner gives the same body and end however the bytes are split',
  'scan-agrees: scanRequests reads the same requests as the step-by-step reading',
  'upstream-agrees: llhttp reads the forwarded bytes as exactly the requests the proxy read (count, method, target, body)',
  'forwarded-clean: forwarded heads carry no Connection-named or hop-by-hop field other than framing and a kept Upgrade',
];
const fail: Fail = violations(name);

function parse(b: Buffer): HeadResult<RequestHead> {
  try {
    return parseRequestHead(b, DEFAULT_LIMITS);
  } catch (e) {
    return fail('never-throws', `parseRequestHead threw ${describeError(e)}`, e);
  }
}

/**
 * What must not change once decided: an accepted head stays the same head; a refusal stays a
 * refusal (400 may become 431 or back: a line past the size limit is 431 while incomplete and
 * 400 once its bad byte arrives, and either way the connection is refused and closed).
 */
function answer(r: HeadResult<RequestHead>): unknown {
  if (r.kind === 'ok') return { kind: 'ok', length: r.length, head: headFacts(r.head) };
  if (r.kind === 'error') return { kind: 'error' };
  return r;
}

function cutsOf(len: number, salt: Buffer): number[] {
  const d = createHash('sha1').update(salt).digest();
  const cuts = new Set<number>();
  for (let i = 0; i < 6 && len > 1; i++) cuts.add(1 + (d.readUInt16BE(i * 2) % (len - 1)));
  return [...cuts].sort((a, b) => a - b);
}

function checkMonotone(b: Buffer, whole: HeadResult<RequestHead>): void {
  const end = whole.kind === 'ok' ? whole.length : b.length;
  const lens: number[] = [];
  if (end <= 400) for (let n = 0; n <= end; n++) lens.push(n);
  else for (let k = 0; k <= 64; k++) lens.push(Math.floor((end * k) / 64));
  let decided: unknown;
  for (const n of lens) {
    const r = parse(b.subarray(0, n));
    if (r.kind === 'need-more') {
      if (decided !== undefined) fail('monotone', `need-more at ${n} bytes after an answer`);
      continue;
    }
    const a = answer(r);
    if (decided === undefined) decided = a;
    else if (!isDeepStrictEqual(a, decided)) fail('monotone', `answer ${JSON.stringify(decided).slice(0, 200)} became ${JSON.stringify(a).slice(0, 200)} at ${n} bytes`);
  }
  if (decided !== undefined && !isDeepStrictEqual(answer(whole), decided)) fail('monotone', 'the whole input answers differently from its prefix');
}

interface Read {
  method: string;
  target: string;
  body: Buffer;
  forwarded: Buffer;
  tunnel: boolean;
  minor: 0 | 1;
}

/** Bodies through the scanner in one push and in pieces: same end, same data. */
function scanChunked(b: Buffer, p: number): { end: number; body: Buffer } | { error: string } | undefined {
  const run = (pieces: number[]) => {
    const parts: Buffer[] = [];
    const sc = new ChunkedScanner({ onData: (buf, s, e) => parts.push(Buffer.from(buf.subarray(s, e))) });
    let q = p;
    try {
      for (const c of [...pieces, b.length]) {
        if (c <= q) continue;
        const piece = b.subarray(0, c);
        q = sc.push(piece, q);
        if (sc.done) break;
      }
    } catch (e) {
      if (e instanceof ChunkedError) return { error: e.detail };
      return fail('never-throws', `ChunkedScanner threw ${describeError(e)}`, e);
    }
    return sc.done ? { end: q, body: Buffer.concat(parts) } : undefined;
  };
  const one = run([]);
  const split = run(cutsOf(b.length - p, b.subarray(p)).map((c) => p + c));
  const same =
    (one === undefined && split === undefined) ||
    (one !== undefined && split !== undefined && ('error' in one ? 'error' in split : !('error' in split) && one.end === split.end && one.body.equals(split.body)));
  if (!same) fail('chunked-split', `one push ${JSON.stringify(one && ('error' in one ? one : { end: one.end, body: one.body.length }))} vs split ${JSON.stringify(split && ('error' in split ? split : { end: split.end, body: split.body.length }))}`);
  return one;
}

/** What a head says, as plain data (the parser builds some fields lazily, so compare these). */
export function headFacts(h: RequestHead): unknown {
  return {
    method: h.method, target: h.target, minor: h.minor, names: [...h.names], values: [...h.values], contentLength: h.contentLength,
    transferEncoding: h.transferEncoding, connection: [...h.connection], upgrade: h.upgrade, host: h.host, expectContinue: h.expectContinue,
    hasHopByHop: h.hasHopByHop, fieldsStart: h.fieldsStart, skipped: h.skipped,
  };
}

const NEVER_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te']);

export function run(input: Buffer): void {
  const first = parse(input);
  checkMonotone(input, first);

  const reads: Read[] = [];
  let b = input;
  for (;;) {
    if (b.length === 0) break;
    const r = parse(b);
    if (r.kind !== 'ok') break;
    const h = r.head;
    const tunnel = h.method === 'CONNECT' || (h.upgrade !== undefined && h.connection.includes('upgrade'));
    const head = upstreamRequestHead(b, r.length, h, tunnel && h.method !== 'CONNECT');
    const framing = requestFraming(h);
    let p = r.length;
    let body: Buffer = Buffer.alloc(0);
    if (framing.kind === 'length') {
      if (b.length - p < framing.length) break;
      body = b.subarray(p, p + framing.length);
      p += framing.length;
    } else if (framing.kind === 'chunked') {
      const c = scanChunked(b, p);
      if (c === undefined || 'error' in c) break;
      body = c.body;
      p = c.end;
    }
    reads.push({ method: h.method, target: h.target, body, forwarded: Buffer.concat([head, b.subarray(r.length, p)]), tunnel, minor: h.minor });
    b = b.subarray(p);
    if (tunnel || !requestKeepAlive(h)) break;
  }

  let scanned;
  try {
    scanned = scanRequests(input, DEFAULT_LIMITS);
  } catch (e) {
    fail('never-throws', `scanRequests threw ${describeError(e)}`, e);
  }
  const mine = reads.map((r) => [r.method, r.target, r.body.toString('latin1')]);
  const theirs = scanned.requests.map((r) => [r.method, r.target, r.body.toString('latin1')]);
  if (!isDeepStrictEqual(mine, theirs)) fail('scan-agrees', `${JSON.stringify(mine).slice(0, 300)} vs scanRequests ${JSON.stringify(theirs).slice(0, 300)}`);
  if (reads.length === 0) return;

  for (const r of reads) {
    const headEnd = r.forwarded.indexOf('\r\n\r\n');
    const lines = r.forwarded.subarray(0, headEnd).toString('latin1').split('\r\n').slice(1);
    for (const l of lines) {
      const n = l.slice(0, l.indexOf(':')).toLowerCase();
      // The proxy's own `connection: upgrade` (tunnel) and `connection: keep-alive` (HTTP/1.0:
      // upstream connections are pooled) are allowed; nothing the client sent.
      if (l === 'connection: upgrade' && r.tunnel) continue;
      if (l === 'connection: keep-alive' && r.minor === 0) continue;
      if (NEVER_FORWARDED.has(n)) fail('forwarded-clean', `forwarded head has ${JSON.stringify(l)}`);
      if (n === 'upgrade' && !r.tunnel) fail('forwarded-clean', `forwarded head keeps ${JSON.stringify(l)} without a tunnel`);
    }
  }

  // What an upstream would see: the forwarded requests, back to back, as one connection.
  const up = llhttpParse(Buffer.concat(reads.map((r) => r.forwarded)), 'request');
  const seen = up.messages.filter((m) => m.complete || m.upgrade || m.method === 'CONNECT');
  // Node's method table lacks some methods llhttp parses (QUERY): compare those by position only.
  const got = seen.map((m, i) => [m.method === '' ? (mine[i]?.[0] ?? '') : m.method, m.url, m.body.toString('latin1')]);
  if (up.error !== undefined || !isDeepStrictEqual(got, mine)) {
    // The llhttp verdict leads the message, so findings group by it.
    fail(
      'upstream-agrees',
      `llhttp ${up.error ?? 'disagrees'} after ${got.length} of ${reads.length}: proxy read ${JSON.stringify(mine).slice(0, 300)}; llhttp upstream read ${JSON.stringify(got).slice(0, 300)}`,
    );
  }
}

export const dictionary = [
  'GET ', 'POST ', 'HEAD ', 'CONNECT ', 'OPTIONS ', ' HTTP/1.1\r\n', ' HTTP/1.0\r\n', '\r\n', '\r\n\r\n', '\n', '\r', ' ', '\t', ':', ', ',
  'Host: a\r\n', 'Content-Length: ', 'content-length:', 'Transfer-Encoding: chunked\r\n', 'transfer-encoding: ', 'chunked', 'gzip, chunked',
  'identity', 'Connection: close\r\n', 'Connection: keep-alive\r\n', 'Connection: upgrade\r\n', 'Upgrade: websocket\r\n', 'Keep-Alive: 5\r\n',
  'TE: trailers\r\n', 'Proxy-Connection: x\r\n', 'Expect: 100-continue\r\n', '0\r\n\r\n', '5\r\nhello\r\n', ';ext=1', ';a="b\\"c"', 'ffffffffffffffff',
  '00000000000000001', 'http://a.example/', 'a.example:443', '[::1]:80', '*', '\x00', '\x0b', '\x7f', '\x80', '\xff', '0x10', '-1', '+1',
];

export const known: { match: RegExp; why: string }[] = [];

const target = { name, properties, run, dictionary, known, maxInputBytes: 24 * 1024 };
export default target;
