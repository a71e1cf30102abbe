/**
 * RFC 7541 Appendix C, as printed: the integer examples (C.1), the literal representations
 * (C.2), the request sequences without and with Huffman coding (C.3, C.4) and the response
 * sequences with a 256-octet table and evictions (C.5, C.6). The decoder must give the RFC's
 * header lists and leave the RFC's dynamic table after each block; the encoder, configured as
 * the RFC's encoder was, must give the RFC's octets where its strategy is the RFC's (C.4, the
 * indexed field of C.2.4) and otherwise round-trip with the same table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder } from './decoder';
import type { TableView } from './dynamic-table';
import { HpackEncoder } from './encoder';
import { readInteger, writeInteger } from './integer';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function entries(t: TableView): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < t.length; i++) out.push(t.entry(i));
  return out;
}

test('C.1 integers: 10 and 1337 with a 5-bit prefix, 42 at an octet boundary', () => {
  const cases: [number, number, string][] = [
    [10, 5, '0a'],
    [1337, 5, '1f9a0a'],
    [42, 8, '2a'],
  ];
  for (const [value, prefix, wire] of cases) {
    const buf = Buffer.alloc(8);
    const end = writeInteger(buf, 0, value, prefix, 0);
    assert.equal(buf.subarray(0, end).toString('hex'), wire, `write ${value}/${prefix}`);
    const cur = { p: 0 };
    // The bits above the prefix belong to the representation: set them, the reader ignores them.
    const b = hex(wire);
    if (prefix < 8) b[0]! |= 0xff << prefix;
    assert.equal(readInteger(b, b.length, prefix, cur), value, `read ${wire}`);
    assert.equal(cur.p, b.length);
  }
});

interface Step {
  wire: string;
  headers: [string, string][];
  /** The dynamic table after the block, newest first, and its size. */
  table: [string, string][];
  size: number;
}

function checkDecoder(steps: Step[], maxTableSize: number): void {
  const d = new HpackDecoder({ maxTableSize });
  for (const [i, s] of steps.entries()) {
    const r = d.decode(hex(s.wire));
    assert.deepEqual(r.fields, s.headers.flat(), `block ${i + 1}: fields`);
    assert.equal(r.size, s.headers.reduce((n, [a, b]) => n + a.length + b.length + 32, 0), `block ${i + 1}: list size`);
    assert.deepEqual(entries(d.dynamicTable), s.table, `block ${i + 1}: dynamic table`);
    assert.equal(d.dynamicTable.size, s.size, `block ${i + 1}: table size`);
  }
}

/** `exact`: the encoder's octets must be the RFC's; otherwise they must decode to the RFC's lists. */
function checkEncoder(steps: Step[], maxTableSize: number, exact: boolean): void {
  const e = new HpackEncoder({ maxTableSize });
  const d = new HpackDecoder({ maxTableSize });
  for (const [i, s] of steps.entries()) {
    const wire = e.encode(s.headers.flat());
    if (exact) {
      assert.equal(wire.toString('hex'), hex(s.wire).toString('hex'), `block ${i + 1}: octets`);
      assert.deepEqual(entries(e.dynamicTable), s.table, `block ${i + 1}: encoder table`);
    }
    assert.deepEqual(d.decode(wire).fields, s.headers.flat(), `block ${i + 1}: round trip`);
    assert.deepEqual(entries(e.dynamicTable), entries(d.dynamicTable), `block ${i + 1}: tables in step`);
  }
}

test('C.2.1 literal with indexing: custom-key: custom-header enters the table', () => {
  const steps = [{ wire: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', headers: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']], size: 55 }] as Step[];
  checkDecoder(steps, 4096);
  checkEncoder(steps, 4096, false);
});

test('C.2.2 literal without indexing: :path: /sample/path leaves the table empty', () => {
  const d = new HpackDecoder();
  const r = d.decode(hex('040c 2f73 616d 706c 652f 7061 7468'));
  assert.deepEqual(r.fields, [':path', '/sample/path']);
  assert.equal(r.neverIndexed, undefined);
  assert.equal(d.dynamicTable.length, 0);
  assert.equal(d.dynamicTable.size, 0);
});

