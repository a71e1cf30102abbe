/**
 * Raw HTTP/2 framing for test peers that write and read frames themselves (no HTTP/2 library on
 * their side, so nothing is negotiated or hidden): the preface, frame types, one frame's bytes,
 * and a reader that hands complete frames to a callback.
 */
import type { Socket } from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;

export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** Calls `onFrame` for every complete frame read from `s`, after skipping `skip` leading bytes (a preface). */
export function readFrames(s: Socket, onFrame: (type: number, flags: number, stream: number, payload: Buffer) => void, skip = 0): void {
  let buf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (skip > 0) {
      if (buf.length < skip) return;
      buf = buf.subarray(skip);
      skip = 0;
    }
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = buf[3]!;
      const flags = buf[4]!;
      const stream = buf.readUInt32BE(5) & 0x7fffffff;
      const payload = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      onFrame(type, flags, stream, payload);
    }
  });
}
