/**
 * HTTP/2 frames (RFC 9113 §4, §6): the reader that cuts a byte stream into frames and the
 * writers for each frame type. Pure, no sockets. The reader checks only what a frame is on its
 * own (its length against SETTINGS_MAX_FRAME_SIZE, the fixed sizes, the stream each type may be
 * on, padding); what a frame means for a stream or the connection is connection.ts's.
 */
import { H2Code } from './grpc-status';
import { H2Error } from './h2-error';

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 9;
/** The protocol's initial SETTINGS_MAX_FRAME_SIZE and its bounds. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215;
/** Flow-control windows are at most 2^31-1 (RFC 9113 §6.9.1). */
export const MAX_WINDOW = 2 ** 31 - 1;
export const DEFAULT_WINDOW = 65_535;

/** Receives each complete frame; returns false to stop reading (the connection is closing). */
export type FrameHandler = (type: number, flags: number, streamId: number, payload: Buffer) => boolean;

/**
 * Cuts bytes into frames. A frame inside one chunk is handed over as a view of that chunk (no
 * copy); a frame split across chunks is joined once, when its last byte arrives.
 */
export class FrameReader {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Bytes the incomplete frame in `parts` needs in all (header and payload); 0 until its header is in. */
  private partNeed = 0;

  /** Octets of the client connection preface still expected before the first frame. */
  private prefaceLeft: number;

  /**
   * `maxFrameSize`: our SETTINGS_MAX_FRAME_SIZE; a longer frame is a FRAME_SIZE_ERROR.
   * `expectPreface`: a server's reader, which takes the client preface (RFC 9113 §3.4) first.
   */
  constructor(
    public maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
    expectPreface = false,
  ) {
    this.prefaceLeft = expectPreface ? PREFACE.length : 0;
  }

  /** Bytes buffered towards an incomplete frame. */
  get buffered(): number {
    return this.partBytes;
  }

  /** The bytes past the rest of the preface; anything else in its place is no HTTP/2 client. */
  private afterPreface(b: Buffer): Buffer {
    const n = Math.min(this.prefaceLeft, b.length);
    const at = PREFACE.length - this.prefaceLeft;
    if (b.compare(PREFACE, at, at + n, 0, n) !== 0) throw new H2Error(H2Code.PROTOCOL_ERROR, 'no HTTP/2 client preface');
    this.prefaceLeft -= n;
    return b.subarray(n);
  }

  /** Throws H2Error (a connection error) for a frame that cannot be read. */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    let b = chunk;
    if (this.prefaceLeft > 0) {
      b = this.afterPreface(b);
      if (b.length === 0) return;
    }
    if (this.partBytes > 0) {
      // Join only once the frame is complete (or its header is), not at every chunk.
      this.parts.push(chunk);
      this.partBytes += chunk.length;
      // The length is read once, when the header is complete: reading it at every chunk joined
      // all the parts each time (a frame trickled in 1-byte chunks cost seconds of CPU).
      if (this.partNeed === 0 && this.partBytes >= FRAME_HEADER_BYTES) {
        const length = this.headLength();
        // Refused as soon as its header is in, not after buffering up to 16 MiB of it.
        if (length > this.maxFrameSize) throw new H2Error(H2Code.FRAME_SIZE_ERROR, `a frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`);
        this.partNeed = FRAME_HEADER_BYTES + length;
      }
      if (this.partBytes < (this.partNeed || FRAME_HEADER_BYTES)) return;
      b = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
      this.parts = [];
      this.partBytes = 0;
      this.partNeed = 0;
    }
    let p = 0;
    while (b.length - p >= FRAME_HEADER_BYTES) {
      const length = (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
      if (length > this.maxFrameSize) {
        throw new H2Error(H2Code.FRAME_SIZE_ERROR, `a frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`);
      }
      if (b.length - p - FRAME_HEADER_BYTES < length) break;
      const type = b[p + 3]!;
      const flags = b[p + 4]!;
      const streamId = b.readUInt32BE(p + 5) & 0x7fffffff;
      const payload = b.subarray(p + FRAME_HEADER_BYTES, p + FRAME_HEADER_BYTES + length);
      p += FRAME_HEADER_BYTES + length;
      checkFrame(type, flags, streamId, payload);
      if (!onFrame(type, flags, streamId, payload)) return;
    }
    if (p < b.length) {
      this.parts.push(b.subarray(p));
      this.partBytes = b.length - p;
    }
  }

