/**
 * What the decoder refuses (each an HpackError with code LINNET_HTTP2_COMPRESSION_ERROR and the
 * offset of the representation at fault) and what it reports besides the fields: never-indexed
 * pairs, the RFC 9113 list size, octets kept as latin1, names as sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinnetError } from '../../../../core/errors';
import { HpackDecoder } from './decoder';
import { HpackEncoder } from './encoder';
import { HpackError } from './errors';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function refuses(d: HpackDecoder, wire: string, offset: number, what: RegExp): void {
  assert.throws(
    () => d.decode(hex(wire)),
    (e: unknown) => {
      assert.ok(e instanceof HpackError, `HpackError, got ${String(e)}`);
      assert.equal(e.code, 'LINNET_HTTP2_COMPRESSION_ERROR');
      assert.match(e.message, what);
      assert.equal(e.offset, offset, e.message);
      assert.match(e.message, new RegExp(`at byte ${offset} `));
      assert.match(e.hint ?? '', /COMPRESSION_ERROR/);
      return true;
    },
  );
}

test('index 0 is refused, as an indexed field and as nothing else', () => {
  refuses(new HpackDecoder(), '82 80', 1, /index 0/);
});

test('an index past the static and dynamic tables is refused, for a field and for a name', () => {
  const d = new HpackDecoder();
  refuses(d, 'be', 0, /index 62 past the static table and the 0 dynamic entries/);
  refuses(new HpackDecoder(), '82 7e 01 61', 1, /index 62/);
  refuses(new HpackDecoder(), '0f 2f 01 61', 0, /index 62/);
  const e = new HpackDecoder();
  e.decode(hex('40 01 61 01 62'));
  assert.deepEqual(e.decode(hex('be')).fields, ['a', 'b']);
  refuses(e, 'be bf', 1, /index 63 past the static table and the 1 dynamic entries/);
});

test('integers above 2^31-1, with too many continuation octets, or cut off are refused', () => {
  refuses(new HpackDecoder(), 'ff ff ff ff ff 07', 0, /integer above 2\^31-1/);
  refuses(new HpackDecoder(), 'ff 80 80 80 80 80 00', 0, /longer than 5 continuation octets/);
  refuses(new HpackDecoder(), '82 ff', 1, /integer cut off/);
  refuses(new HpackDecoder(), '40 7f ff ff ff ff 07', 1, /integer above/);
});

test('a string longer than the bytes left, or missing, is refused', () => {
  refuses(new HpackDecoder(), '40 05 61 62', 1, /string literal of 5 octets with 2 left/);
  refuses(new HpackDecoder(), '40', 1, /block ends where a string literal should start/);
  refuses(new HpackDecoder(), '41', 1, /block ends where a string literal should start/);
  refuses(new HpackDecoder(), '41 03 61 62', 1, /3 octets with 2 left/);
});

test('Huffman: EOS, padding longer than 7 bits, padding not all ones', () => {
  refuses(new HpackDecoder(), '40 01 61 84 ff ff ff ff', 3, /EOS symbol/);
  refuses(new HpackDecoder(), '40 01 61 82 1f ff', 3, /padding/);
  refuses(new HpackDecoder(), '40 01 61 81 1e', 3, /padding/);
  refuses(new HpackDecoder(), '40 81 ff 01 61', 1, /padding/);
});

test('a size update above our setting, after a field, or a third one is refused', () => {
  assert.equal(new HpackDecoder().decode(hex('3f e1 1f')).fields.length, 0); // 4096: allowed
  refuses(new HpackDecoder(), '3f e2 1f', 0, /size update to 4097, above our SETTINGS_HEADER_TABLE_SIZE 4096/);
  refuses(new HpackDecoder({ maxTableSize: 0 }), '21', 0, /size update to 1, above/);
  refuses(new HpackDecoder(), '82 20', 1, /size update after a header field/);
  refuses(new HpackDecoder(), '20 20 20', 2, /more than two/);
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex('20 3f e1 1f 82')).fields, [':method', 'GET']);
  assert.equal(d.dynamicTable.capacity, 4096);
});

test('a size update applies at once: it evicts, and the same block inserts under it', () => {
  const d = new HpackDecoder();
  d.decode(hex('40 01 61 01 62 40 01 63 01 64')); // two entries of 34
  assert.equal(d.dynamicTable.length, 2);
  const r = d.decode(hex('3f 04 be 40 01 65 01 66')); // capacity 35: keeps c=d; then e=f replaces it
  assert.deepEqual(r.fields, ['c', 'd', 'e', 'f']);
  assert.equal(d.dynamicTable.capacity, 35);
  assert.deepEqual(d.dynamicTable.entry(0), ['e', 'f']);
  assert.equal(d.dynamicTable.length, 1);
});

test('after our setting went below the table, the next block must start by shrinking it', () => {
  const d = new HpackDecoder();
  d.decode(hex('40 01 61 01 62'));
  d.setMaxTableSize(100);
  refuses(d, '82', 0, /no dynamic table size update at the start of the first block after our SETTINGS_HEADER_TABLE_SIZE went down to 100/);

  const e = new HpackDecoder();
  e.setMaxTableSize(100);
  assert.deepEqual(e.decode(hex('3f 45 82')).fields, [':method', 'GET']); // 100
  assert.equal(e.dynamicTable.capacity, 100);
  assert.deepEqual(e.decode(hex('82')).fields, [':method', 'GET']); // once is enough
  refuses(e, '3f 46', 0, /size update to 101/);
});

test('down and up again between blocks: the smallest must be signalled', () => {
  const d = new HpackDecoder();
  d.setMaxTableSize(0);
  d.setMaxTableSize(4096);
  refuses(d, '3f e1 1f 82', 0, /never went down to 0/);
  const e = new HpackDecoder();
  e.setMaxTableSize(0);
  e.setMaxTableSize(4096);
  assert.deepEqual(e.decode(hex('20 3f e1 1f 82')).fields, [':method', 'GET']);
  assert.equal(e.dynamicTable.capacity, 4096);
});

test('a larger setting asks for nothing; the peer may keep its table', () => {
  const d = new HpackDecoder();
  d.setMaxTableSize(8192);
  assert.deepEqual(d.decode(hex('82')).fields, [':method', 'GET']);
  assert.equal(d.dynamicTable.capacity, 4096);
  assert.equal(d.decode(hex('3f e1 3f')).fields.length, 0); // 8192 now allowed
  assert.equal(d.dynamicTable.capacity, 8192);
});

test('never-indexed pairs are reported by pair index; the list size is RFC 9113 §6.5.2', () => {
  const d = new HpackDecoder();
  // :method GET; never-indexed new name a: b; :path /; never-indexed authorization (static name 23): x
  const r = d.decode(hex('82 10 01 61 01 62 84 1f 08 01 78'));
  assert.deepEqual(r.fields, [':method', 'GET', 'a', 'b', ':path', '/', 'authorization', 'x']);
  assert.deepEqual(r.neverIndexed, [1, 3]);
  assert.equal(r.size, 7 + 3 + 32 + (1 + 1 + 32) + (5 + 1 + 32) + (13 + 1 + 32));
  assert.equal(d.dynamicTable.length, 0);
  assert.equal(d.decode(hex('82')).neverIndexed, undefined);
});

test('octets are kept as latin1; names come as sent', () => {
  const r = new HpackDecoder().decode(hex('00 03 58 2d 41 03 ff 00 80'));
  assert.deepEqual(r.fields, ['X-A', '\xff\x00\x80']);
  assert.deepEqual(new HpackDecoder().decode(hex('00 01 61 00')).fields, ['a', '']);
});

test('a table of size 0 takes nothing in', () => {
  const d = new HpackDecoder({ maxTableSize: 0 });
  assert.deepEqual(d.decode(hex('40 01 61 01 62')).fields, ['a', 'b']);
  assert.equal(d.dynamicTable.length, 0);
  refuses(d, 'be', 0, /index 62/);
});

test('long Huffman values decode (scratch past its kept size), and the next block still does', () => {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  const big = 'abcdefghij'.repeat(5000);
  assert.deepEqual(d.decode(e.encode(['x-big', big])).fields, ['x-big', big]);
  assert.deepEqual(d.decode(e.encode(['x-small', 'www.example.com'])).fields, ['x-small', 'www.example.com']);
});

test('a table size that is not a SETTINGS value is the caller\'s bug, not a compression error', () => {
  for (const n of [-1, 1.5, 2 ** 32, NaN]) {
    assert.throws(
      () => new HpackDecoder().setMaxTableSize(n),
      (e: unknown) => e instanceof LinnetError && !(e instanceof HpackError) && e.code === 'LINNET_HTTP2_HPACK_MISUSE',
    );
  }
  assert.throws(() => new HpackDecoder({ maxTableSize: -5 }), /not a SETTINGS_HEADER_TABLE_SIZE/);
});
