/**
 * HPACK integers (RFC 7541 §5.1) past the RFC's examples: every prefix width round-trips, and a
 * reader refuses values above 2^31-1, more than five continuation octets and a cut-off integer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { INTEGER_MAX, INTEGER_OVERFLOW, INTEGER_TRUNCATED, readInteger, writeInteger } from './integer';

test('values round-trip under every prefix width, flags kept out of the value', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: INTEGER_MAX }), fc.integer({ min: 1, max: 8 }), (v, prefix) => {
      const flags = prefix === 8 ? 0 : (0xff << prefix) & 0xff;
      const buf = Buffer.alloc(8);
      const end = writeInteger(buf, 0, v, prefix, flags);
      assert.equal(buf[0]! & flags, flags);
      const cur = { p: 0 };
      assert.equal(readInteger(buf, end, prefix, cur), v);
      assert.equal(cur.p, end);
    }),
  );
});

test('the largest value, and one past it', () => {
  const buf = Buffer.alloc(8);
  const end = writeInteger(buf, 0, INTEGER_MAX, 5, 0);
  assert.equal(readInteger(buf, end, 5, { p: 0 }), INTEGER_MAX);
  const over = Buffer.alloc(8);
  const e2 = writeInteger(over, 0, INTEGER_MAX + 1, 5, 0);
  assert.equal(readInteger(over, e2, 5, { p: 0 }), INTEGER_OVERFLOW);
});

test('more than five continuation octets is refused even when they carry zeros', () => {
  assert.equal(readInteger(Buffer.from('1f8080808000', 'hex'), 6, 5, { p: 0 }), 31);
  assert.equal(readInteger(Buffer.from('1f808080808000', 'hex'), 7, 5, { p: 0 }), INTEGER_OVERFLOW);
  assert.equal(readInteger(Buffer.from('1fffffffffffffffff7f', 'hex'), 10, 5, { p: 0 }), INTEGER_OVERFLOW);
});

test('an integer cut off by the end is refused, and the cursor stays', () => {
  const cur = { p: 0 };
  assert.equal(readInteger(Buffer.from('1f9a', 'hex'), 2, 5, cur), INTEGER_TRUNCATED);
  assert.equal(readInteger(Buffer.from('1f', 'hex'), 1, 5, cur), INTEGER_TRUNCATED);
  assert.equal(cur.p, 0);
});
