import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ClientHelloError, parseClientHello, parseClientHelloBody, TLS_MAX_RECORD_PAYLOAD, type ClientHelloResult } from '../../../proxy/accept/detect/client-hello';
import { detect, DETECT_MAX_BYTES } from '../../../proxy/accept/detect/detect';
import { checkDetectInvariants } from '../../../proxy/accept/detect/invariants';
import {
  alpnExt,
  ext,
  handshake,
  helloBody,
  paddedHello,
  recordCount,
  records,
  sniExt,
  supportedVersionsExt,
  unwrapRecords,
} from '../../support/detect/hello-builder';
import { captureRealHellos, type RealHello } from '../../support/detect/real-hellos';

function ok(r: ClientHelloResult) {
  assert.equal(r.status, 'ok', JSON.stringify(r));
  if (r.status !== 'ok') throw new Error('unreachable');
  return r.hello;
}

function problem(r: ClientHelloResult): string {
  assert.equal(r.status, 'invalid', JSON.stringify(r));
  return r.status === 'invalid' ? r.problem : '';
}

/** The shortest prefix of `bytes` that is no longer need-more, and its result. */
function firstAnswer(bytes: Buffer): { at: number; result: ClientHelloResult } {
  for (let n = 0; n <= bytes.length; n++) {
    const result = parseClientHello(bytes.subarray(0, n));
    if (result.status !== 'need-more') return { at: n, result };
  }
  return { at: -1, result: { status: 'need-more' } };
}

describe('parseClientHello on real clients', () => {
  let hellos: RealHello[] = [];
  before(async () => {
    hellos = await captureRealHellos();
  });

  it('reads SNI and ALPN of Node, openssl s_client and curl hellos', () => {
    assert.equal(hellos.length, 7);
    for (const h of hellos) {
      const hello = ok(parseClientHello(h.bytes));
      assert.equal(hello.sni, h.sni, h.name);
      assert.deepEqual(hello.alpn, h.alpn, h.name);
      assert.equal(hello.streamBytes, h.bytes.length, `${h.name}: the capture holds exactly the hello`);
      assert.equal(hello.legacyVersion, 0x0303, h.name);
      assert.ok(hello.cipherSuites.length > 0, h.name);
      assert.equal(recordCount(h.bytes) > 1, h.multiRecord, `${h.name}: record count ${recordCount(h.bytes)}`);
    }
  });

  it('sees which clients offer TLS 1.3', () => {
    const byName = new Map(hellos.map((h) => [h.name, ok(parseClientHello(h.bytes))]));
    assert.ok(byName.get('tls-node-tls13-only')!.supportedVersions.includes(0x0304));
    assert.ok(!byName.get('tls-node-tls13-only')!.supportedVersions.includes(0x0303));
    assert.ok(byName.get('tls-curl-h2')!.supportedVersions.includes(0x0304));
    assert.deepEqual(byName.get('tls-curl-tls12-http11')!.supportedVersions, []);
  });

  it('asks for more on every strict prefix of a real hello, even across a record boundary', () => {
    for (const h of hellos) {
      const { at } = firstAnswer(h.bytes);
      assert.equal(at, h.bytes.length, h.name);
    }
  });

  it('parses the same hello when the handshake is re-split over records of any size', () => {
    const msgs = hellos.map((h) => unwrapRecords(h.bytes));
    fc.assert(
      fc.property(fc.nat(msgs.length - 1), fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 12 }), (k, sizes) => {
        const stream = records(msgs[k], sizes);
        const hello = ok(parseClientHello(stream));
        const original = ok(parseClientHello(hellos[k].bytes));
        assert.deepEqual({ ...hello, streamBytes: 0 }, { ...original, streamBytes: 0 });
        assert.equal(hello.streamBytes, stream.length);
      }),
      { numRuns: 300, includeErrorInReport: true },
    );
  });

  it('never throws, never reads out of range, on mutated and truncated real hellos', () => {
    // checkDetectInvariants: no throw; only integer fields (an out-of-range Buffer read yields
    // undefined → NaN); a decided parse is unchanged by appended bytes; detect agrees with it.
    const mutation = fc.record({
      k: fc.nat(hellos.length - 1),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })), { nil: undefined }),
    });
    fc.assert(
      fc.property(mutation, ({ k, flips, cut, insert }) => {
        let b = Buffer.from(hellos[k].bytes);
        for (const [at, v] of flips) b[at % b.length] = v;
        if (insert) {
          const at = insert[0] % b.length;
          b = Buffer.concat([b.subarray(0, at), Buffer.from(insert[1]), b.subarray(at)]);
        }
        if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
        // A limited spread of prefixes keeps 1000 runs fast; the full sweep is in detect.test.ts.
        const lengths = [0, 1, 5, 9, 44, 100, b.length >> 1, b.length - 1, b.length].filter((n) => n >= 0 && n <= b.length);
        checkDetectInvariants(b, lengths);
      }),
      { numRuns: 1000, includeErrorInReport: true },
    );
  });
});

