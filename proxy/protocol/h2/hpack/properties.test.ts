/**
 * Properties over generated input. Encoder and decoder, one context each, over sequences of
 * header lists (empty values, repeated names, long values, any latin1 octet, never-indexed pairs)
 * with table-size changes between blocks, stay in step: every list comes back exactly, the
 * never-indexed pairs come back marked, and the two tables hold the same entries. Random and
 * mutated bytes into a decoder give a result or an HpackError, nothing else, and leave its table
 * within its capacity and the capacity within our setting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HpackDecoder } from './decoder';
import type { TableView } from './dynamic-table';
import { HpackEncoder } from './encoder';
import { HpackError } from './errors';

const latin1Char = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), minLength: 1, maxLength: 12 });

const name = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(':method', ':path', ':authority', ':status', 'content-type', 'accept', 'user-agent', 'cache-control', 'date', 'x-trace', 'grpc-status') },
  { weight: 1, arbitrary: fc.constantFrom('authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'content-length', 'x-request-id') },
  { weight: 2, arbitrary: token.map((t) => 'x-' + t) },
);
const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('', 'GET', 'POST', '/', '200', '404', 'application/grpc', 'gzip, deflate', 'www.example.com', '/a?' + 'q'.repeat(40)) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x00-\xff]/g, '?')) },
  { weight: 2, arbitrary: fc.string({ unit: latin1Char, maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: latin1Char, minLength: 200, maxLength: 5000 }) },
);
const headerList = fc.array(fc.tuple(name, value), { maxLength: 24 });

type Step = { kind: 'block'; pairs: [string, string][]; never: number[] } | { kind: 'settings'; sizes: number[] };
const tableSize = fc.oneof(fc.constantFrom(0, 1, 64, 256, 4096, 8192), fc.integer({ min: 0, max: 10000 }));
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: headerList.chain((pairs) => fc.record({ kind: fc.constant('block' as const), pairs: fc.constant(pairs), never: fc.subarray(pairs.map((_, i) => i)) })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settings' as const), sizes: fc.array(tableSize, { minLength: 1, maxLength: 3 }) }) },
);

function entries(t: TableView): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < t.length; i++) out.push(t.entry(i));
  return out;
}

/** Fields the encoder never indexes whatever the caller says (its documented strategy). */
function sensitive(n: string, v: string): boolean {
  return n === 'authorization' || n === 'proxy-authorization' || (n === 'cookie' && v.length < 20);
}

test('encoder and decoder stay in step over blocks and table-size changes', () => {
  fc.assert(
    fc.property(fc.constantFrom(0, 256, 4096), fc.array(step, { minLength: 1, maxLength: 12 }), (initial, steps) => {
      const e = new HpackEncoder({ maxTableSize: initial });
      const d = new HpackDecoder({ maxTableSize: initial });
      for (const s of steps) {
        if (s.kind === 'settings') {
          // Each SETTINGS: the peer's encoder learns it, and we apply it once acknowledged.
          for (const n of s.sizes) {
            e.setMaxTableSize(n);
            d.setMaxTableSize(n);
          }
          continue;
        }
        const fields = s.pairs.flat();
        const r = d.decode(e.encode(fields, s.never));
        assert.deepEqual(r.fields, fields);
        assert.equal(r.size, s.pairs.reduce((n, [a, b]) => n + a.length + b.length + 32, 0));
        const marked = r.neverIndexed ?? [];
        for (const i of s.never) assert.ok(marked.includes(i), `pair ${i} marked never-indexed comes back so`);
        for (const i of marked) assert.ok(s.never.includes(i) || sensitive(...s.pairs[i]!), `pair ${i} never-indexed for a reason`);
        assert.deepEqual(entries(d.dynamicTable), entries(e.dynamicTable));
        assert.equal(d.dynamicTable.size, e.dynamicTable.size);
        assert.equal(d.dynamicTable.capacity, e.dynamicTable.capacity);
        assert.ok(d.dynamicTable.size <= d.dynamicTable.capacity && d.dynamicTable.capacity <= d.maxTableSize);
      }
    }),
    { numRuns: 300 },
  );
});

function decodeOrRefuse(d: HpackDecoder, b: Buffer): void {
  try {
    d.decode(b);
  } catch (e) {
    if (!(e instanceof HpackError)) throw e;
  }
  const t = d.dynamicTable;
  assert.ok(t.size <= t.capacity, `table ${t.size} within its capacity ${t.capacity}`);
  let sum = 0;
  for (let i = 0; i < t.length; i++) sum += t.entry(i)[0].length + t.entry(i)[1].length + 32;
  assert.equal(sum, t.size);
}

test('random bytes: a result or an HpackError, and the table within bounds', () => {
  fc.assert(
    fc.property(fc.constantFrom(0, 100, 4096), fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }), (max, blocks) => {
      const d = new HpackDecoder({ maxTableSize: max });
      for (const b of blocks) {
        decodeOrRefuse(d, Buffer.from(b));
        assert.ok(d.dynamicTable.capacity <= max);
      }
    }),
    { numRuns: 2000 },
  );
});

test('mutated real blocks: a result or an HpackError, and the table within bounds', () => {
  fc.assert(
    fc.property(
      fc.array(headerList, { minLength: 1, maxLength: 3 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 6 }),
      (lists, edits) => {
        const e = new HpackEncoder();
        const d = new HpackDecoder();
        const blocks = lists.map((l) => e.encode(l.flat()));
        const last = Buffer.from(blocks.pop()!);
        for (const b of blocks) d.decode(b);
        const bytes = [...last];
        for (const [at, v, op] of edits) {
          const i = bytes.length === 0 ? 0 : at % (bytes.length + (op === 'insert' ? 1 : 0));
          if (op === 'set' && bytes.length > 0) bytes[i] = v;
          else if (op === 'insert') bytes.splice(i, 0, v);
          else if (bytes.length > 0) bytes.splice(i, 1);
        }
        decodeOrRefuse(d, Buffer.from(bytes));
      },
    ),
    { numRuns: 1000 },
  );
});
