/**
 * The dynamic table's ring and §4 accounting: evictions oldest first, an entry larger than the
 * table empties it, a capacity of 0, and the ring wrapping and growing with entries kept in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamicTable } from './dynamic-table';

function entries(t: DynamicTable): string[] {
  const out: string[] = [];
  for (let i = 0; i < t.length; i++) out.push(t.name(i) + '=' + t.value(i));
  return out;
}

test('entries are 32 + octets; the oldest leave first when a new one needs room', () => {
  const t = new DynamicTable(100);
  t.add('a', 'x'); // 34
  t.add('bb', 'yy'); // 36
  assert.equal(t.size, 70);
  t.add('ccc', 'zzz'); // 38: 'a' leaves
  assert.deepEqual(entries(t), ['ccc=zzz', 'bb=yy']);
  assert.equal(t.size, 74);
});

test('an entry larger than the table empties it and is not added', () => {
  const t = new DynamicTable(64);
  t.add('a', 'b');
  t.add('n', 'v'.repeat(40));
  assert.equal(t.length, 0);
  assert.equal(t.size, 0);
  t.add('a', 'b');
  assert.deepEqual(entries(t), ['a=b']);
});

test('an entry of exactly the capacity fits', () => {
  const t = new DynamicTable(40);
  t.add('abcd', 'efgh');
  assert.equal(t.size, 40);
  assert.equal(t.length, 1);
});

test('capacity 0 holds nothing; shrinking evicts until the rest fit', () => {
  const t = new DynamicTable(4096);
  for (let i = 0; i < 10; i++) t.add('k' + i, 'v');
  t.setCapacity(35 * 3 + 1); // each entry: 'kN' + 'v' + 32 = 35
  assert.deepEqual(entries(t), ['k9=v', 'k8=v', 'k7=v']);
  t.setCapacity(0);
  assert.equal(t.length, 0);
  t.add('a', '');
  assert.equal(t.length, 0);
});

test('the ring wraps and grows with every entry in order', () => {
  const t = new DynamicTable(1 << 20);
  const want: string[] = [];
  for (let i = 0; i < 500; i++) {
    t.add('n' + i, String(i));
    want.unshift(`n${i}=${i}`);
    if (i % 7 === 0) {
      // Evict some from the old end by shrinking to the current size minus one entry, then restore.
      t.setCapacity(t.size - 1);
      want.pop();
      t.setCapacity(1 << 20);
    }
  }
  assert.deepEqual(entries(t), want);
  assert.equal(t.size, want.reduce((n, e) => n + e.length - 1 + 32, 0));
});
