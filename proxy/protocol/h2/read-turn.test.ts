import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadTurn } from './read-turn';

test('work deferred during a turn runs at its end, in order; outside a turn, on the next tick', async () => {
  const turn = new ReadTurn();
  const log: string[] = [];
  turn.run((n: number) => {
    turn.defer(() => log.push('a'));
    log.push(`read ${n}`);
    turn.defer(() => log.push('b'));
  }, 1);
  assert.deepEqual(log, ['read 1', 'a', 'b']);
  turn.defer(() => log.push('later'));
  assert.deepEqual(log, ['read 1', 'a', 'b']);
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(log, ['read 1', 'a', 'b', 'later']);
  // A turn that throws still ends: what is deferred later waits for the next tick, not a turn that never ends.
  assert.throws(() => turn.run(() => { throw new Error('x'); }, 0));
  turn.defer(() => log.push('after throw'));
  await new Promise((r) => process.nextTick(r));
  assert.equal(log.at(-1), 'after throw');
});
