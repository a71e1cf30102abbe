/**
 * Protocol Buffers binary encoding (proto3) driven by a parsed schema (schema.ts), producing and
 * accepting the same plain objects as @grpc/proto-loader with our LOADER_OPTIONS (keepCase, longs
 * as Number, enums as String, defaults, oneofs): field names as in the .proto; every field that
 * is not in a oneof present when decoding (0, '', false, an empty Buffer, the first enum name,
 * [] and {} for repeated and map fields, null for a message); a oneof's members only when set,
 * with a property named after the oneof that says which. Pure.
 */
import type { EnumDef, FieldDef, MessageDef, Schema } from './schema';

export class ProtoDecodeError extends Error {}

type Obj = Record<string, unknown>;

// ---- writing ----

class Writer {
  private buf = Buffer.allocUnsafe(256);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  varint(v: number): void {
    this.room(10);
    if (v >= 0 && v < 0x80) {
      this.buf[this.len++] = v;
      return;
    }
    if (v < 0) {
      // Negative int32/int64: two's complement over 64 bits, ten bytes.
      let big = BigInt.asUintN(64, BigInt(Math.trunc(v)));
      while (big >= 0x80n) {
        this.buf[this.len++] = Number(big & 0x7fn) | 0x80;
        big >>= 7n;
      }
      this.buf[this.len++] = Number(big);
      return;
    }
    let n = Math.trunc(v);
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
  }

