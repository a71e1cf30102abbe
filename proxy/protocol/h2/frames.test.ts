import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  dataFrameHeader,
  Flag,
  frame,
  FrameReader,
  FrameType,
  goawayFrame,
  headersFrames,
  pingFrame,
  PREFACE,
  readGoaway,
  readRstStream,
  readSettings,
  readWindowUpdate,
  rstStreamFrame,
  settingsFrame,
  SETTINGS_ACK,
  unpadded,
  windowUpdateFrame,
} from './frames';
import { H2Error } from './h2-error';
import { H2Code } from './grpc-status';

type Got = [type: number, flags: number, streamId: number, payload: string];

function readAll(bytes: Buffer, pieces: number[] = [bytes.length], max?: number): Got[] {
  const r = new FrameReader(max);
  const got: Got[] = [];
  let at = 0;
  for (const n of pieces) {
    r.push(bytes.subarray(at, at + n), (t, f, s, p) => {
      got.push([t, f, s, p.toString('hex')]);
      return true;
    });
    at += n;
  }
  if (at < bytes.length) {
    r.push(bytes.subarray(at), (t, f, s, p) => {
      got.push([t, f, s, p.toString('hex')]);
      return true;
    });
  }
  return got;
}

function h2Error(code: number): (e: unknown) => boolean {
  return (e) => e instanceof H2Error && e.h2Code === code;
}

test('each writer makes the frame the reader reads back', () => {
  const frames = Buffer.concat([
    settingsFrame([
      [4, 1 << 20],
      [3, 100],
    ]),
    SETTINGS_ACK,
    pingFrame(Buffer.from('01234567'), false),
    goawayFrame(7, H2Code.ENHANCE_YOUR_CALM, 'calm'),
    rstStreamFrame(3, H2Code.CANCEL),
    windowUpdateFrame(0, 12345),
    dataFrameHeader(5, 3, true),
    Buffer.from('abc'),
  ]);
  const got = readAll(frames);
  assert.deepEqual(
    got.map(([t, f, s]) => [t, f, s]),
    [
      [FrameType.SETTINGS, 0, 0],
      [FrameType.SETTINGS, Flag.ACK, 0],
      [FrameType.PING, 0, 0],
      [FrameType.GOAWAY, 0, 0],
      [FrameType.RST_STREAM, 0, 3],
      [FrameType.WINDOW_UPDATE, 0, 0],
      [FrameType.DATA, Flag.END_STREAM, 5],
    ],
  );
  assert.deepEqual(readSettings(Buffer.from(got[0]![3], 'hex')), [
    [4, 1 << 20],
    [3, 100],
  ]);
  const g = readGoaway(Buffer.from(got[3]![3], 'hex'));
  assert.deepEqual([g.lastStreamId, g.code, g.debug.toString()], [7, H2Code.ENHANCE_YOUR_CALM, 'calm']);
  assert.equal(readRstStream(Buffer.from(got[4]![3], 'hex')), H2Code.CANCEL);
  assert.equal(readWindowUpdate(Buffer.from(got[5]![3], 'hex')), 12345);
  assert.equal(Buffer.from(got[6]![3], 'hex').toString(), 'abc');
});

test('a header block past the frame size becomes HEADERS then CONTINUATION, END_HEADERS on the last', () => {
  const block = Buffer.alloc(40_000, 0x61);
  const got = readAll(headersFrames(1, block, true, 16_384));
  assert.deepEqual(
    got.map(([t, f, s, p]) => [t, f, s, p.length / 2]),
    [
      [FrameType.HEADERS, Flag.END_STREAM, 1, 16_384],
      [FrameType.CONTINUATION, 0, 1, 16_384],
      [FrameType.CONTINUATION, Flag.END_HEADERS, 1, 40_000 - 32_768],
    ],
  );
  assert.deepEqual(readAll(headersFrames(3, Buffer.from('x'), false, 16_384)).map(([t, f]) => [t, f]), [[FrameType.HEADERS, Flag.END_HEADERS]]);
});

test('frames split across reads at any byte come out the same as whole', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ type: fc.constantFrom(0, 1, 8, 9, 0xfa), streamId: fc.integer({ min: 1, max: 2 ** 31 - 1 }), payload: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }),
      (frames, cuts) => {
        const wire = Buffer.concat(
          frames.map((f) => (f.type === 8 ? windowUpdateFrame(f.streamId, 1 + (f.payload.length % 100)) : frame(f.type, 0, f.streamId, Buffer.from(f.payload)))),
        );
        assert.deepEqual(readAll(wire, cuts), readAll(wire));
      },
    ),
  );
});