describe('parseClientHello on built hellos', () => {
  it('accepts a hello with no extensions at all (pre-TLS 1.2 style)', () => {
    const hello = ok(parseClientHello(records(handshake(helloBody({ extensions: null })))));
    assert.equal(hello.sni, undefined);
    assert.deepEqual(hello.alpn, []);
    assert.deepEqual(hello.extensionTypes, []);
  });

  it('lower-cases SNI, skips unknown name types, keeps ALPN order', () => {
    const unknownType = ext(0, Buffer.from([0, 9, 7, 0, 2, 0x61, 0x62, 0, 0, 1, 0x78])); // type 7 "ab", then host "x"
    const hello = ok(parseClientHello(records(handshake(helloBody({ extensions: [unknownType, alpnExt('http/1.1', 'h2')] })))));
    assert.equal(hello.sni, 'x');
    assert.deepEqual(hello.alpn, ['http/1.1', 'h2']);
    assert.equal(ok(parseClientHello(records(handshake(helloBody({ extensions: [sniExt('WeB.Demo')] }))))).sni, 'web.demo');
  });

  it('forgets the extensions of a rejected hello (the duplicate check keeps no state between calls)', () => {
    assert.equal(problem(parseClientHello(records(handshake(helloBody({ extensions: [ext(77, Buffer.alloc(0)), alpnExt('h2'), alpnExt('h2')] }))))), 'malformed');
    assert.deepEqual(ok(parseClientHello(records(handshake(helloBody({ extensions: [ext(77, Buffer.alloc(0)), alpnExt('h2')] }))))).extensionTypes, [77, 16]);
  });

  it('parses a hostile hello of 4000 empty extensions in well under a millisecond', () => {
    // detect() re-parses the whole prefix whenever bytes arrive, so the per-extension cost bounds
    // what a client trickling such a hello can burn. Best of 5 batches, to ride out a busy CI box.
    const exts = Array.from({ length: 4000 }, (_, i) => ext(1000 + i, Buffer.alloc(0)));
    const hostile = records(handshake(helloBody({ extensions: exts })));
    assert.equal(ok(parseClientHello(hostile)).extensionTypes.length, 4000);
    let best = Infinity;
    for (let batch = 0; batch < 5; batch++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) parseClientHello(hostile);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 20 / 1e6);
    }
    assert.ok(best < 2, `${best.toFixed(3)} ms per parse`);
  });

  it('gives a typed error from parseClientHelloBody', () => {
    const msg = handshake(helloBody({ extensions: [sniExt('a.test'), supportedVersionsExt(0x0304)] }));
    assert.equal(parseClientHelloBody(msg).sni, 'a.test');
    assert.deepEqual(parseClientHelloBody(msg).supportedVersions, [0x0304]);
    assert.throws(
      () => parseClientHelloBody(handshake(helloBody(), 2)),
      (e: unknown) => e instanceof ClientHelloError && e.code === 'LINNET_DETECT_BAD_CLIENT_HELLO' && e.problem === 'not-client-hello',
    );
    assert.throws(() => parseClientHelloBody(msg.subarray(0, msg.length - 1)), ClientHelloError);
  });

  // Each malformed hello must be rejected, and as soon as the bad byte is in: `at` is the
  // number of stream bytes needed to see the fault.
  const R = 5; // record header
  const H = R + 4; // + handshake header
  const S = H + 2 + 32; // start of the session id length byte
  const cases: Array<{ name: string; bytes: Buffer; problem: string; at: number }> = [
    { name: 'content type not handshake', bytes: Buffer.from([0x17, 3, 3, 0, 5]), problem: 'not-handshake-record', at: 1 },
    { name: 'record major version 2', bytes: Buffer.from([0x16, 2, 0, 0, 5]), problem: 'not-handshake-record', at: 2 },
    { name: 'record version 3.5', bytes: Buffer.from([0x16, 3, 5, 0, 5]), problem: 'not-handshake-record', at: 3 },
    { name: 'zero-length record', bytes: Buffer.from([0x16, 3, 1, 0, 0]), problem: 'bad-record-length', at: 5 },
    { name: 'record over 2^14', bytes: records(handshake(helloBody()), []).fill(0x41, 3, 4), problem: 'bad-record-length', at: 5 },
    { name: 'server hello', bytes: records(handshake(helloBody(), 2)), problem: 'not-client-hello', at: R + 1 },
    { name: 'legacy_version 2.0', bytes: records(handshake(helloBody({ version: 0x0200 }))), problem: 'malformed', at: H + 2 },
    { name: 'session id of 33 bytes', bytes: records(handshake(helloBody({ sessionId: Buffer.alloc(33) }))), problem: 'malformed', at: S + 1 },
    { name: 'odd cipher_suites length', bytes: records(handshake(Buffer.concat([helloBody({ extensions: null }).subarray(0, 67), Buffer.from([0, 3, 0x13, 1, 0x13, 1, 0])]))), problem: 'malformed', at: S + 1 + 32 + 2 },
    { name: 'no compression methods', bytes: records(handshake(helloBody({ compression: [], extensions: null }))), problem: 'malformed', at: S + 1 + 32 + 2 + 4 + 1 },
    {
      name: 'extensions length disagrees with the handshake length',
      bytes: records(handshake(Buffer.concat([helloBody({ extensions: null }), Buffer.from([0, 8]), alpnExt('h2')]))),
      problem: 'malformed',
      at: S + 1 + 32 + 2 + 4 + 2 + 2,
    },
    { name: 'duplicate extension', bytes: records(handshake(helloBody({ extensions: [alpnExt('h2'), alpnExt('h2')] }))), problem: 'malformed', at: -1 },
    { name: 'two host_names', bytes: records(handshake(helloBody({ extensions: [sniExt('a.test', 'b.test')] }))), problem: 'malformed', at: -1 },
    { name: 'host_name with a NUL', bytes: records(handshake(helloBody({ extensions: [sniExt('evil\0.test')] }))), problem: 'malformed', at: -1 },
    { name: 'empty host_name', bytes: records(handshake(helloBody({ extensions: [sniExt('')] }))), problem: 'malformed', at: -1 },
    { name: 'empty ALPN protocol', bytes: records(handshake(helloBody({ extensions: [alpnExt('h2', '')] }))), problem: 'malformed', at: -1 },
    { name: 'ALPN list longer than its extension', bytes: records(handshake(helloBody({ extensions: [ext(16, Buffer.from([0, 9, 2, 0x68, 0x32]))] }))), problem: 'malformed', at: -1 },
    { name: 'extension running past the block', bytes: records(handshake(helloBody({ extensions: [Buffer.from([0, 21, 0, 50, 0, 0])] }))), problem: 'malformed', at: -1 },
    {
      name: 'alert record interleaved in a fragmented hello',
      bytes: Buffer.concat([records(handshake(helloBody()), [20]).subarray(0, 25), Buffer.from([0x15, 3, 3, 0, 2, 2, 40])]),
      problem: 'not-handshake-record',
      at: 26,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}${c.at > 0 ? ` after ${c.at} bytes` : ''}`, () => {
      const whole = parseClientHello(c.bytes);
      assert.equal(problem(whole), c.problem);
      const first = firstAnswer(c.bytes);
      assert.deepEqual(first.result, whole, 'the first answer is the final one');
      if (c.at > 0) assert.equal(first.at, c.at);
    });
  }

  it('recovers exactly what a generated hello carries, over any record split (round trip)', () => {
    const host = fc.array(fc.integer({ min: 0x21, max: 0x7e }), { minLength: 1, maxLength: 80 }).map((a) => Buffer.from(a).toString('latin1'));
    const protocol = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((a) => Buffer.from(a).toString('latin1'));
    const reserved = new Set([0, 16, 43]);
    const parts = fc.record({
      sessionId: fc.uint8Array({ maxLength: 32 }),
      suites: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 40 }),
      compression: fc.uint8Array({ minLength: 1, maxLength: 3 }),
      sni: fc.option(host, { nil: undefined }),
      alpn: fc.option(fc.array(protocol, { minLength: 1, maxLength: 8 }), { nil: undefined }),
      versions: fc.option(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 6 }), { nil: undefined }),
      others: fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 0xffff }).filter((t) => !reserved.has(t)), fc.uint8Array({ maxLength: 40 })), { maxLength: 10, selector: ([t]) => t }),
      order: fc.nat(),
      sizes: fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 8 }),
    });
    fc.assert(
      fc.property(parts, (p) => {
        const exts = p.others.map(([t, data]) => ext(t, Buffer.from(data)));
        const known: Array<[number, Buffer]> = [];
        if (p.sni !== undefined) known.push([0, sniExt(p.sni)]);
        if (p.alpn !== undefined) known.push([16, alpnExt(...p.alpn)]);
        if (p.versions !== undefined) known.push([43, supportedVersionsExt(...p.versions)]);
        for (const [, e] of known) exts.splice(p.order % (exts.length + 1), 0, e);
        const stream = records(
          handshake(helloBody({ sessionId: Buffer.from(p.sessionId), suites: p.suites, compression: [...p.compression], extensions: exts })),
          p.sizes,
        );
        const hello = ok(parseClientHello(stream));
        assert.equal(hello.sni, p.sni?.toLowerCase());
        assert.deepEqual(hello.alpn, p.alpn ?? []);
        assert.deepEqual(hello.supportedVersions, p.versions ?? []);
        assert.deepEqual(hello.cipherSuites, p.suites);
        assert.equal(hello.extensionTypes.length, exts.length);
        assert.equal(hello.streamBytes, stream.length);
        // And detect() reports the same, once the last byte is in.
        const expected = p.sni === undefined ? { kind: 'tls', alpn: p.alpn ?? [] } : { kind: 'tls', sni: p.sni.toLowerCase(), alpn: p.alpn ?? [] };
        assert.deepEqual(detect(stream), expected);
        assert.equal(detect(stream.subarray(0, -1)).kind, 'need-more');
      }),
      { numRuns: 500, includeErrorInReport: true },
    );
  });

  it('takes a single-record hello of the largest record size, and no byte more', () => {
    const max = paddedHello(DETECT_MAX_BYTES);
    assert.equal(max.length, DETECT_MAX_BYTES);
    assert.equal(max.readUInt16BE(3), TLS_MAX_RECORD_PAYLOAD);
    assert.equal(ok(parseClientHello(max)).sni, 'big.example.test');
    assert.equal(parseClientHello(max.subarray(0, -1)).status, 'need-more');
    // A handshake length one larger cannot fit: known from the 9-byte header already.
    const msg = handshake(Buffer.alloc(TLS_MAX_RECORD_PAYLOAD - 3));
    const tooBig = records(msg, [1000]);
    const first = firstAnswer(tooBig);
    assert.equal(problem(first.result), 'too-large');
    assert.equal(first.at, 9);
  });

  it('gives up with too-large when a fragmented hello does not complete within the budget', () => {
    // Fits by its declared length, but the extra record headers push it past the budget.
    const big = unwrapRecords(paddedHello(DETECT_MAX_BYTES - 10));
    const stream = records(big, Array(40).fill(400));
    assert.ok(stream.length > DETECT_MAX_BYTES);
    assert.equal(parseClientHello(stream.subarray(0, DETECT_MAX_BYTES - 1)).status, 'need-more');
    assert.equal(problem(parseClientHello(stream.subarray(0, DETECT_MAX_BYTES))), 'too-large');
    assert.equal(problem(parseClientHello(stream)), 'too-large');
    // With a bigger budget the same stream is fine.
    assert.equal(ok(parseClientHello(stream, 1 << 20)).streamBytes, stream.length);
  });
});
