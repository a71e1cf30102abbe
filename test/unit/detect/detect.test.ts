import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { detect, DETECT_MAX_BYTES, H2_PREFACE, type DetectResult } from '../../../proxy/accept/detect/detect';
import { checkDetectInvariants } from '../../../proxy/accept/detect/invariants';
import { paddedHello, records, unwrapRecords } from '../../support/detect/hello-builder';
import { captureRealClients, type RealClient } from '../../support/detect/real-clients';
import { captureRealHellos, type RealHello } from '../../support/detect/real-hellos';
import { checkPieces } from '../../support/detect/pieces';
import { SAMPLES } from '../../support/detect/samples';
import * as fuzzTarget from '../../../fuzz/targets/detect';

const b = (s: string) => Buffer.from(s, 'latin1');

/** Drop the free-text detail of opaque answers; tests match on the stable reason. */
function strip(r: DetectResult): DetectResult {
  return r.kind === 'opaque' ? { kind: 'opaque', reason: r.reason } : r;
}

/** The shortest prefix length with an answer, and that answer. */
function firstAnswer(bytes: Buffer): { at: number; result: DetectResult } {
  for (let n = 0; n <= bytes.length; n++) {
    const result = detect(bytes.subarray(0, n));
    if (result.kind !== 'need-more') return { at: n, result };
  }
  return { at: -1, result: { kind: 'need-more' } };
}

describe('detect: protocol samples', () => {
  it('asks for more on an empty prefix', () => {
    assert.deepEqual(detect(Buffer.alloc(0)), { kind: 'need-more' });
  });

  for (const s of SAMPLES) {
    it(`${s.name} → ${s.expect.kind}${s.expect.kind === 'opaque' ? ` (${s.expect.reason})` : ''}`, () => {
      assert.deepEqual(strip(detect(s.bytes)), s.expect);
      checkDetectInvariants(s.bytes);
    });
  }

  it('answers h2 only with the full 24-byte preface, and need-more before', () => {
    for (let n = 1; n < 24; n++) assert.equal(detect(H2_PREFACE.subarray(0, n)).kind, 'need-more', `${n} bytes`);
    assert.deepEqual(detect(H2_PREFACE), { kind: 'h2' });
    assert.deepEqual(strip(detect(b('PRI * HTTP/1'))), { kind: 'opaque', reason: 'http1-bad-target' });
  });

  it('answers HTTP/1 at the LF of the request line, not before', () => {
    const line = b('DELETE /items/7 HTTP/1.1\r\n');
    const { at, result } = firstAnswer(Buffer.concat([line, b('Host: x\r\n\r\n')]));
    assert.equal(at, line.length);
    assert.deepEqual(result, { kind: 'http1', method: 'DELETE', target: '/items/7', version: '1.1' });
  });

  it('accepts any RFC 9110 token as a method', () => {
    for (const method of ['M-SEARCH', 'get', "X!#$%&'*+-.^_`|~9", 'PURGE', 'PRI']) {
      assert.deepEqual(detect(b(`${method} /x HTTP/1.1\r\n`)), { kind: 'http1', method, target: '/x', version: '1.1' });
    }
  });

  it('answers opaque at the first byte that cannot start or continue a request line', () => {
    const early: Array<[string, Buffer, number, string]> = [
      ['NUL first byte', Buffer.from([0]), 1, 'unknown-protocol'],
      ['space first', b(' GET'), 1, 'unknown-protocol'],
      ['control char in method', b('GE\tT / HTTP/1.1\r\n'), 3, 'http1-bad-method'],
      ['control char in target', b('GET /\x01 HTTP/1.1\r\n'), 6, 'http1-bad-target'],
      ['redis RESP', b('*1\r\n$4\r\nPING\r\n'), 3, 'http1-bad-method'],
      ['asterisk for GET', b('GET * HTTP/1.1\r\n'), 5, 'http1-bad-target'],
      ['bad scheme char', b('GET ht~tp://x HTTP/1.1\r\n'), 7, 'http1-bad-target'],
      ['HTTP/3', b('GET / HTTPS/1.1\r\n'), 11, 'http1-bad-version'],
      ['version 1.9', b('GET / HTTP/1.9\r\n'), 14, 'http1-bad-version'],
      ['bare CR then junk', b('GET / HTTP/1.1\rX'), 16, 'http1-bad-version'],
      ['TLS alert record', Buffer.from([0x15, 3, 3]), 1, 'unknown-protocol'],
      ['TLS record v2', Buffer.from([0x16, 2, 0]), 2, 'tls-not-handshake-record'],
    ];
    for (const [name, bytes, at, reason] of early) {
      const first = firstAnswer(bytes);
      assert.equal(first.at, at, name);
      assert.deepEqual(strip(first.result), { kind: 'opaque', reason }, name);
    }
  });

  it('bounds an over-long request line by DETECT_MAX_BYTES', () => {
    const long = Buffer.concat([b('GET /'), Buffer.alloc(DETECT_MAX_BYTES, 0x61)]);
    assert.equal(detect(long.subarray(0, DETECT_MAX_BYTES - 1)).kind, 'need-more');
    assert.deepEqual(detect(long.subarray(0, DETECT_MAX_BYTES)), { kind: 'opaque', reason: 'http1-line-too-long' });
    assert.deepEqual(detect(long), { kind: 'opaque', reason: 'http1-line-too-long' });
    // A request line that exactly fills the buffer, CRLF included, is still HTTP/1.
    const fit = Buffer.concat([b('GET /'), Buffer.alloc(DETECT_MAX_BYTES - 5 - 11, 0x61), b(' HTTP/1.1\r\n')]);
    assert.equal(fit.length, DETECT_MAX_BYTES);
    assert.equal(detect(fit).kind, 'http1');
    // Method tokens are bounded the same way.
    assert.deepEqual(detect(Buffer.alloc(DETECT_MAX_BYTES + 3, 0x41)), { kind: 'opaque', reason: 'http1-line-too-long' });
  });

  it('takes a ClientHello filling one maximal TLS record (DETECT_MAX_BYTES), but needs its last byte', () => {
    const max = paddedHello(DETECT_MAX_BYTES);
    assert.deepEqual(detect(max), { kind: 'tls', sni: 'big.example.test', alpn: ['h2'] });
    assert.equal(detect(max.subarray(0, -1)).kind, 'need-more');
    const frag = records(unwrapRecords(paddedHello(DETECT_MAX_BYTES - 10)), Array(40).fill(400));
    assert.deepEqual(strip(detect(frag)), { kind: 'opaque', reason: 'tls-too-large' });
  });
});