  varintBig(v: bigint): void {
    this.room(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  tag(number: number, wire: number): void {
    this.varint(number * 8 + wire);
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  fixed32(v: number, signed: boolean): void {
    this.room(4);
    if (signed) this.buf.writeInt32LE(v, this.len);
    else this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }

  fixed64(v: number | bigint, signed: boolean): void {
    this.room(8);
    const big = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    if (signed) this.buf.writeBigInt64LE(big, this.len);
    else this.buf.writeBigUInt64LE(BigInt.asUintN(64, big), this.len);
    this.len += 8;
  }

  float(v: number): void {
    this.room(4);
    this.buf.writeFloatLE(v, this.len);
    this.len += 4;
  }

  double(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

const WIRE: Record<string, number> = {
  double: 1, float: 5, int32: 0, int64: 0, uint32: 0, uint64: 0, sint32: 0, sint64: 0,
  fixed32: 5, fixed64: 1, sfixed32: 5, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return 0;
}

/** A 64-bit value exactly: decimal strings and bigints as they are, numbers truncated. */
function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim());
  return BigInt(Math.trunc(num(v)));
}

function writeScalar(w: Writer, type: string, v: unknown): void {
  switch (type) {
    case 'string': w.bytes(Buffer.from(String(v), 'utf8')); return;
    case 'bytes': w.bytes(typeof v === 'string' ? Buffer.from(v, 'base64') : (v as Uint8Array)); return;
    case 'bool': w.varint(v ? 1 : 0); return;
    case 'int32': w.varint(num(v) | 0); return;
    case 'uint32': w.varint(num(v) >>> 0); return;
    case 'int64': case 'uint64':
      // Decimal strings and bigints keep all 64 bits; numbers are exact up to 2^53.
      if (typeof v === 'string' || typeof v === 'bigint') w.varintBig(BigInt.asUintN(64, BigInt(v)));
      else w.varint(num(v));
      return;
    case 'sint32': { const n = num(v) | 0; w.varint(((n << 1) ^ (n >> 31)) >>> 0); return; }
    case 'sint64': { const n = big(v); w.varintBig(BigInt.asUintN(64, (n << 1n) ^ (n >> 63n))); return; }
    case 'fixed32': w.fixed32(num(v), false); return;
    case 'sfixed32': w.fixed32(num(v), true); return;
    case 'fixed64': w.fixed64(big(v), false); return;
    case 'sfixed64': w.fixed64(big(v), true); return;
    case 'float': w.float(num(v)); return;
    case 'double': w.double(num(v)); return;
  }
}

function isDefault(type: string, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (type === 'string') return v === '';
  if (type === 'bytes') return (v as Uint8Array).length === 0;
  if (type === 'bool') return !v;
  return num(v) === 0;
}

export interface CodecOptions {
  /** 64-bit integers decoded as numbers (proto-loader's `longs: Number`, the default) or as decimal strings (`longs: String`). */
  longs?: 'number' | 'string';
}

const LONGS = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

export class ProtoCodec {
  private readonly longStrings: boolean;

  constructor(
    readonly schema: Schema,
    opts: CodecOptions = {},
  ) {
    this.longStrings = opts.longs === 'string';
  }

  private message(name: string): MessageDef {
    const m = this.schema.messages.get(name);
    if (!m) throw new Error(`unknown message ${name}`);
    return m;
  }

  private enumValue(e: EnumDef, v: unknown): number {
    if (typeof v === 'number') return v;
    if (typeof v === 'string') {
      const n = e.byName.get(v);
      if (n === undefined) throw new TypeError(`${JSON.stringify(v)} is not a value of ${e.fullName}`);
      return n;
    }
    return 0;
  }

  encode(type: string, obj: Obj): Buffer {
    const w = new Writer();
    this.write(w, this.message(type), obj);
    return w.finish();
  }

  private write(w: Writer, m: MessageDef, obj: Obj): void {
    for (const f of m.fields) {
      const v = obj[f.name];
      if (v === undefined || v === null) continue;
      // A oneof member counts only when it is the one the object names (or the only one set).
      if (f.oneof !== undefined) {
        const chosen = obj[f.oneof];
        if (typeof chosen === 'string' && chosen !== f.name) continue;
      }
      if (f.mapKey) {
        for (const [k, val] of Object.entries(v as Obj)) {
          const e = new Writer();
          e.tag(1, WIRE[f.mapKey]!);
          writeScalar(e, f.mapKey, f.mapKey === 'bool' ? k === 'true' : k);
          this.writeValue(e, f, 2, val, true);
          w.tag(f.number, 2);
          w.bytes(e.finish());
        }
        continue;
      }
      if (f.repeated) {
        const list = v as unknown[];
        if (list.length === 0) continue;
        const packed = f.kind === 'enum' || (f.kind === 'scalar' && f.type !== 'string' && f.type !== 'bytes');
        if (packed) {
          const p = new Writer();
          for (const x of list) f.kind === 'enum' ? p.varint(this.enumValue(this.schema.enums.get(f.type)!, x)) : writeScalar(p, f.type, x);
          w.tag(f.number, 2);
          w.bytes(p.finish());
        } else for (const x of list) this.writeValue(w, f, f.number, x, true);
        continue;
      }
      this.writeValue(w, f, f.number, v, f.oneof !== undefined);
    }
  }

  /** One value of field `f` under tag `number`; `always`: written even when it is the default. */
  private writeValue(w: Writer, f: FieldDef, number: number, v: unknown, always: boolean): void {
    if (f.kind === 'message') {
      const sub = new Writer();
      this.write(sub, this.message(f.type), (v ?? {}) as Obj);
      w.tag(number, 2);
      w.bytes(sub.finish());
      return;
    }
    if (f.kind === 'enum') {
      const n = this.enumValue(this.schema.enums.get(f.type)!, v);
      if (n === 0 && !always) return;
      w.tag(number, 0);
      w.varint(n);
      return;
    }
    if (!always && isDefault(f.type, v)) return;
    w.tag(number, WIRE[f.type]!);
    writeScalar(w, f.type, v);
  }

  // ---- reading ----

  decode(type: string, buf: Uint8Array): Obj {
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    return this.read(this.message(type), b, 0, b.length);
  }

  private read(m: MessageDef, b: Buffer, start: number, end: number): Obj {
    const out: Obj = {};
    for (const f of m.fields) {
      if (f.oneof !== undefined) continue;
      out[f.name] = f.mapKey ? {} : f.repeated ? [] : this.defaultOf(f);
    }
    const r = { p: start };
    while (r.p < end) {
      const key = readVarint(b, r, end);
      const number = Math.floor(key / 8);
      const wire = key & 7;
      const f = m.byNumber.get(number);
      if (!f) {
        skip(b, r, end, wire);
        continue;
      }
      if (f.mapKey) {
        if (wire !== 2) throw new ProtoDecodeError(`${m.fullName}.${f.name}: wire type ${wire} for a map entry`);
        const len = readVarint(b, r, end);
        const e = r.p + len;
        if (e > end) throw new ProtoDecodeError('a map entry past the end');
        let k: unknown = f.mapKey === 'string' ? '' : f.mapKey === 'bool' ? false : 0;
        let val: unknown = this.defaultOf(f);
        const q = { p: r.p };
        while (q.p < e) {
          const kk = readVarint(b, q, e);
          if (kk >>> 3 === 1) k = readScalar(b, q, e, f.mapKey, kk & 7);
          else if (kk >>> 3 === 2) val = this.readValue(f, b, q, e, kk & 7);
          else skip(b, q, e, kk & 7);
        }
        r.p = e;
        (out[f.name] as Obj)[String(k)] = val;
        continue;
      }
      if (f.repeated) {
        const list = out[f.name] as unknown[];
        const packable = f.kind === 'enum' || (f.kind === 'scalar' && f.type !== 'string' && f.type !== 'bytes');
        if (packable && wire === 2) {
          const len = readVarint(b, r, end);
          const e = r.p + len;
          if (e > end) throw new ProtoDecodeError('a packed field past the end');
          const elemWire = f.kind === 'enum' ? 0 : WIRE[f.type]!;
          while (r.p < e) list.push(this.readValue(f, b, r, e, elemWire));
          continue;
        }
        list.push(this.readValue(f, b, r, end, wire));
        continue;
      }
      out[f.name] = this.readValue(f, b, r, end, wire);
      if (f.oneof !== undefined) {
        const previous = out[f.oneof];
        if (typeof previous === 'string' && previous !== f.name) delete out[previous];
        out[f.oneof] = f.name;
      }
    }
    return out;
  }

  private defaultOf(f: FieldDef): unknown {
    if (f.kind === 'message') return null;
    if (f.kind === 'enum') return this.schema.enums.get(f.type)!.byNumber.get(0) ?? 0;
    switch (f.type) {
      case 'string': return '';
      case 'bytes': return Buffer.alloc(0);
      case 'bool': return false;
      default: return this.longStrings && LONGS.has(f.type) ? '0' : 0;
    }
  }

  private readValue(f: FieldDef, b: Buffer, r: { p: number }, end: number, wire: number): unknown {
    if (f.kind === 'message') {
      if (wire !== 2) throw new ProtoDecodeError(`${f.name}: wire type ${wire} for a message`);
      const len = readVarint(b, r, end);
      const e = r.p + len;
      if (e > end) throw new ProtoDecodeError(`${f.name}: a message past the end`);
      const v = this.read(this.message(f.type), b, r.p, e);
      r.p = e;
      return v;
    }
    if (f.kind === 'enum') {
      if (wire !== 0) throw new ProtoDecodeError(`${f.name}: wire type ${wire} for an enum`);
      const n = readVarint32(b, r, end);
      return this.schema.enums.get(f.type)!.byNumber.get(n) ?? n;
    }
    return readScalar(b, r, end, f.type, wire, this.longStrings);
  }
}

function readVarint(b: Buffer, r: { p: number }, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (r.p >= end) throw new ProtoDecodeError('a varint past the end');
    const byte = b[r.p++]!;
    result += (byte & 0x7f) * mul;
    if (byte < 0x80) return result;
    mul *= 128;
  }
  throw new ProtoDecodeError('a varint longer than 10 bytes');
}

/** A varint's low 32 bits as a signed number (a negative int32 arrives as ten bytes). */
function readVarint32(b: Buffer, r: { p: number }, end: number): number {
  let result = 0;
  for (let i = 0; i < 10; i++) {
    if (r.p >= end) throw new ProtoDecodeError('a varint past the end');
    const byte = b[r.p++]!;
    if (i < 5) result |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) return result | 0;
  }
  throw new ProtoDecodeError('a varint longer than 10 bytes');
}

function readVarintBig(b: Buffer, r: { p: number }, end: number): bigint {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (r.p >= end) throw new ProtoDecodeError('a varint past the end');
    const byte = b[r.p++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return result;
    shift += 7n;
  }
  throw new ProtoDecodeError('a varint longer than 10 bytes');
}

function need(r: { p: number }, end: number, n: number): void {
  if (r.p + n > end) throw new ProtoDecodeError('a value past the end');
}

/** `longStrings`: 64-bit integers as exact decimal strings, else as numbers. */
function readScalar(b: Buffer, r: { p: number }, end: number, type: string, wire: number, longStrings = false): unknown {
  const long = (n: bigint) => (longStrings ? n.toString() : Number(n));
  if (wire !== WIRE[type]) throw new ProtoDecodeError(`wire type ${wire} for ${type}`);
  switch (type) {
    case 'string':
    case 'bytes': {
      const len = readVarint(b, r, end);
      need(r, end, len);
      const s = b.subarray(r.p, r.p + len);
      r.p += len;
      return type === 'string' ? s.toString('utf8') : Buffer.from(s);
    }
    case 'bool': return readVarint32(b, r, end) !== 0;
    case 'int32': return readVarint32(b, r, end);
    case 'uint32': return readVarint32(b, r, end) >>> 0;
    case 'int64': return long(BigInt.asIntN(64, readVarintBig(b, r, end)));
    case 'uint64': return long(BigInt.asUintN(64, readVarintBig(b, r, end)));
    case 'sint32': { const n = readVarint32(b, r, end) >>> 0; return (n >>> 1) ^ -(n & 1); }
    case 'sint64': { const n = BigInt.asUintN(64, readVarintBig(b, r, end)); return long((n >> 1n) ^ -(n & 1n)); }
    case 'fixed32': need(r, end, 4); r.p += 4; return b.readUInt32LE(r.p - 4);
    case 'sfixed32': need(r, end, 4); r.p += 4; return b.readInt32LE(r.p - 4);
    case 'fixed64': need(r, end, 8); r.p += 8; return long(b.readBigUInt64LE(r.p - 8));
    case 'sfixed64': need(r, end, 8); r.p += 8; return long(b.readBigInt64LE(r.p - 8));
    case 'float': need(r, end, 4); r.p += 4; return b.readFloatLE(r.p - 4);
    case 'double': need(r, end, 8); r.p += 8; return b.readDoubleLE(r.p - 8);
  }
  throw new ProtoDecodeError(`type ${type}`);
}

function skip(b: Buffer, r: { p: number }, end: number, wire: number): void {
  switch (wire) {
    case 0: readVarint(b, r, end); return;
    case 1: need(r, end, 8); r.p += 8; return;
    case 2: { const len = readVarint(b, r, end); need(r, end, len); r.p += len; return; }
    case 5: need(r, end, 4); r.p += 4; return;
    default: throw new ProtoDecodeError(`wire type ${wire}`);
  }
}