test('what a frame may not be on its own is a connection error with the right code', () => {
  const cases: [Buffer, number][] = [
    [frame(FrameType.DATA, 0, 0, Buffer.from('x')), H2Code.PROTOCOL_ERROR], // DATA on stream 0
    [frame(FrameType.SETTINGS, 0, 1, Buffer.alloc(6)), H2Code.PROTOCOL_ERROR], // SETTINGS on a stream
    [frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)), H2Code.FRAME_SIZE_ERROR],
    [frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6)), H2Code.FRAME_SIZE_ERROR],
    [frame(FrameType.PING, 0, 0, Buffer.alloc(7)), H2Code.FRAME_SIZE_ERROR],
    [frame(FrameType.PING, 0, 3, Buffer.alloc(8)), H2Code.PROTOCOL_ERROR],
    [frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(7)), H2Code.FRAME_SIZE_ERROR],
    [frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3)), H2Code.FRAME_SIZE_ERROR],
    [frame(FrameType.WINDOW_UPDATE, 0, 1, Buffer.alloc(5)), H2Code.FRAME_SIZE_ERROR],
    [frame(FrameType.CONTINUATION, 0, 0, Buffer.alloc(1)), H2Code.PROTOCOL_ERROR],
  ];
  for (const [wire, code] of cases) assert.throws(() => readAll(wire), h2Error(code), wire.toString('hex'));
});

test('a frame longer than SETTINGS_MAX_FRAME_SIZE is refused as soon as its header is in', () => {
  const r = new FrameReader(16_384);
  const header = dataFrameHeader(1, 16_385, false);
  assert.throws(() => r.push(header, () => true), h2Error(H2Code.FRAME_SIZE_ERROR));
  const r2 = new FrameReader(16_384);
  r2.push(header.subarray(0, 4), () => true);
  assert.throws(() => r2.push(header.subarray(4), () => true), h2Error(H2Code.FRAME_SIZE_ERROR));
  // Exactly the limit is fine.
  assert.equal(readAll(Buffer.concat([dataFrameHeader(1, 16_384, false), Buffer.alloc(16_384)])).length, 1);
});

test('padding and priority fields are stripped; padding as long as the frame is a protocol error', () => {
  const padded = Buffer.concat([Buffer.from([3]), Buffer.from('body'), Buffer.alloc(3)]);
  assert.equal(unpadded(FrameType.DATA, Flag.PADDED, padded).toString(), 'body');
  const prio = Buffer.concat([Buffer.from([1]), Buffer.alloc(5), Buffer.from('blk'), Buffer.alloc(1)]);
  assert.equal(unpadded(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, prio).toString(), 'blk');
  assert.throws(() => unpadded(FrameType.DATA, Flag.PADDED, Buffer.from([5, 1, 2])), h2Error(H2Code.PROTOCOL_ERROR));
  assert.throws(() => unpadded(FrameType.DATA, Flag.PADDED, Buffer.alloc(0)), h2Error(H2Code.PROTOCOL_ERROR));
});

test('a handler that says stop ends the reading of the chunk', () => {
  const r = new FrameReader();
  let n = 0;
  r.push(Buffer.concat([SETTINGS_ACK, SETTINGS_ACK, SETTINGS_ACK]), () => ++n < 2);
  assert.equal(n, 2);
});

test('a frame trickled in 1-byte chunks is read in linear time (the length is read once, not at every chunk)', () => {
  // Found by fuzz/targets/h2-frames: the reader re-joined every buffered part at every chunk to
  // read the length, so a 16 KiB DATA frame sent a byte at a time cost ~7 s of CPU, and one of
  // 64 KiB (a larger SETTINGS_MAX_FRAME_SIZE) minutes.
  const size = 65_536;
  const bytes = Buffer.concat([frame(FrameType.PING, 0, 0, Buffer.alloc(8)), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.alloc(size, 7))]);
  const r = new FrameReader(size);
  const got: number[] = [];
  const t0 = performance.now();
  for (let p = 0; p < bytes.length; p++) {
    r.push(bytes.subarray(p, p + 1), (t, _f, _s, payload) => {
      got.push(t, payload.length);
      return true;
    });
  }
  const ms = performance.now() - t0;
  assert.deepEqual(got, [FrameType.PING, 8, FrameType.DATA, size]);
  assert.equal(r.buffered, 0);
  assert.ok(ms < 2000, `${ms.toFixed(0)} ms for ${bytes.length} one-byte chunks`);
});

test("a server's reader takes the client preface first, in any split, and refuses anything else in its place", () => {
  const bytes = Buffer.concat([PREFACE, settingsFrame([]), pingFrame(Buffer.alloc(8, 1), false)]);
  for (let cut = 1; cut < bytes.length; cut += 3) {
    const r = new FrameReader(16_384, true);
    const types: number[] = [];
    r.push(bytes.subarray(0, cut), (type) => (types.push(type), true));
    r.push(bytes.subarray(cut), (type) => (types.push(type), true));
    assert.deepEqual(types, [FrameType.SETTINGS, FrameType.PING], `cut at ${cut}`);
  }
  const wrong = Buffer.from(PREFACE);
  wrong[20] = 0x41;
  assert.throws(() => new FrameReader(16_384, true).push(wrong, () => true), (e: unknown) => e instanceof H2Error && e.h2Code === H2Code.PROTOCOL_ERROR);
  // A client's reader reads frames from the first byte: the preface is not a frame.
  assert.throws(() => new FrameReader(16_384).push(PREFACE, () => true), H2Error);
});
