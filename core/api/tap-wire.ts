/**
 * A tap event straight to protobuf bytes (the TapEvent message of core/api/tap.proto), for the
 * proxy's tap server. proto-loader's serializer goes through protobufjs' fromObject, about 8-12 µs
 * an event (the label maps, the 64-bit fields): with a tap on all traffic that was as much as the
 * request itself, three times over. Written here by hand, field for field; tap-wire.test.ts
 * decodes what it writes with protobufjs and compares, over random events.
 */
import { parseIp } from '../policy/net';
import type { TapAddr, TapEvent, TapStreamId } from './tap';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'HEAD', 'TRACE'];
const SCHEMES = ['HTTP', 'HTTPS'];

/**
 * One growing buffer. A nested message reserves five bytes for its length, is written in place,
 * then its bytes are moved back to sit right after the length's actual size (begin/end).
 */
class Writer {
  buf = Buffer.allocUnsafe(512);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  varint(v: number): void {
    this.room(10);
    // Whole numbers up to 2^53: no bit operators above 2^31.
    let n = v > 0 ? Math.floor(v) : 0;
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  tag(field: number, wire: 0 | 1 | 2 | 5): void {
    this.varint(field * 8 + wire);
  }

  uint(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }

  string(field: number, s: string): void {
    const n = Buffer.byteLength(s);
    this.tag(field, 2);
    this.varint(n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  fixed32(field: number, v: number): void {
    this.tag(field, 5);
    this.room(4);
    this.pos = this.buf.writeUInt32LE(v >>> 0, this.pos);
  }

  fixed64(field: number, v: bigint): void {
    this.tag(field, 1);
    this.room(8);
    this.pos = this.buf.writeBigUInt64LE(v, this.pos);
  }

  /** Starts nested message `field`; returns where its content begins, for end(). */
  begin(field: number): number {
    this.tag(field, 2);
    this.room(5);
    this.pos += 5;
    return this.pos;
  }

  end(start: number): void {
    const len = this.pos - start;
    let size = 1;
    for (let n = len; n >= 0x80; n = Math.floor(n / 0x80)) size++;
    const at = start - 5;
    if (size < 5) this.buf.copyWithin(at + size, start, this.pos);
    let n = len;
    let p = at;
    while (n >= 0x80) {
      this.buf[p++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[p] = n;
    this.pos = at + size + len;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Dotted IPv4 as a number, without the general parser (the common case, once per address). */
function v4(ip: string): number | undefined {
  const p = ip.split('.');
  if (p.length !== 4) return undefined;
  let v = 0;
  for (const x of p) {
    const n = Number(x);
    if (!(n >= 0 && n <= 255) || x === '') return undefined;
    v = v * 256 + n;
  }
  return v;
}

function address(w: Writer, field: number, a: TapAddr): void {
  const at = w.begin(field);
  const ip = w.begin(1);
  const four = v4(a.ip);
  const p = four === undefined ? parseIp(a.ip) : undefined;
  if (p?.family === 6) {
    const v6 = w.begin(2);
    w.fixed64(1, p.value >> 64n);
    w.fixed64(2, p.value & 0xffffffffffffffffn);
    w.end(v6);
  } else w.fixed32(1, four ?? Number(p?.value ?? 0n));
  w.end(ip);
  if (a.port) w.uint(2, a.port);
  w.end(at);
}

function labels(w: Writer, field: number, l: Readonly<Record<string, string>>): void {
  const at = w.begin(field);
  for (const k in l) {
    const entry = w.begin(1);
    w.string(1, k);
    w.string(2, l[k]!);
    w.end(entry);
  }
  w.end(at);
}

function streamId(w: Writer, field: number, id: TapStreamId): void {
  const at = w.begin(field);
  if (id.base) w.uint(1, id.base);
  if (id.stream) w.uint(2, id.stream);
  w.end(at);
}

function duration(w: Writer, field: number, us: number): void {
  const u = Math.max(0, Math.round(us));
  const at = w.begin(field);
  const s = Math.floor(u / 1e6);
  if (s) w.uint(1, s);
  const nanos = (u % 1e6) * 1000;
  if (nanos) w.uint(2, nanos);
  w.end(at);
}

/** HttpMethod / Scheme: the registered enum value (0 included: a oneof field is always written) or the name. */
function registered(w: Writer, field: number, name: string, known: string[]): void {
  const at = w.begin(field);
  const i = known.indexOf(name.toUpperCase());
  if (i >= 0) w.uint(1, i);
  else w.string(2, name);
  w.end(at);
}

export function encodeTapEvent(e: TapEvent): Buffer {
  const w = new Writer();
  address(w, 1, e.source);
  address(w, 2, e.destination);
  const http = w.begin(3);
  const h = e.http;
  const body = w.begin(h.kind === 'request_init' ? 1 : h.kind === 'response_init' ? 2 : 3);
  streamId(w, 1, h.id);
  if (h.kind === 'request_init') {
    registered(w, 2, h.method, METHODS);
    registered(w, 3, h.scheme, SCHEMES);
    if (h.authority) w.string(4, h.authority);
    if (h.path) w.string(5, h.path);
  } else if (h.kind === 'response_init') {
    duration(w, 2, h.sinceRequestInitUs);
    if (h.status) w.uint(3, h.status);
  } else {
    duration(w, 2, h.sinceRequestInitUs);
    duration(w, 3, h.sinceResponseInitUs);
    if (h.responseBytes) w.uint(4, h.responseBytes);
    if (h.grpcStatus !== undefined || h.resetErrorCode !== undefined) {
      const eos = w.begin(5);
      if (h.grpcStatus !== undefined) w.uint(1, h.grpcStatus);
      else w.uint(2, h.resetErrorCode!);
      w.end(eos);
    }
  }
  w.end(body);
  w.end(http);
  labels(w, 4, e.destinationLabels);
  labels(w, 5, e.sourceLabels);
  w.uint(6, e.direction === 'inbound' ? 1 : 2);
  labels(w, 7, e.routeLabels);
  return w.finish();
}