  /** The length field of the incomplete frame held in `parts` (its header is complete). */
  private headLength(): number {
    const h = this.parts.length === 1 || this.parts[0]!.length >= 3 ? this.parts[0]! : Buffer.concat(this.parts, Math.min(this.partBytes, FRAME_HEADER_BYTES));
    return (h[0]! << 16) | (h[1]! << 8) | h[2]!;
  }
}

/** What each frame type must be on its own (RFC 9113 §6); anything else is a connection error. */
function checkFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
  switch (type) {
    case FrameType.DATA:
    case FrameType.HEADERS:
    case FrameType.PRIORITY:
    case FrameType.RST_STREAM:
    case FrameType.CONTINUATION:
    case FrameType.PUSH_PROMISE:
      if (streamId === 0) throw new H2Error(H2Code.PROTOCOL_ERROR, `frame type ${type} on stream 0`);
      break;
    case FrameType.SETTINGS:
    case FrameType.PING:
    case FrameType.GOAWAY:
      if (streamId !== 0) throw new H2Error(H2Code.PROTOCOL_ERROR, `frame type ${type} on stream ${streamId}, not 0`);
      break;
  }
  switch (type) {
    case FrameType.PRIORITY:
      // A PRIORITY frame of the wrong size is a stream error (RFC 9113 §6.3).
      if (payload.length !== 5) throw new H2Error(H2Code.FRAME_SIZE_ERROR, `PRIORITY of ${payload.length} bytes`, streamId);
      break;
    case FrameType.RST_STREAM:
      if (payload.length !== 4) throw new H2Error(H2Code.FRAME_SIZE_ERROR, `RST_STREAM of ${payload.length} bytes`);
      break;
    case FrameType.SETTINGS:
      if ((flags & Flag.ACK) !== 0 && payload.length !== 0) throw new H2Error(H2Code.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      if (payload.length % 6 !== 0) throw new H2Error(H2Code.FRAME_SIZE_ERROR, `SETTINGS of ${payload.length} bytes (not a multiple of 6)`);
      break;
    case FrameType.PING:
      if (payload.length !== 8) throw new H2Error(H2Code.FRAME_SIZE_ERROR, `PING of ${payload.length} bytes`);
      break;
    case FrameType.GOAWAY:
      if (payload.length < 8) throw new H2Error(H2Code.FRAME_SIZE_ERROR, `GOAWAY of ${payload.length} bytes`);
      break;
    case FrameType.WINDOW_UPDATE:
      if (payload.length !== 4) throw new H2Error(H2Code.FRAME_SIZE_ERROR, `WINDOW_UPDATE of ${payload.length} bytes`);
      break;
  }
}

/**
 * The payload of a DATA or HEADERS frame without its padding (and, for HEADERS, without the
 * priority fields). A pad length that leaves no room is a connection PROTOCOL_ERROR.
 */
export function unpadded(type: number, flags: number, payload: Buffer): Buffer {
  let start = 0;
  let end = payload.length;
  if ((flags & Flag.PADDED) !== 0) {
    if (payload.length < 1) throw new H2Error(H2Code.PROTOCOL_ERROR, 'PADDED frame without a pad length');
    const pad = payload[0]!;
    start = 1;
    end -= pad;
  }
  if (type === FrameType.HEADERS && (flags & Flag.PRIORITY) !== 0) start += 5;
  if (end < start) throw new H2Error(H2Code.PROTOCOL_ERROR, 'padding longer than the frame');
  return start === 0 && end === payload.length ? payload : payload.subarray(start, end);
}