describe('detect: real TLS clients', () => {
  let hellos: RealHello[] = [];
  before(async () => {
    hellos = await captureRealHellos();
  });

  it('answers tls with SNI and ALPN for Node, openssl s_client and curl, at the hello\'s last byte', () => {
    for (const h of hellos) {
      const expected: DetectResult = h.sni === undefined ? { kind: 'tls', alpn: h.alpn } : { kind: 'tls', sni: h.sni, alpn: h.alpn };
      // Clients may send more after the hello (TLS 1.3 middlebox-compat CCS, early data).
      const stream = Buffer.concat([h.bytes, Buffer.from([0x14, 3, 3, 0, 1, 1])]);
      const first = firstAnswer(stream);
      assert.deepEqual(first.result, expected, h.name);
      assert.equal(first.at, h.bytes.length, h.name);
      checkDetectInvariants(stream);
    }
  });
});

describe('detect: real HTTP/1, h2, Redis and SMTP clients', () => {
  let clients: RealClient[] = [];
  before(async () => {
    clients = await captureRealClients();
  });

  it('answers what curl, nghttp, redis-cli and swaks really send, as soon as it is certain', () => {
    assert.equal(clients.length, 9);
    for (const c of clients) {
      const first = firstAnswer(c.bytes);
      assert.deepEqual(strip(first.result), c.expect, c.name);
      if (c.expect.kind === 'h2') assert.equal(first.at, 24, c.name);
      // HTTP/1 at the LF ending the request line; not-HTTP at the first byte that rules it out.
      const lineEnd = c.bytes.indexOf('\r\n') + 2;
      if (c.expect.kind === 'http1') assert.equal(first.at, lineEnd, c.name);
      if (c.expect.kind === 'opaque') assert.ok(first.at < lineEnd, `${c.name}: answered at ${first.at}`);
      checkDetectInvariants(c.bytes);
    }
  });
});

// ---- properties -------------------------------------------------------------------------------

