/**
 * Fuzz target for the HTTP/2 frame reader (proxy/protocol/h2/frames.ts). One input is a
 * 4-byte header and then the bytes a peer sends after the connection preface:
 *
 *   byte 0      our SETTINGS_MAX_FRAME_SIZE: one of MAX_SIZES (low 3 bits)
 *   bytes 1-3   the seed of the cuts: the bytes are also read in chunks of pseudo-random sizes
 *               (1 byte up to 2^k, k from the seed), and byte by byte when short
 *
 * The whole read gives a list of frames and an outcome (all read, or an H2Error with its code);
 * every chunking must give the same frames, the same outcome and the same bytes left buffered.
 * Seeds (fuzz/corpus/h2-frames/): frames our writers make (makeSeeds below), and real
 * captures of what curl, nghttp and h2load sent to nghttpd and what nghttpd answered (the
 * client preface removed), each with the 4-byte header 00 00 00 01.
 */
import { H2Error } from '../../proxy/protocol/h2/h2-error';
import {
  FrameReader,
  FrameType,
  FRAME_HEADER_BYTES,
  dataFrameHeader,
  frame,
  goawayFrame,
  headersFrames,
  pingFrame,
  rstStreamFrame,
  settingsFrame,
  SETTINGS_ACK,
  unpadded,
  windowUpdateFrame,
} from '../../proxy/protocol/h2/frames';
import { HpackEncoder } from '../../proxy/protocol/h2/hpack/encoder';
import { describeError, violations, type Fail } from '../target';

export const name = 'h2-frames';
export const properties = [
  'typed-errors: FrameReader.push and unpadded return or throw H2Error, nothing else',
  'chunking: the same bytes cut into any chunks give the same frames, the same outcome (error code, or bytes left buffered) as read whole',
  'max-frame-size: no frame longer than the reader\'s SETTINGS_MAX_FRAME_SIZE comes out, and one that is longer is a FRAME_SIZE_ERROR before any of its payload is buffered',
  'accounting: without an error, the frames (9 + length each) and the bytes left buffered add up to the input',
  'unpadded: a DATA or HEADERS payload without its padding (and priority fields) is a view inside the payload',
];
const fail: Fail = violations(name);

export const MAX_SIZES = [16_384, 0, 1, 8, 64, 255, 4096, 16_383];

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}
const show = (f: Frame) => `${f.type}/${f.flags}/${f.streamId}/${f.payload.subarray(0, 24).toString('hex')}${f.payload.length > 24 ? `...(${f.payload.length})` : ''}`;

interface Outcome {
  frames: Frame[];
  error: string | undefined;
  buffered: number;
  bytes: number;
}

function read(maxFrameSize: number, chunks: Buffer[]): Outcome {
  const r = new FrameReader(maxFrameSize);
  const frames: Frame[] = [];
  let bytes = 0;
  const onFrame = (type: number, flags: number, streamId: number, payload: Buffer): boolean => {
    if (payload.length > maxFrameSize) fail('max-frame-size', `a frame of ${payload.length} bytes came out of a reader of ${maxFrameSize}`);
    bytes += FRAME_HEADER_BYTES + payload.length;
    frames.push({ type, flags, streamId, payload });
    if (type === FrameType.DATA || type === FrameType.HEADERS) {
      try {
        const u = unpadded(type, flags, payload);
        if (u.length > payload.length || (u.length > 0 && (u.buffer !== payload.buffer || u.byteOffset < payload.byteOffset || u.byteOffset + u.length > payload.byteOffset + payload.length))) {
          fail('unpadded', `type ${type} flags ${flags}: ${u.length} bytes outside the payload of ${payload.length}`);
        }
      } catch (e) {
        if (!(e instanceof H2Error)) fail('typed-errors', `unpadded threw ${describeError(e)}`, e);
      }
    }
    return true;
  };
  let error: string | undefined;
  for (const c of chunks) {
    try {
      r.push(c, onFrame);
    } catch (e) {
      if (!(e instanceof H2Error)) fail('typed-errors', `FrameReader.push threw ${describeError(e)}`, e);
      error = `${e.h2Code}/${e.streamId}`;
      if (e.h2Code === 6 && /exceeds SETTINGS_MAX_FRAME_SIZE/.test(e.message) && r.buffered > FRAME_HEADER_BYTES + maxFrameSize + (c.length ?? 0)) {
        fail('max-frame-size', `${r.buffered} bytes buffered towards a frame it refused`);
      }
      break;
    }
  }
  return { frames, error, buffered: error === undefined ? r.buffered : -1, bytes };
}

/** xorshift32, for the cuts. */
function cuts(bytes: Buffer, seed: number, maxLog: number): Buffer[] {
  let x = seed | 1;
  const out: Buffer[] = [];
  for (let p = 0; p < bytes.length; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const n = 1 + ((x >>> 0) % (1 << (1 + ((x >>> 24) % maxLog))));
    out.push(bytes.subarray(p, p + n));
    p += n;
  }
  return out;
}

