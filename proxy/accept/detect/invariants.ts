/**
 * The properties detection promises, as one executable check shared by the unit tests
 * (fast-check) and the fuzz target. Each violation throws an InvariantViolation naming the
 * property, so a fuzz crash says which promise broke.
 */
import { isDeepStrictEqual } from 'node:util';
import { LinnetError } from '../../../core/errors';
import { parseClientHello, type ClientHelloResult } from './client-hello';
import { detect, DETECT_MAX_BYTES, type DetectResult } from './detect';
import { PrefixDetector } from './prefix-detector';

export const DETECT_PROPERTIES = [
  'never-throws', // detect() and parseClientHello() return on any input
  'bounded', // no need-more once DETECT_MAX_BYTES bytes are seen; bytes past it are not looked at
  'monotone', // over growing prefixes: need-more, then one answer that never changes
  'well-formed', // answers have the documented shape (no undefined/NaN from out-of-range reads)
  'tls-agrees', // detect's tls answer is the parser's hello
  'parser-bounded', // a decided parse does not change when bytes are appended (reads stay in range)
  'incremental-agrees', // PrefixDetector fed in pieces answers detect() of the bytes seen, positive answers at the same piece
] as const;
export type DetectProperty = (typeof DETECT_PROPERTIES)[number];

export class InvariantViolation extends LinnetError {
  constructor(readonly property: DetectProperty, detail: string) {
    super('LINNET_DETECT_INVARIANT', `detect property ${property} violated: ${detail}`, {
      hint: 'a bug in proxy/accept/detect; keep the input as a regression case',
    });
    this.name = 'InvariantViolation';
  }
}

function fail(property: DetectProperty, detail: string): never {
  throw new InvariantViolation(property, detail);
}

function guarded<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvariantViolation) throw e;
    return fail('never-throws', `${what} threw ${(e as Error)?.stack ?? String(e)}`);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PRINTABLE = /^[\x21-\x7e]+$/;

function checkShape(r: DetectResult, len: number): void {
  const bad = (why: string) => fail('well-formed', `${why}: ${JSON.stringify(r)}`);
  switch (r.kind) {
    case 'need-more':
      if (len >= DETECT_MAX_BYTES) fail('bounded', `need-more after ${len} bytes`);
      return;
    case 'h2':
      return;
    case 'http1':
      if (!TOKEN.test(r.method)) bad('method is not a token');
      if (!PRINTABLE.test(r.target)) bad('target is not printable ASCII');
      if (r.version !== '1.0' && r.version !== '1.1') bad('version');
      return;
    case 'tls':
      if (r.sni !== undefined && !PRINTABLE.test(r.sni)) bad('sni');
      if (!Array.isArray(r.alpn) || r.alpn.some((p) => typeof p !== 'string' || p.length === 0 || p.length > 255)) bad('alpn');
      return;
    case 'opaque':
      if (typeof r.reason !== 'string' || r.reason.length === 0) bad('reason');
      return;
    default:
      bad('unknown kind');
  }
}

function checkParse(input: Buffer): ClientHelloResult {
  const p = guarded('parseClientHello', () => parseClientHello(input));
  if (p.status === 'ok') {
    const h = p.hello;
    const nums = [h.legacyVersion, h.streamBytes, ...h.cipherSuites, ...h.extensionTypes, ...h.supportedVersions];
    if (nums.some((x) => !Number.isInteger(x) || x < 0)) fail('well-formed', `non-integer field in ${JSON.stringify(h)}`);
    if (h.streamBytes > input.length || h.streamBytes > DETECT_MAX_BYTES) fail('well-formed', `streamBytes ${h.streamBytes} beyond input`);
  }
  if (p.status !== 'need-more' && input.length < DETECT_MAX_BYTES) {
    const longer = Buffer.concat([input, Buffer.alloc(7, 0xa5)]);
    const q = guarded('parseClientHello', () => parseClientHello(longer));
    if (!isDeepStrictEqual(p, q)) fail('parser-bounded', `${JSON.stringify(p)} became ${JSON.stringify(q)} when bytes were appended`);
  }
  return p;
}

/** Prefix lengths to test monotonicity on: all of them for short inputs, else a spread. */
function prefixLengths(len: number): number[] {
  if (len <= 600) return Array.from({ length: len + 1 }, (_, i) => i);
  const out = new Set<number>([0, 1, 2, 3, 4, 5, 8, 9, 24, len - 1, len]);
  for (let k = 1; k < 64; k++) out.add(Math.floor((len * k) / 64));
  for (const edge of [DETECT_MAX_BYTES - 1, DETECT_MAX_BYTES, DETECT_MAX_BYTES + 1]) if (edge <= len) out.add(edge);
  return [...out].sort((a, b) => a - b);
}

