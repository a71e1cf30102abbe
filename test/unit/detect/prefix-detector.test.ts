import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { detect, DETECT_MAX_BYTES, type DetectResult } from '../../../proxy/accept/detect/detect';
import { PrefixDetector } from '../../../proxy/accept/detect/prefix-detector';
import { checkPieces } from '../../support/detect/pieces';
import { alpnExt, EXT_PADDING, ext, handshake, helloBody, paddedHello, records, sniExt } from '../../support/detect/hello-builder';

describe('PrefixDetector: bounded work', () => {
  it('a 16 KiB ClientHello trickled one byte per read: tls at its last byte, a few dozen detect() runs over O(n) bytes', () => {
    const hello = paddedHello(DETECT_MAX_BYTES);
    assert.equal(hello.length, 16389);
    const d = new PrefixDetector();
    for (let i = 0; i < hello.length; i++) {
      const r = d.push(hello.subarray(i, i + 1));
      if (i < hello.length - 1) assert.equal(r.kind, 'need-more', `answered at byte ${i + 1}`);
      else assert.deepEqual(r, { kind: 'tls', sni: 'big.example.test', alpn: ['h2'] });
    }
    // Re-running on every read was 16,389 runs over 134 MB; now: 63 while short, one per
    // doubling, one when the handshake length is known, one at the last byte.
    assert.ok(d.runs <= 80, `${d.runs} detect() runs`);
    assert.ok(d.scanned <= 4 * hello.length, `${d.scanned} bytes scanned for a ${hello.length}-byte hello`);
  });

  it('the same hello fragmented into one-byte TLS records: still bounded (no run per record)', () => {
    const msg = handshake(helloBody({ extensions: [sniExt('frag.example'), alpnExt('h2'), ext(EXT_PADDING, Buffer.alloc(2000))] }));
    const stream = records(msg, new Array(msg.length).fill(1));
    assert.ok(stream.length > 12000 && stream.length < DETECT_MAX_BYTES, `${stream.length}`);
    const d = checkPieces(stream, new Array(stream.length).fill(1));
    assert.ok(d.runs <= 80, `${d.runs} detect() runs`);
    assert.ok(d.scanned <= 4 * stream.length, `${d.scanned} bytes scanned`);
    assert.equal(d.settle().kind, 'tls');
  });

  it('an HTTP/1 request line of 16 KiB trickled one byte per read: http1 at its LF, bounded runs', () => {
    const line = Buffer.from(`GET /${'a'.repeat(16000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1');
    const d = new PrefixDetector();
    const lf = line.indexOf('\n');
    for (let i = 0; i < line.length; i++) {
      const r = d.push(line.subarray(i, i + 1));
      if (i < lf) assert.equal(r.kind, 'need-more');
      else {
        assert.equal(r.kind, 'http1', `at byte ${i + 1}`);
        assert.equal(i, lf);
        break;
      }
    }
    assert.ok(d.runs <= 80, `${d.runs} detect() runs`);
    assert.ok(d.scanned <= 4 * line.length);
  });

  it('a line that never ends answers opaque when the buffer is full; a silent-after-junk client gets its answer from settle()', () => {
    const d = new PrefixDetector();
    const junk = Buffer.alloc(DETECT_MAX_BYTES + 10, 0x61);
    let r: DetectResult = { kind: 'need-more' };
    for (let i = 0; i < junk.length && r.kind === 'need-more'; i += 7) r = d.push(junk.subarray(i, i + 7));
    assert.deepEqual(r, { kind: 'opaque', reason: 'http1-line-too-long' });
    assert.ok(d.runs <= 80, `${d.runs}`);

    // "GET /x y" is already opaque at the 'y'; trickled past 64 bytes the schedule may not have
    // looked yet, but settle() (the detect timeout) answers what detect() answers.
    const e = new PrefixDetector();
    const bytes = Buffer.from(`GET /${'b'.repeat(80)} yz`, 'latin1');
    for (let i = 0; i < bytes.length; i++) e.push(bytes.subarray(i, i + 1));
    assert.deepEqual(e.settle(), detect(bytes));
    assert.equal(e.settle().kind, 'opaque');
  });

  it('the first read is handed to detect() without a copy and decides the usual case in one run', () => {
    const d = new PrefixDetector();
    assert.equal(d.push(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')).kind, 'http1');
    assert.equal(d.runs, 1);
    assert.equal(d.push(Buffer.from('more')).kind, 'http1', 'the answer stays');
    assert.equal(d.runs, 1);
  });
});

describe('PrefixDetector: properties (fast-check)', () => {
  const helloStream = fc
    .record({
      pad: fc.integer({ min: 0, max: 15000 }),
      recordSizes: fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 6 }),
      flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 16 }),
    })
    .map(({ pad, recordSizes, flip, cut, tail }) => {
      const msg = handshake(helloBody({ extensions: [sniExt('p.example'), alpnExt('h2', 'http/1.1'), ext(EXT_PADDING, Buffer.alloc(pad))] }));
      let out = Buffer.from(records(msg, recordSizes));
      if (flip) out[flip[0] % out.length] = flip[1];
      if (cut !== undefined) out = out.subarray(0, cut % (out.length + 1));
      return Buffer.concat([out, Buffer.from(tail)]);
    });
  const httpStream = fc
    .record({ len: fc.integer({ min: 0, max: 17000 }), bad: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }) })
    .map(({ len, bad }) => {
      const out = Buffer.from(`POST /${'p'.repeat(len)} HTTP/1.1\r\nHost: a\r\n\r\n`, 'latin1');
      if (bad) out[bad[0] % out.length] = bad[1];
      return out;
    });
  const pieces = fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 60 });

  it('answers as detect() on the bytes seen, positive answers at the same read, whatever the split', () => {
    fc.assert(
      fc.property(fc.oneof(helloStream, httpStream), pieces, fc.boolean(), (input, sizes, bytewise) => {
        checkPieces(input, bytewise ? new Array(Math.min(input.length, 3000)).fill(1) : sizes);
      }),
      { numRuns: 150, includeErrorInReport: true },
    );
  });
});
