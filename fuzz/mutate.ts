/**
 * Corpus-driven mutation as fast-check arbitraries. An input is "corpus entry i, then a short list
 * of edits"; fast-check picks i and the edits, and when a property fails it shrinks the list
 * (fewer, smaller edits), so a finding comes back close to a real seed. Edits are plain data and
 * `applyEdits` is pure, so the same seed gives the same inputs.
 */
import fc from 'fast-check';

export type Edit =
  | { t: 'flip'; at: number; bit: number }
  | { t: 'set'; at: number; byte: number }
  | { t: 'insert'; at: number; bytes: Uint8Array }
  | { t: 'delete'; at: number; len: number }
  | { t: 'token'; at: number; token: number; replace: number }
  | { t: 'splice'; at: number; from: number; start: number; len: number }
  | { t: 'repeat'; at: number; len: number; times: number }
  | { t: 'number'; at: number; width: 1 | 2 | 4; value: number }
  | { t: 'truncate'; at: number };

export interface MutationContext {
  corpus: readonly Buffer[];
  dictionary: readonly Buffer[];
  maxBytes: number;
}

/** Bytes that parsers treat specially: controls, separators, the top bit. */
const SPECIAL_BYTES = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2d, 0x2f, 0x3a, 0x3b, 0x3d, 0x5c, 0x7f, 0x80, 0xc0, 0xff];
/** Lengths and counts at the edges of fields. */
const EDGE_NUMBERS = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x4001, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0xffffffff];

function pos(at: number, len: number): number {
  return len === 0 ? 0 : at % (len + 1);
}

export function applyEdit(buf: Buffer, e: Edit, ctx: MutationContext): Buffer {
  const n = buf.length;
  switch (e.t) {
    case 'flip': {
      if (n === 0) return buf;
      const i = e.at % n;
      const out = Buffer.from(buf);
      out[i] = out[i]! ^ (1 << e.bit);
      return out;
    }
    case 'set': {
      if (n === 0) return Buffer.from([e.byte]);
      const out = Buffer.from(buf);
      out[e.at % n] = e.byte;
      return out;
    }
    case 'insert': {
      const i = pos(e.at, n);
      return Buffer.concat([buf.subarray(0, i), e.bytes, buf.subarray(i)]);
    }
    case 'delete': {
      if (n === 0) return buf;
      const i = e.at % n;
      return Buffer.concat([buf.subarray(0, i), buf.subarray(i + e.len)]);
    }
    case 'token': {
      if (ctx.dictionary.length === 0) return buf;
      const tok = ctx.dictionary[e.token % ctx.dictionary.length]!;
      const i = pos(e.at, n);
      return Buffer.concat([buf.subarray(0, i), tok, buf.subarray(Math.min(n, i + e.replace))]);
    }
    case 'splice': {
      if (ctx.corpus.length === 0) return buf;
      const other = ctx.corpus[e.from % ctx.corpus.length]!;
      const s = other.length === 0 ? 0 : e.start % other.length;
      const i = pos(e.at, n);
      return Buffer.concat([buf.subarray(0, i), other.subarray(s, s + e.len), buf.subarray(i)]);
    }
    case 'repeat': {
      if (n === 0) return buf;
      const i = e.at % n;
      const chunk = buf.subarray(i, i + e.len);
      const copies = Math.max(1, Math.min(e.times, Math.floor(ctx.maxBytes / Math.max(1, chunk.length))));
      return Buffer.concat([buf.subarray(0, i), ...Array<Buffer>(copies).fill(chunk), buf.subarray(i)]);
    }
    case 'number': {
      if (n < e.width) return buf;
      const i = e.at % (n - e.width + 1);
      const out = Buffer.from(buf);
      if (e.width === 1) out.writeUInt8(e.value & 0xff, i);
      else if (e.width === 2) out.writeUInt16BE(e.value & 0xffff, i);
      else out.writeUInt32BE(e.value >>> 0, i);
      return out;
    }
    case 'truncate':
      return buf.subarray(0, pos(e.at, n));
  }
}

export function applyEdits(base: Buffer, edits: readonly Edit[], ctx: MutationContext): Buffer {
  let b = base;
  for (const e of edits) {
    b = applyEdit(b, e, ctx);
    if (b.length > ctx.maxBytes) b = b.subarray(0, ctx.maxBytes);
  }
  return b;
}

const at = fc.nat();
const byte = fc.oneof(fc.constantFrom(...SPECIAL_BYTES), fc.integer({ min: 0, max: 255 }));

export const editArbitrary: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flip' as const), at, bit: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('set' as const), at, byte }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('insert' as const), at, bytes: fc.array(byte, { minLength: 1, maxLength: 4 }).map((a) => Uint8Array.from(a)) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('token' as const), at, token: fc.nat(), replace: fc.oneof(fc.constant(0), fc.nat(12)) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('splice' as const), at, from: fc.nat(), start: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('repeat' as const), at, len: fc.integer({ min: 1, max: 32 }), times: fc.integer({ min: 2, max: 4096 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('number' as const), at, width: fc.constantFrom(1 as const, 2 as const, 4 as const), value: fc.oneof(fc.constantFrom(...EDGE_NUMBERS), fc.nat()) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('truncate' as const), at }) },
);

/** One generated input: which seed, which edits, and the bytes they make. */
export interface Mutant {
  seed: number;
  edits: Edit[];
  bytes: Buffer;
}

/**
 * Inputs from a (growing) corpus: mostly a seed with 1-8 edits, sometimes a seed as is, sometimes
 * random bytes. The corpus array may grow while fast-check runs (coverage guidance appends).
 */
export function mutantArbitrary(ctx: MutationContext): fc.Arbitrary<Mutant> {
  const fromCorpus = fc
    .tuple(fc.nat(), fc.array(editArbitrary, { minLength: 0, maxLength: 8 }))
    .map(([seed, edits]): Mutant => {
      const base = ctx.corpus.length ? ctx.corpus[seed % ctx.corpus.length]! : Buffer.alloc(0);
      return { seed, edits, bytes: applyEdits(base, edits, ctx) };
    });
  const random = fc.uint8Array({ maxLength: 256 }).map((a): Mutant => ({ seed: -1, edits: [], bytes: Buffer.from(a) }));
  return fc.oneof({ weight: 19, arbitrary: fromCorpus }, { weight: 1, arbitrary: random });
}
