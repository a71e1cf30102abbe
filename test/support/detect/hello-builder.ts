/**
 * Test support: build ClientHello bytes field by field (RFC 8446 §4.1.2), so tests can make
 * exactly the malformation they mean, and re-split a real hello over records of chosen sizes.
 */
export const EXT_SNI = 0;
export const EXT_ALPN = 16;
export const EXT_PADDING = 21;
export const EXT_SUPPORTED_VERSIONS = 43;

const u8 = (n: number) => Buffer.from([n & 0xff]);
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const vec8 = (b: Buffer) => Buffer.concat([u8(b.length), b]);
const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);

export function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(data)]);
}
export function sniExt(...names: string[]): Buffer {
  return ext(EXT_SNI, vec16(Buffer.concat(names.map((n) => Buffer.concat([u8(0), vec16(Buffer.from(n, 'latin1'))])))));
}
export function alpnExt(...protocols: string[]): Buffer {
  return ext(EXT_ALPN, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p, 'latin1'))))));
}
export function supportedVersionsExt(...versions: number[]): Buffer {
  return ext(EXT_SUPPORTED_VERSIONS, vec8(Buffer.concat(versions.map(u16))));
}

export interface BodyParts {
  version?: number;
  sessionId?: Buffer;
  suites?: number[];
  compression?: number[];
  /** Extension blocks concatenated; `null` leaves the extensions field out entirely. */
  extensions?: Buffer[] | null;
}

/** A ClientHello body (what follows the 4-byte handshake header). */
export function helloBody(p: BodyParts = {}): Buffer {
  const parts = [
    u16(p.version ?? 0x0303),
    Buffer.alloc(32, 0x11), // random
    vec8(p.sessionId ?? Buffer.alloc(32, 0x22)),
    vec16(Buffer.concat((p.suites ?? [0x1301, 0x1302]).map(u16))),
    vec8(Buffer.from(p.compression ?? [0])),
  ];
  if (p.extensions !== null) parts.push(vec16(Buffer.concat(p.extensions ?? [sniExt('example.test'), alpnExt('h2')])));
  return Buffer.concat(parts);
}

/** The handshake message: type client_hello (1), 24-bit length, body. */
export function handshake(body: Buffer, type = 1): Buffer {
  return Buffer.concat([u8(type), u24(body.length), body]);
}

/** Wrap handshake bytes in handshake records of the given payload sizes (the last takes the rest). */
export function records(msg: Buffer, sizes: number[] = [], recordVersion = 0x0301): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= msg.length) break;
    const piece = msg.subarray(at, Math.min(at + size, msg.length));
    out.push(Buffer.from([0x16]), u16(recordVersion), u16(piece.length), piece);
    at += piece.length;
  }
  if (at < msg.length) out.push(Buffer.from([0x16]), u16(recordVersion), u16(msg.length - at), msg.subarray(at));
  return Buffer.concat(out);
}

/** The handshake bytes carried by the records at the start of `stream` (no validation). */
export function unwrapRecords(stream: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 5 <= stream.length && stream[at] === 0x16) {
    const len = stream.readUInt16BE(at + 3);
    parts.push(stream.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return Buffer.concat(parts);
}

/** How many records the stream starts with. */
export function recordCount(stream: Buffer): number {
  let at = 0;
  let n = 0;
  while (at + 5 <= stream.length) {
    at += 5 + stream.readUInt16BE(at + 3);
    n++;
  }
  return n;
}

/** A single-record ClientHello of exactly `total` stream bytes, filled with a padding extension. */
export function paddedHello(total: number): Buffer {
  const base = handshake(helloBody({ extensions: [sniExt('big.example.test'), alpnExt('h2')] }));
  const pad = total - 5 - base.length - 4; // 4 = padding extension header
  if (pad < 0) throw new Error(`total ${total} too small`);
  return records(handshake(helloBody({ extensions: [sniExt('big.example.test'), alpnExt('h2'), ext(EXT_PADDING, Buffer.alloc(pad))] })), [1 << 16]);
}
