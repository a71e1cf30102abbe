import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stallAck, stallTick, type StallState } from './stall-watch';

test('bytes read keep a session alive without pings', () => {
  const s: StallState = { lastBytesRead: 0, pingSince: undefined };
  for (let t = 1; t <= 10; t++) assert.equal(stallTick(s, t * 100, t * 1000, 3000), 'none');
});

test('a quiet session is pinged once; an answered ping keeps it', () => {
  const s: StallState = { lastBytesRead: 50, pingSince: undefined };
  assert.equal(stallTick(s, 50, 1000, 3000), 'ping');
  assert.equal(stallTick(s, 50, 2000, 3000), 'none');
  stallAck(s);
  assert.equal(stallTick(s, 67, 3000, 3000), 'none'); // the ack's bytes
  assert.equal(stallTick(s, 67, 4000, 3000), 'ping');
});

test('a session that reads nothing and leaves its ping unanswered for stallMs is closed', () => {
  const s: StallState = { lastBytesRead: 9, pingSince: undefined };
  assert.equal(stallTick(s, 9, 1000, 3000), 'ping');
  assert.equal(stallTick(s, 9, 2000, 3000), 'none');
  assert.equal(stallTick(s, 9, 3999, 3000), 'none');
  assert.equal(stallTick(s, 9, 4000, 3000), 'close');
});

test('reading again after a ping was sent clears the suspicion', () => {
  const s: StallState = { lastBytesRead: 0, pingSince: undefined };
  assert.equal(stallTick(s, 0, 1000, 3000), 'ping');
  assert.equal(stallTick(s, 10, 5000, 3000), 'none');
  assert.equal(s.pingSince, undefined);
});
