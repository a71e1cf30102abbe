import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, Progress } from './progress';

test('plain lines off a terminal, rewritten line on a terminal; counts and durations', () => {
  let out = '';
  const p = new Progress(4, { write: (t) => (out += t) });
  p.status('setup');
  p.step('one done');
  assert.match(out, /^\[0\/4 0s elapsed, ~\? left\] setup\n\[1\/4 0s elapsed, ~0s left\] one done\n$/);
  let tty = '';
  const q = new Progress(2, { write: (t) => (tty += t), isTTY: true });
  q.status('a long first line');
  q.status('short');
  q.note('kept');
  assert.ok(tty.startsWith('\r[0/2'));
  assert.match(tty, /\r\[0\/2 0s elapsed, ~\? left\] short {12}\nkept\n$/);
  assert.equal(formatDuration(75), '1m15s');
  assert.equal(formatDuration(NaN), '?');
});
