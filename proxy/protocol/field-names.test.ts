import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { lowerFieldName } from './field-names';
import { STATIC_NAMES } from './h2/hpack/static-table';

const at = (s: string, pad = 3): [Buffer, number, number] => {
  // The name sits inside other bytes, as in a head: only [start, end) may be read.
  const b = Buffer.from(`${'X'.repeat(pad)}${s}${'Y'.repeat(pad)}`, 'latin1');
  return [b, pad, pad + s.length];
};

test('a common name in any case comes back in lower case (from the table of constants)', () => {
  const known = ['Content-Type', 'CONTENT-LENGTH', 'content-length', 'Transfer-Encoding', 'X-Forwarded-For', 'Host', 'TE', 'Grpc-Status', 'l5d-orig-proto', 'Set-Cookie', 'Connection'];
  for (const name of known) {
    assert.equal(lowerFieldName(...at(name)), name.toLowerCase());
    assert.equal(lowerFieldName(...at(name.toUpperCase(), 1)), name.toLowerCase());
  }
  for (const name of STATIC_NAMES) if (name !== '' && !name.startsWith(':')) assert.equal(lowerFieldName(...at(name.toUpperCase())), name);
});

test('other names, and near misses of common ones, are lower-cased from their bytes', () => {
  for (const name of ['X-Custom', 'Content-Typf', 'Dontent-Type', 'content-typ', 'Content-Typee', 'a', 'A', 'Hosu', 'T', 'Te-']) {
    assert.equal(lowerFieldName(...at(name)), name.toLowerCase());
  }
});

test('fuzz: the same as slicing and lower-casing, for any token name', () => {
  const tchar = fc.constantFrom(...'!#$%&\'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''));
  // Half the cases start from a common name with one character changed, so candidates are checked to the end.
  const near = fc.tuple(fc.constantFrom(...STATIC_NAMES.filter((n) => n !== '' && !n.startsWith(':'))), fc.nat(), tchar).map(([n, i, c]) => {
    const j = i % n.length;
    return n.slice(0, j) + c + n.slice(j + 1);
  });
  const name = fc.oneof(fc.array(tchar, { minLength: 1, maxLength: 80 }).map((a) => a.join('')), near, near.map((n) => n.toUpperCase()));
  fc.assert(
    fc.property(name, fc.nat({ max: 5 }), (n, pad) => {
      assert.equal(lowerFieldName(...at(n, pad)), n.toLowerCase());
    }),
    { numRuns: 20_000 },
  );
});
