/**
 * The pure parts an HTTP/2 connection is built from, each on its own: the header sections a
 * stream may receive, the peer's SETTINGS, the rapid-reset budget, CONTINUATION assembly and
 * the peer's concurrency limit on our requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { settingsFrame } from './frames';
import { H2Code } from './grpc-status';
import { H2Error } from './h2-error';
import { HeaderBlockAssembler } from './header-block';
import { readPeerSettings } from './peer-settings';
import { RESET_BURST, RESETS_PER_SECOND, ResetBudget } from './reset-budget';
import { LocalStreamLimit } from './stream-limit';
import { sectionOnStream, type SectionState } from './stream-sections';
import type { H2Stream } from './stream';

const fresh = (over: Partial<SectionState> = {}): SectionState => ({ remoteEnded: false, headersIn: false, head: false, expectedLength: -1, receivedLength: 0, ...over });
const payload = (frame: Buffer): Buffer => frame.subarray(9);
const h2Code = (fn: () => unknown): number => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof H2Error);
    return err.h2Code;
  }
  assert.fail('no error');
};

test('sections on an open stream: 1xx then the response, trailers last, and each misuse a stream error', () => {
  assert.deepEqual(sectionOnStream(fresh(), [':status', '100'], 10, false, 1000), { kind: 'informational' });
  assert.deepEqual(sectionOnStream(fresh(), [':status', '200', 'content-length', '5'], 10, false, 1000), { kind: 'final', expectedLength: 5 });
  // HEAD, 204 and 304 declare a length they do not carry.
  assert.deepEqual(sectionOnStream(fresh({ head: true }), [':status', '200', 'content-length', '5'], 10, true, 1000), { kind: 'final', expectedLength: -1 });
  assert.deepEqual(sectionOnStream(fresh(), [':status', '304', 'content-length', '5'], 10, true, 1000), { kind: 'final', expectedLength: -1 });
  assert.deepEqual(sectionOnStream(fresh({ headersIn: true }), ['grpc-status', '0'], 10, true, 1000), { kind: 'trailers' });
  const errors: [SectionState, string[], number, boolean, string, number][] = [
    [fresh({ remoteEnded: true }), [':status', '200'], 10, true, 'HEADERS after END_STREAM', H2Code.STREAM_CLOSED],
    [fresh(), [':status', '200'], 2000, false, 'a header list of 2000 bytes', H2Code.PROTOCOL_ERROR],
    [fresh(), [':status', '100'], 10, true, 'an informational response with END_STREAM', H2Code.PROTOCOL_ERROR],
    [fresh(), [':status', '200', 'content-length', '5'], 10, true, 'content-length without a body', H2Code.PROTOCOL_ERROR],
    [fresh({ headersIn: true }), ['x', 'y'], 10, false, 'trailers without END_STREAM', H2Code.PROTOCOL_ERROR],
    [fresh({ headersIn: true, expectedLength: 5, receivedLength: 3 }), ['x', 'y'], 10, true, 'a body shorter than its content-length', H2Code.PROTOCOL_ERROR],
  ];
  for (const [state, fields, size, end, why, code] of errors) assert.deepEqual(sectionOnStream(state, fields, size, end, 1000), { kind: 'error', why, code });
  // Malformed sections (semantics.ts) are errors too: a pseudo-header in trailers, a response without :status.
  assert.equal(sectionOnStream(fresh({ headersIn: true }), [':status', '200'], 10, true, 1000).kind, 'error');
  assert.equal(sectionOnStream(fresh(), ['server', 'x'], 10, false, 1000).kind, 'error');
});

test("the peer's SETTINGS: values in bounds taken (the last of a repeat), values out of bounds a connection error of the right code", () => {
  assert.deepEqual(readPeerSettings(payload(settingsFrame([[1, 0], [3, 7], [4, 1 << 20], [5, 32_768], [6, 9], [0x99, 1]]))), {
    headerTableSize: 0,
    maxConcurrentStreams: 7,
    initialWindowSize: 1 << 20,
    maxFrameSize: 32_768,
  });
  assert.deepEqual(readPeerSettings(payload(settingsFrame([[3, 7], [3, 9]]))), { maxConcurrentStreams: 9 });
  assert.equal(h2Code(() => readPeerSettings(payload(settingsFrame([[2, 2]])))), H2Code.PROTOCOL_ERROR);
  assert.equal(h2Code(() => readPeerSettings(payload(settingsFrame([[4, 2 ** 31]])))), H2Code.FLOW_CONTROL_ERROR);
  assert.equal(h2Code(() => readPeerSettings(payload(settingsFrame([[5, 16_383]])))), H2Code.PROTOCOL_ERROR);
  assert.equal(h2Code(() => readPeerSettings(payload(settingsFrame([[5, 2 ** 24]])))), H2Code.PROTOCOL_ERROR);
});

test('the rapid-reset budget: a burst, then its steady rate, and nothing kept past the burst', () => {
  const t0 = 1_000_000;
  const b = new ResetBudget(t0);
  for (let i = 0; i < RESET_BURST; i++) assert.ok(b.take(t0));
  assert.equal(b.take(t0), false);
  // One second later, about RESETS_PER_SECOND more (the failed take above spent one).
  let n = 0;
  while (b.take(t0 + 1000)) n++;
  assert.ok(n >= RESETS_PER_SECOND - 2 && n <= RESETS_PER_SECOND, `${n}`);
  const idle = new ResetBudget(t0);
  let m = 0;
  while (idle.take(t0 + 3_600_000)) m++;
  assert.equal(m, RESET_BURST);
});

test('CONTINUATION assembly: pieces joined in order, the bound enforced while the block grows, only on its stream', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 8 }), (parts) => {
      const a = new HeaderBlockAssembler(1000);
      const bufs = parts.map((p) => Buffer.from(p));
      a.start(3, 0x1, bufs[0]!);
      assert.equal(a.open, true);
      let done;
      for (let i = 1; i < bufs.length; i++) done = a.continuation(3, i === bufs.length - 1, bufs[i]!);
      if (bufs.length === 1) done = a.continuation(3, true, Buffer.alloc(0));
      assert.deepEqual(done, { flags: 0x1, block: Buffer.concat(bufs) });
      assert.equal(a.open, false);
    }),
  );
  const a = new HeaderBlockAssembler(100);
  a.start(1, 0, Buffer.alloc(60));
  assert.equal(h2Code(() => a.continuation(3, false, Buffer.alloc(1))), H2Code.PROTOCOL_ERROR);
  assert.equal(h2Code(() => a.continuation(1, false, Buffer.alloc(60))), H2Code.ENHANCE_YOUR_CALM);
  assert.equal(h2Code(() => new HeaderBlockAssembler(100).continuation(1, true, Buffer.alloc(1))), H2Code.PROTOCOL_ERROR);
});

test("the peer's stream limit: requests past it wait in order, a closed stream lets the next one go, GOAWAY takes the rest", () => {
  const l = new LocalStreamLimit();
  const req = (id: number) => ({ stream: { id } as H2Stream, fields: [], endStream: true, neverIndexed: undefined });
  l.peerMax = 2;
  assert.ok(l.tryOpen());
  assert.ok(l.tryOpen());
  assert.equal(l.tryOpen(), false);
  const [r5, r7, r9] = [req(5), req(7), req(9)];
  l.wait(r5);
  l.wait(r7);
  l.wait(r9);
  assert.equal(l.next(), undefined);
  l.release();
  assert.equal(l.next(), r5);
  assert.equal(l.next(), undefined);
  l.remove(r7.stream);
  l.peerMax = 10;
  assert.equal(l.next(), r9);
  l.wait(req(11));
  l.peerMax = 0;
  assert.deepEqual(l.takeAll().map((w) => w.stream.id), [11]);
  assert.equal(l.next(), undefined);
});
