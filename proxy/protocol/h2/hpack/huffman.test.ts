/**
 * The Huffman code (RFC 7541 Appendix B) derived from code lengths: the codes the RFC prints for
 * a sample of symbols, every octet through encode and decode, and the three refusals of §5.2
 * (EOS inside a string, padding longer than 7 bits, padding that is not all ones).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CODE_LENGTHS, CODES, EOS, HUFFMAN_BAD_PADDING, HUFFMAN_EOS, huffmanDecode, huffmanDecodedMax, huffmanEncode, huffmanLength } from './huffman';

function encode(s: string): Buffer {
  const out = Buffer.alloc(huffmanLength(s));
  const end = huffmanEncode(s, out, 0);
  assert.equal(end, out.length, 'huffmanLength agrees with what huffmanEncode writes');
  return out;
}

function decode(b: Buffer): string | number {
  const out = Buffer.alloc(huffmanDecodedMax(b.length));
  const n = huffmanDecode(b, 0, b.length, out);
  return n < 0 ? n : out.toString('latin1', 0, n);
}

test('derived codes are the ones RFC 7541 Appendix B prints', () => {
  // (symbol, code as printed in hex, length)
  const printed: [number, number, number][] = [
    [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [10, 0x3ffffffc, 30], [32, 0x14, 6], [48, 0x0, 5], [58, 0x5c, 7], [97, 0x3, 5],
    [116, 0x9, 5], [122, 0x7b, 7], [126, 0x1ffd, 13], [127, 0xffffffc, 28], [128, 0xfffe6, 20], [200, 0x3ffffe2, 26],
    [255, 0x3ffffee, 26], [EOS, 0x3fffffff, 30],
  ];
  for (const [s, code, len] of printed) {
    assert.equal(CODE_LENGTHS[s], len, `length of ${s}`);
    assert.equal(CODES[s], code, `code of ${s}`);
  }
  // A complete prefix code: the Kraft sum is exactly 1.
  let kraft = 0;
  for (let s = 0; s <= EOS; s++) kraft += 2 ** -CODE_LENGTHS[s]!;
  assert.equal(kraft, 1);
});

test('RFC 7541 C.4.1: www.example.com', () => {
  assert.equal(encode('www.example.com').toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  assert.equal(decode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex')), 'www.example.com');
});

test('every octet, alone and all together, decodes to itself', () => {
  let all = '';
  for (let c = 0; c < 256; c++) {
    const s = String.fromCharCode(c);
    all += s;
    assert.equal(decode(encode(s)), s, `octet ${c}`);
  }
  assert.equal(decode(encode(all)), all);
  assert.equal(decode(encode('')), '');
});

test('any latin1 string round-trips, and decodes within huffmanDecodedMax', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 300 }), (s) => {
      const b = encode(s);
      assert.ok(s.length <= huffmanDecodedMax(b.length));
      assert.equal(decode(b), s);
    }),
  );
});

test('EOS inside a string is refused', () => {
  // 30 one-bits are EOS; four 0xff octets hold them.
  assert.equal(decode(Buffer.from('ffffffff', 'hex')), HUFFMAN_EOS);
  // After a symbol: 'a' (00011) then ones through EOS.
  assert.equal(decode(Buffer.from('1fffffffff', 'hex')), HUFFMAN_EOS);
});

test('padding longer than 7 bits or not all ones is refused', () => {
  // 'a' = 00011, padded with 3 ones: fine. With a whole extra 0xff octet: 11 bits of padding.
  assert.equal(decode(Buffer.from('1f', 'hex')), 'a');
  assert.equal(decode(Buffer.from('1fff', 'hex')), HUFFMAN_BAD_PADDING);
  assert.equal(decode(Buffer.from('ff', 'hex')), HUFFMAN_BAD_PADDING);
  // Padding with a zero bit: 00011 110.
  assert.equal(decode(Buffer.from('1e', 'hex')), HUFFMAN_BAD_PADDING);
  // A code cut short that is not a prefix of EOS: '0' is 00000; 00000 000 leaves 000 pending.
  assert.equal(decode(Buffer.from('00', 'hex')), HUFFMAN_BAD_PADDING);
});

test('code units above 0xff are coded as their low octet, as Buffer latin1 writes them', () => {
  assert.deepEqual(encode('\u0161'), encode('\u0061'));
});
