import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartBackoff } from './restart-backoff';

const o = { initialMs: 500, maxMs: 8000, stableMs: 60_000 };

test('a crash loop backs off: the delay doubles up to the ceiling', () => {
  const b = new RestartBackoff(o);
  let now = 0;
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    b.started(now);
    now += 100; // dies 100 ms after each start
    const d = b.died(now);
    delays.push(d);
    now += d;
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  assert.equal(b.attempt, 8);
});

test('a worker that stayed up for stableMs resets the delay; a quick death right after does not', () => {
  const b = new RestartBackoff(o);
  b.started(0);
  assert.equal(b.died(10), 500);
  b.started(510);
  assert.equal(b.died(520), 1000);
  b.started(1520);
  assert.equal(b.died(1520 + 60_000), 500, 'ran a minute: back to the first delay');
  assert.equal(b.attempt, 1);
  b.started(70_000);
  assert.equal(b.died(70_001), 1000);
});

test('dying again before a replacement started (a failed start) keeps doubling', () => {
  const b = new RestartBackoff(o);
  assert.equal(b.died(0), 500);
  assert.equal(b.died(600), 1000);
  assert.equal(b.died(1700), 2000);
});