/** SETTINGS pairs in order. */
export function readSettings(payload: Buffer): [id: number, value: number][] {
  const out: [number, number][] = [];
  for (let p = 0; p + 6 <= payload.length; p += 6) out.push([payload.readUInt16BE(p), payload.readUInt32BE(p + 2)]);
  return out;
}

export function readGoaway(payload: Buffer): { lastStreamId: number; code: number; debug: Buffer } {
  return { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4), debug: payload.subarray(8) };
}

/** The increment of a WINDOW_UPDATE (0 is the caller's PROTOCOL_ERROR). */
export function readWindowUpdate(payload: Buffer): number {
  return payload.readUInt32BE(0) & 0x7fffffff;
}

export function readRstStream(payload: Buffer): number {
  return payload.readUInt32BE(0);
}

/** A frame header, written into `into` at `at` (9 bytes). */
export function writeFrameHeader(into: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  into[at] = (length >>> 16) & 0xff;
  into[at + 1] = (length >>> 8) & 0xff;
  into[at + 2] = length & 0xff;
  into[at + 3] = type;
  into[at + 4] = flags;
  into.writeUInt32BE(streamId & 0x7fffffff, at + 5);
}

/** A whole frame (header and payload in one buffer): for control frames and small payloads. */
export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const n = payload ? payload.length : 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
  writeFrameHeader(out, 0, n, type, flags, streamId);
  if (payload) payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

export function settingsFrame(pairs: readonly (readonly [number, number])[]): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 6 * pairs.length);
  writeFrameHeader(out, 0, 6 * pairs.length, FrameType.SETTINGS, 0, 0);
  let p = FRAME_HEADER_BYTES;
  for (const [id, value] of pairs) {
    out.writeUInt16BE(id, p);
    out.writeUInt32BE(value, p + 2);
    p += 6;
  }
  return out;
}

export const SETTINGS_ACK: Buffer = frame(FrameType.SETTINGS, Flag.ACK, 0);

export function pingFrame(data: Buffer, ack: boolean): Buffer {
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, data);
}

export function goawayFrame(lastStreamId: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug, 'latin1');
  const payload = Buffer.allocUnsafe(8 + d.length);
  payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  payload.writeUInt32BE(code, 4);
  d.copy(payload, 8);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(out, 0, 4, FrameType.RST_STREAM, 0, streamId);
  out.writeUInt32BE(code, FRAME_HEADER_BYTES);
  return out;
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(out, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  out.writeUInt32BE(increment & 0x7fffffff, FRAME_HEADER_BYTES);
  return out;
}

/**
 * A header block as one HEADERS frame and, past `maxFrameSize`, CONTINUATION frames, all in one
 * buffer (they must go out back to back: nothing may come between them, RFC 9113 §6.10).
 */
export function headersFrames(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): Buffer {
  const frames = Math.max(1, Math.ceil(block.length / maxFrameSize));
  const out = Buffer.allocUnsafe(frames * FRAME_HEADER_BYTES + block.length);
  let at = 0;
  for (let i = 0, from = 0; i < frames; i++) {
    const n = Math.min(maxFrameSize, block.length - from);
    const last = i === frames - 1;
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && endStream ? Flag.END_STREAM : 0);
    writeFrameHeader(out, at, n, type, flags, streamId);
    block.copy(out, at + FRAME_HEADER_BYTES, from, from + n);
    at += FRAME_HEADER_BYTES + n;
    from += n;
  }
  return out;
}

/** A DATA frame's header alone, for a payload written right after it (no copy of the payload). */
export function dataFrameHeader(streamId: number, length: number, endStream: boolean): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeFrameHeader(out, 0, length, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
  return out;
}
