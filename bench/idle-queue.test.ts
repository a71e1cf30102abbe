import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdleQueue } from './idle-queue';

test('idle connections are used in turn: with one request in flight, every connection carries traffic', () => {
  const q = new IdleQueue<number>();
  for (let c = 0; c < 32; c++) q.push(c);
  const used = new Set<number>();
  // A fast server: each request's connection is free again before the next is due.
  for (let i = 0; i < 64; i++) {
    const c = q.shift()!;
    used.add(c);
    q.push(c);
  }
  assert.equal(used.size, 32);
});

test('first freed, first used, across any interleaving of frees and uses (model check)', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.constant(-1)), { maxLength: 3000 }), (ops) => {
      const q = new IdleQueue<number>();
      const model: number[] = [];
      for (const op of ops) {
        if (op === -1) assert.equal(q.shift(), model.shift());
        else {
          q.push(op);
          model.push(op);
        }
        assert.equal(q.size, model.length);
      }
    }),
  );
});