/** Check every property on one input; throws InvariantViolation on the first broken one. */
export function checkDetectInvariants(input: Buffer, lengths: number[] = prefixLengths(input.length)): DetectResult {
  const whole = guarded('detect', () => detect(input));
  checkShape(whole, input.length);

  if (input.length > DETECT_MAX_BYTES) {
    const capped = guarded('detect', () => detect(input.subarray(0, DETECT_MAX_BYTES)));
    if (!isDeepStrictEqual(whole, capped)) fail('bounded', `bytes past DETECT_MAX_BYTES changed ${JSON.stringify(capped)} to ${JSON.stringify(whole)}`);
  }

  let decided: DetectResult | undefined;
  let decidedAt = -1;
  const seen = new Map<number, DetectResult>();
  for (const n of [...lengths].sort((a, b) => a - b)) {
    if (n > input.length) continue;
    const r = guarded('detect', () => detect(input.subarray(0, n)));
    seen.set(n, r);
    checkShape(r, n);
    if (decided === undefined) {
      if (r.kind !== 'need-more') {
        decided = r;
        decidedAt = n;
      }
    } else if (!isDeepStrictEqual(r, decided)) {
      fail('monotone', `answer at ${decidedAt} bytes ${JSON.stringify(decided)} became ${JSON.stringify(r)} at ${n} bytes`);
    }
  }
  if (decided !== undefined && !isDeepStrictEqual(whole, decided)) fail('monotone', `whole input ${JSON.stringify(whole)} differs from prefix answer ${JSON.stringify(decided)}`);

  checkIncremental(input, seen);
  const p = checkParse(input);
  if (input.length > 0 && input[0] === 0x16) {
    if (whole.kind === 'tls') {
      if (p.status !== 'ok' || p.hello.sni !== whole.sni || !isDeepStrictEqual(p.hello.alpn, whole.alpn)) {
        fail('tls-agrees', `detect ${JSON.stringify(whole)} vs parser ${JSON.stringify(p)}`);
      }
    } else if (p.status === 'ok') {
      fail('tls-agrees', `parser found a hello but detect said ${JSON.stringify(whole)}`);
    }
  } else if (whole.kind === 'tls') {
    fail('tls-agrees', 'tls answer for input not starting with 0x16');
  }
  return whole;
}

const positive = (r: DetectResult) => r.kind === 'tls' || r.kind === 'h2' || r.kind === 'http1';

/**
 * The connection handler's PrefixDetector on one split of the input: one byte per read when
 * every prefix answer is known (short inputs), else pieces of 1-97 bytes from a generator seeded
 * by the input. Each answer must be detect() of the bytes seen, a positive one at the same piece
 * where detect() first gives it, and settle() detect() of everything.
 */
function checkIncremental(input: Buffer, known: Map<number, DetectResult>): void {
  const truth = (n: number) => known.get(n) ?? guarded('detect', () => detect(input.subarray(0, n)));
  const d = new PrefixDetector();
  const bytewise = input.length <= 600 && known.size > input.length;
  let x = (input.length * 2654435761 + (input[0] ?? 0) * 97 + (input[input.length - 1] ?? 0)) >>> 0 || 1;
  let at = 0;
  while (at < input.length) {
    let size = 1;
    if (!bytewise) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      size = 1 + ((x >>> 0) % 97);
    }
    const piece = input.subarray(at, at + size);
    at += piece.length;
    const r = guarded('PrefixDetector.push', () => d.push(piece));
    const t = truth(at);
    if (r.kind === 'need-more') {
      if (positive(t)) fail('incremental-agrees', `need-more after ${at} bytes where detect() answers ${JSON.stringify(t)}`);
      continue;
    }
    if (!isDeepStrictEqual(r, t)) fail('incremental-agrees', `answered ${JSON.stringify(r)} after ${at} bytes, detect() ${JSON.stringify(t)}`);
    return;
  }
  const last = guarded('PrefixDetector.settle', () => d.settle());
  if (!isDeepStrictEqual(last, truth(input.length))) fail('incremental-agrees', `settle() ${JSON.stringify(last)} vs detect() ${JSON.stringify(truth(input.length))}`);
}