const tchar = fc.constantFrom(...'!#$%&\'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''));
const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const word = (chars: fc.Arbitrary<string>, max: number) => fc.array(chars, { minLength: 1, maxLength: max }).map((a) => a.join(''));
const requestLine = fc.oneof(
  fc.tuple(word(tchar, 10), word(vchar, 40)).map(([m, p]) => `${m} /${p}`),
  word(vchar, 30).map((p) => `GET http://h.example:80/${p}`),
  fc.constant('OPTIONS *'),
  fc.tuple(word(fc.constantFrom(...'abc.-9'.split('')), 20), fc.integer({ min: 0, max: 65535 })).map(([h, p]) => `CONNECT ${h}:${p}`),
).chain((start) => fc.constantFrom(`${start} HTTP/1.1\r\n`, `${start} HTTP/1.0\r\n`, `${start} HTTP/1.1\r\nHost: a\r\n\r\n`));

/** Valid starts (real captures, preface, request lines, samples) or junk, optionally damaged. */
function streams(captured: Buffer[]): fc.Arbitrary<Buffer> {
  const valid = fc.oneof(
    fc.constantFrom(...captured),
    fc.constantFrom(...SAMPLES.map((s) => s.bytes)),
    fc.constant(H2_PREFACE),
    requestLine.map((s) => Buffer.from(s, 'latin1')),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  );
  const damage = fc.record({
    flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    tail: fc.uint8Array({ maxLength: 32 }),
  });
  return fc.tuple(valid, damage).map(([v, { flip, cut, tail }]) => {
    let out = Buffer.from(v);
    if (flip && out.length > 0) out[flip[0] % out.length] = flip[1];
    if (cut !== undefined) out = out.subarray(0, cut % (out.length + 1));
    return Buffer.concat([out, Buffer.from(tail)]);
  });
}

describe('detect: properties (fast-check)', () => {
  let captured: Buffer[] = []; // real hellos and real client first flights
  before(async () => {
    captured = (await captureRealHellos()).map((h) => h.bytes);
    captured.push(...(await captureRealClients()).map((c) => c.bytes));
  });

  it('is monotone over every prefix: need-more, then one answer that never changes', () => {
    fc.assert(
      fc.property(streams(captured), (input) => {
        checkDetectInvariants(input); // every prefix length for inputs up to 600 bytes
      }),
      { numRuns: 400, includeErrorInReport: true },
    );
  });

  it('gives the same answer however the bytes are split into chunks', () => {
    fc.assert(
      fc.property(streams(captured), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (input, sizes) => {
        // As the connection handler does: append each chunk, ask, stop at the first answer.
        let seen = Buffer.alloc(0);
        let answer: DetectResult = { kind: 'need-more' };
        let at = 0;
        for (const size of [...sizes, input.length]) {
          if (at >= input.length) break;
          seen = Buffer.concat([seen, input.subarray(at, at + size)]);
          at += size;
          answer = detect(seen);
          if (answer.kind !== 'need-more') break;
        }
        const whole = detect(input);
        if (answer.kind === 'need-more') assert.equal(whole.kind, 'need-more');
        else assert.deepEqual(answer, whole);
        // The connection handler's incremental detector (proxy/accept/read-prefix.ts) on the same split.
        checkPieces(input, sizes);
      }),
      { numRuns: 500, includeErrorInReport: true },
    );
  });

  it('never throws and never asks for more past DETECT_MAX_BYTES', () => {
    // Generated as small parameters (the buffer is built inside) so a failure report stays short.
    const big = fc.record({
      first: fc.constantFrom(0x16, 0x41, 0x50, -1),
      fill: fc.integer({ min: -1, max: 255 }), // -1: pseudo-random bytes
      len: fc.integer({ min: DETECT_MAX_BYTES - 2, max: DETECT_MAX_BYTES + 50 }),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
    });
    const build = ({ first, fill, len, seed }: { first: number; fill: number; len: number; seed: number }) => {
      const out = Buffer.alloc(len, fill < 0 ? 0 : fill);
      if (fill < 0) {
        let x = seed;
        for (let i = 0; i < len; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          out[i] = x & 0xff;
        }
      }
      if (first >= 0) out[0] = first;
      if (first === 0x16) out.set([3, 1, 0x40, 0, 1, 0, 0x3f, 0xfb], 1); // a plausible 16 KiB hello header
      return out;
    };
    fc.assert(
      fc.property(big, (params) => {
        const input = build(params);
        const lengths = [0, 1, 9, DETECT_MAX_BYTES - 1, DETECT_MAX_BYTES, input.length];
        const r = checkDetectInvariants(input, lengths);
        if (input.length >= DETECT_MAX_BYTES) assert.notEqual(r.kind, 'need-more');
      }),
      { numRuns: 60, includeErrorInReport: true },
    );
  });
});

const REAL_HELLO_FILES = ['tls-node-h2.bin', 'tls-node-no-sni.bin', 'tls-openssl.bin', 'tls-openssl-fragmented.bin', 'tls-curl-h2.bin'];
const REAL_H2_FILES = ['curl-h2-prior-knowledge.bin', 'nghttp-h2-prior-knowledge.bin'];

describe('fuzz target detect', () => {
  it('has the shape the fuzz runner drives, and passes on every seed corpus file', () => {
    assert.equal(fuzzTarget.name, 'detect');
    assert.ok(fuzzTarget.properties.includes('monotone'));
    assert.equal(fuzzTarget.default.run, fuzzTarget.run);
    // dist/test/unit/detect → repository root
    const dir = join(__dirname, '..', '..', '..', '..', 'fuzz', 'corpus', 'detect');
    const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));
    assert.ok(files.length >= 45, `${files.length} seed files`);
    const kinds = new Set<string>();
    for (const f of files) {
      const bytes = readFileSync(join(dir, f));
      fuzzTarget.run(bytes);
      kinds.add(detect(bytes).kind);
      if (REAL_HELLO_FILES.includes(f)) assert.equal(detect(bytes).kind, 'tls', f);
      if (REAL_H2_FILES.includes(f)) assert.equal(detect(bytes).kind, 'h2', f);
    }
    assert.deepEqual([...kinds].sort(), ['h2', 'http1', 'opaque', 'tls']);
  });
});