test('C.2.3 literal never indexed: password: secret, reported as never indexed', () => {
  const d = new HpackDecoder();
  const r = d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'));
  assert.deepEqual(r.fields, ['password', 'secret']);
  assert.deepEqual(r.neverIndexed, [0]);
  assert.equal(d.dynamicTable.length, 0);
  // The encoder keeps it never indexed when told so (its octets differ: it Huffman-codes the name).
  const e = new HpackEncoder();
  const wire = e.encode(['password', 'secret'], [0]);
  assert.equal(wire[0], 0x10);
  const back = new HpackDecoder().decode(wire);
  assert.deepEqual(back.fields, ['password', 'secret']);
  assert.deepEqual(back.neverIndexed, [0]);
  assert.equal(e.dynamicTable.length, 0);
});

test('C.2.4 indexed field: :method: GET is 82 both ways', () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex('82')).fields, [':method', 'GET']);
  assert.equal(d.dynamicTable.length, 0);
  assert.equal(new HpackEncoder().encode([':method', 'GET']).toString('hex'), '82');
});

const REQUESTS_HEADERS: [string, string][][] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const REQUESTS_TABLES: { table: [string, string][]; size: number }[] = [
  { table: [[':authority', 'www.example.com']], size: 57 },
  { table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 110 },
  { table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 164 },
];

const C3: Step[] = [
  '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '8286 84be 5808 6e6f 2d63 6163 6865',
  '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
].map((wire, i) => ({ wire, headers: REQUESTS_HEADERS[i]!, ...REQUESTS_TABLES[i]! }));

const C4: Step[] = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
].map((wire, i) => ({ wire, headers: REQUESTS_HEADERS[i]!, ...REQUESTS_TABLES[i]! }));

test('C.3 requests without Huffman: three blocks in sequence, fields and table after each', () => {
  checkDecoder(C3, 4096);
  // The RFC's encoder here never Huffman-codes; ours does when shorter: same table, other octets.
  checkEncoder(C3, 4096, false);
});

test('C.4 requests with Huffman: decoder as printed, and the encoder gives the RFC octets', () => {
  checkDecoder(C4, 4096);
  checkEncoder(C4, 4096, true);
});

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES_HEADERS: [string, string][][] = [
  [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOCATION]],
  [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOCATION]],
  [[':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', LOCATION], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]],
];
const RESPONSES_TABLES: { table: [string, string][]; size: number }[] = [
  { table: [['location', LOCATION], ['date', DATE1], ['cache-control', 'private'], [':status', '302']], size: 222 },
  // ":status: 302" evicted to make room for ":status: 307".
  { table: [[':status', '307'], ['location', LOCATION], ['date', DATE1], ['cache-control', 'private']], size: 222 },
  // Four evictions: everything but the three new entries.
  { table: [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]], size: 215 },
];

const C5: Step[] = [
  `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d
   546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
  '4803 3330 37c1 c0bf',
  `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f
   6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b
   2076 6572 7369 6f6e 3d31`,
].map((wire, i) => ({ wire, headers: RESPONSES_HEADERS[i]!, ...RESPONSES_TABLES[i]! }));

const C6: Step[] = [
  `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7
   8f0b 97c8 e9ae 82ae 43d3`,
  '4883 640e ffc1 c0bf',
  `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335
   dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
].map((wire, i) => ({ wire, headers: RESPONSES_HEADERS[i]!, ...RESPONSES_TABLES[i]! }));

test('C.5 responses without Huffman, 256-octet table: evictions as printed', () => {
  checkDecoder(C5, 256);
  // The RFC's encoder indexes `location`; ours sends it without indexing: round trip only.
  checkEncoder(C5, 256, false);
});

test('C.6 responses with Huffman, 256-octet table: evictions as printed', () => {
  checkDecoder(C6, 256);
  checkEncoder(C6, 256, false);
});
