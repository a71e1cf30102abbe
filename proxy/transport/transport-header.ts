/**
 * The opaque-transport header, in linkerd2-proxy's wire format so the two stay interchangeable:
 * after the mTLS handshake to a peer's inbound port (4143), the client proxy sends
 *
 *   "transport.l5d.io/v1\r\n\r\n" · u32 big-endian length · protobuf Header
 *   message Header { int32 port = 1; string name = 2; SessionProtocol session_protocol = 3; }
 *
 * naming the port the connection is really for. The inbound proxy then forwards the rest of the
 * stream to that port without protocol detection, so a port marked opaque is reached without a
 * detect timeout whichever side speaks first. Pure: no sockets here.
 */
import { LinnetError } from '../../core/errors';

export const TRANSPORT_PREFACE = Buffer.from('transport.l5d.io/v1\r\n\r\n', 'latin1');
/** ALPN name Linkerd negotiates for the header (kept for reference; Linnet's inbound always expects it on 4143). */
export const TRANSPORT_PROTOCOL = 'transport.l5d.io/v1';
/** A header is a port and a DNS name; anything longer is refused rather than buffered. */
export const MAX_HEADER_MESSAGE = 1024;
const LEN_AT = TRANSPORT_PREFACE.length;
const BODY_AT = LEN_AT + 4;

export interface TransportHeader {
  /** The target port on the peer's pod. */
  port: number;
  /** The logical (service) name, when known; empty when not. */
  name?: string;
}

export class TransportHeaderError extends LinnetError {
  constructor(detail: string) {
    super('LINNET_TRANSPORT_HEADER_INVALID', `opaque-transport header: ${detail}`, {
      hint: 'the peer is not a Linnet/Linkerd proxy speaking transport.l5d.io/v1; the connection is closed',
    });
    this.name = 'TransportHeaderError';
  }
}

export type HeaderRead =
  | { kind: 'need-more' }
  /** `length`: bytes of the buffer the header took; what follows is the stream's payload. */
  | { kind: 'ok'; header: TransportHeader; length: number };

export function encodeTransportHeader(h: TransportHeader): Buffer {
  if (!Number.isInteger(h.port) || h.port < 1 || h.port > 65535) throw new TransportHeaderError(`port ${h.port} out of range`);
  const parts: Buffer[] = [Buffer.from([0x08]), varint(h.port)];
  if (h.name) {
    const n = Buffer.from(h.name, 'utf8');
    parts.push(Buffer.from([0x12]), varint(n.length), n);
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([TRANSPORT_PREFACE, len, body]);
}

/**
 * Reads a header from the start of `b`. Throws TransportHeaderError when the bytes cannot be one
 * (wrong preface, oversized, malformed protobuf, port out of range); `need-more` while they still
 * could be.
 */
export function decodeTransportHeader(b: Buffer): HeaderRead {
  const n = Math.min(b.length, LEN_AT);
  if (b.compare(TRANSPORT_PREFACE, 0, n, 0, n) !== 0) throw new TransportHeaderError('no transport.l5d.io/v1 preface');
  if (b.length < BODY_AT) return { kind: 'need-more' };
  const size = b.readUInt32BE(LEN_AT);
  if (size > MAX_HEADER_MESSAGE) throw new TransportHeaderError(`message of ${size} bytes exceeds ${MAX_HEADER_MESSAGE}`);
  if (b.length < BODY_AT + size) return { kind: 'need-more' };
  const header = decodeMessage(b.subarray(BODY_AT, BODY_AT + size));
  return { kind: 'ok', header, length: BODY_AT + size };
}

/** The protobuf Header; unknown fields are skipped, as protobuf readers must. */
function decodeMessage(m: Buffer): TransportHeader {
  let port = 0;
  let name = '';
  let i = 0;
  while (i < m.length) {
    const [key, k] = readVarint(m, i);
    i = k;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new TransportHeaderError('field number 0');
    if (wire === 0) {
      const [v, j] = readVarint(m, i);
      i = j;
      // int32: negative values are ten-byte varints; anything past 2^31 is not a port anyway.
      if (field === 1) port = v;
    } else if (wire === 2) {
      const [len, j] = readVarint(m, i);
      if (j + len > m.length) throw new TransportHeaderError('length-delimited field runs past the message');
      if (field === 2) name = m.toString('utf8', j, j + len);
      i = j + len;
    } else if (wire === 1 || wire === 5) {
      const w = wire === 1 ? 8 : 4;
      if (i + w > m.length) throw new TransportHeaderError('fixed-width field runs past the message');
      i += w;
    } else throw new TransportHeaderError(`unsupported wire type ${wire}`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TransportHeaderError(`port ${port} out of range`);
  if (name && !/^[A-Za-z0-9.\-_:]{1,253}$/.test(name)) throw new TransportHeaderError('name is not a DNS name');
  return name ? { port, name } : { port };
}

function varint(v: number): Buffer {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A varint of at most 10 bytes; values beyond 2^53 collapse to Infinity (refused by the range checks). */
function readVarint(b: Buffer, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = at; i < b.length && i < at + 10; i++) {
    const byte = b[i]!;
    v += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return [v > Number.MAX_SAFE_INTEGER ? Infinity : v, i + 1];
  }
  throw new TransportHeaderError('truncated or overlong varint');
}