export function run(input: Buffer): void {
  if (input.length < 4) return;
  const maxFrameSize = MAX_SIZES[input[0]! & 7]!;
  const seed = input.readUIntBE(1, 3);
  const bytes = input.subarray(4);
  const whole = read(maxFrameSize, [bytes]);
  if (whole.error === undefined && whole.bytes + whole.buffered !== bytes.length) {
    fail('accounting', `${whole.frames.length} frames of ${whole.bytes} bytes and ${whole.buffered} buffered from ${bytes.length}`);
  }
  const ways: [string, Buffer[]][] = [
    ['random cuts', cuts(bytes, seed, 15)],
    ['small cuts', cuts(bytes, seed ^ 0x5a5a5a, 4)],
    ['an empty chunk between halves', [bytes.subarray(0, bytes.length >> 1), Buffer.alloc(0), bytes.subarray(bytes.length >> 1)]],
  ];
  if (bytes.length <= 4096) ways.push(['byte by byte', [...bytes].map((b) => Buffer.from([b]))]);
  for (const [how, chunks] of ways) {
    // Each chunk a copy, as a socket hands over separate buffers.
    const got = read(maxFrameSize, chunks.map((c) => Buffer.from(c)));
    if (got.error !== whole.error || got.buffered !== whole.buffered || got.frames.length !== whole.frames.length) {
      fail('chunking', `${how}: ${got.frames.length} frames, error ${got.error}, ${got.buffered} buffered; whole: ${whole.frames.length} frames, error ${whole.error}, ${whole.buffered} buffered`);
    }
    for (let i = 0; i < got.frames.length; i++) {
      const g = got.frames[i]!;
      const w = whole.frames[i]!;
      if (g.type !== w.type || g.flags !== w.flags || g.streamId !== w.streamId || !g.payload.equals(w.payload)) fail('chunking', `${how}: frame ${i} is ${show(g)}, whole ${show(w)}`);
    }
  }
}

/** Seeds from our own writers: what H2Connection puts on the wire. */
export function makeSeeds(): Record<string, Buffer> {
  const head = (sel = 0) => Buffer.from([sel, 0, 0, 1]);
  const enc = new HpackEncoder();
  const req = enc.encode([':method', 'POST', ':scheme', 'http', ':authority', 'svc.test', ':path', '/upload', 'content-type', 'application/grpc', 'te', 'trailers']);
  const big = enc.encode([':status', '200', 'x-big', 'b'.repeat(40_000)]);
  const data = Buffer.alloc(16_384, 0x61);
  const ours = Buffer.concat([
    settingsFrame([[2, 0], [4, 1_048_576], [6, 65_535], [3, 1000]]),
    windowUpdateFrame(0, 16_711_681),
    SETTINGS_ACK,
    headersFrames(1, req, false, 16_384),
    dataFrameHeader(1, data.length, false),
    data,
    dataFrameHeader(1, 0, true),
    headersFrames(3, big, true, 16_384),
    pingFrame(Buffer.from('01234567'), false),
    pingFrame(Buffer.from('01234567'), true),
    rstStreamFrame(5, 8),
    windowUpdateFrame(1, 32_768),
    goawayFrame(3, 0, 'bye'),
  ]);
  const padded = Buffer.concat([
    frame(FrameType.HEADERS, 0x4 | 0x8 | 0x20, 7, Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 15]), enc.encode([':status', '204']), Buffer.alloc(3)])),
    frame(FrameType.DATA, 0x1 | 0x8, 7, Buffer.from([2, 0x68, 0x69, 0, 0])),
    frame(FrameType.PRIORITY, 0, 9, Buffer.from([0, 0, 0, 7, 200])),
    frame(0x0a, 0, 0, Buffer.from('an unknown frame type')),
  ]);
  return {
    'ours-exchange.bin': Buffer.concat([head(), ours]),
    'ours-small-frames.bin': Buffer.concat([head(6), ours]),
    'ours-padded-priority.bin': Buffer.concat([head(), padded]),
    'refuse-too-long.bin': Buffer.concat([head(4), frame(FrameType.DATA, 0, 1, Buffer.alloc(65))]),
    'refuse-bad-sizes.bin': Buffer.concat([head(), frame(FrameType.PING, 0, 0, Buffer.alloc(7)), frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3))]),
    'refuse-stream-0-data.bin': Buffer.concat([head(), frame(FrameType.DATA, 0, 0, Buffer.alloc(1))]),
    'refuse-padding.bin': Buffer.concat([head(), frame(FrameType.DATA, 0x8, 1, Buffer.from([9, 1, 2]))]),
  };
}

const b = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
export const dictionary = [
  b('000000 04 01 00000000'), b('000008 06 00 00000000'), b('000004 08 00 00000000'), b('000004 03 00 00000001'),
  b('004000 00 00 00000001'), b('004001'), b('ffffff'), b('000005 02 00 00000003'), b('08'), b('20'), b('2d'), b('7fffffff'), b('80000000'),
  b('000000 09 04 00000001'), b('000000 01 05 00000001'),
];

export const known: { match: RegExp; why: string }[] = [];

const target = { name, properties, run, dictionary, known, maxInputBytes: 20 * 1024 };
export default target;
