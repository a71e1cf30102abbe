import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConnectionLimit } from './connection-limit';

class Conn {
  bytesRead = 0;
  bytesWritten = 0;
  constructor(readonly name: string) {}
}

function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('below the cap every connection is admitted and counted', () => {
  const c = clock();
  const limit = new ConnectionLimit<Conn>(3, 1000, c.now);
  for (const n of ['a', 'b', 'c']) assert.deepEqual(limit.admit(new Conn(n)), { admitted: true });
  assert.equal(limit.size, 3);
});

test('at the cap the oldest silent connection old enough makes room', () => {
  const c = clock();
  const limit = new ConnectionLimit<Conn>(2, 1000, c.now);
  const a = new Conn('a');
  const b = new Conn('b');
  limit.admit(a);
  c.t = 10;
  limit.admit(b);
  c.t = 1010;
  const d = new Conn('d');
  const r = limit.admit(d);
  assert.equal(r.admitted, true);
  assert.equal(r.admitted && r.evict, a);
  assert.equal(limit.size, 2);
  // The evicted connection's close, when it comes, changes nothing.
  limit.release(a);
  assert.equal(limit.size, 2);
});

test('a connection that carried a byte either way is never evicted', () => {
  const c = clock();
  const limit = new ConnectionLimit<Conn>(2, 1000, c.now);
  const talker = new Conn('talker');
  const banner = new Conn('server spoke first');
  limit.admit(talker);
  limit.admit(banner);
  talker.bytesRead = 1; // the client spoke
  banner.bytesWritten = 220; // the server's banner reached the client
  c.t = 60_000;
  assert.deepEqual(limit.admit(new Conn('new')), { admitted: false });
  assert.equal(limit.size, 2);
});

test('a silent connection younger than the minimum age is not evicted: the new one is refused', () => {
  const c = clock();
  const limit = new ConnectionLimit<Conn>(1, 1000, c.now);
  limit.admit(new Conn('young'));
  c.t = 999;
  assert.deepEqual(limit.admit(new Conn('new')), { admitted: false });
  c.t = 1000;
  assert.equal(limit.admit(new Conn('new')).admitted, true);
});

test('a closed connection frees its place', () => {
  const limit = new ConnectionLimit<Conn>(1, 0, () => 0);
  const a = new Conn('a');
  a.bytesRead = 5;
  limit.admit(a);
  assert.equal(limit.admit(new Conn('b')).admitted, false);
  limit.release(a);
  assert.equal(limit.admit(new Conn('b')).admitted, true);
});

test('property: the count never exceeds the cap and only silent, old-enough connections are evicted', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.oneof(fc.constant({ op: 'open' as const }), fc.record({ op: fc.constant('talk' as const), i: fc.nat() }), fc.record({ op: fc.constant('close' as const), i: fc.nat() }), fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 600 }) })), { maxLength: 200 }),
      (max, ops) => {
        const c = clock();
        const minAge = 500;
        const limit = new ConnectionLimit<Conn>(max, minAge, c.now);
        const live: { conn: Conn; at: number }[] = [];
        for (const o of ops) {
          if (o.op === 'tick') c.t += o.ms;
          else if (o.op === 'talk' && live.length) live[o.i % live.length]!.conn.bytesRead++;
          else if (o.op === 'close' && live.length) {
            const [gone] = live.splice(o.i % live.length, 1);
            limit.release(gone!.conn);
          } else if (o.op === 'open') {
            const conn = new Conn(String(c.t));
            const r = limit.admit(conn);
            if (r.admitted && r.evict) {
              const k = live.findIndex((l) => l.conn === r.evict);
              assert.ok(k >= 0, 'evicted a connection that was not open');
              assert.equal(r.evict.bytesRead + r.evict.bytesWritten, 0, 'evicted a connection that carried bytes');
              assert.ok(c.t - live[k]!.at >= minAge, 'evicted a connection younger than the minimum age');
              // The oldest silent, old-enough one.
              const older = live.slice(0, k).filter((l) => l.conn.bytesRead + l.conn.bytesWritten === 0);
              assert.equal(older.length, 0, 'an older silent connection was passed over');
              live.splice(k, 1);
            }
            if (r.admitted) live.push({ conn, at: c.t });
            else {
              assert.equal(live.length, max, 'refused below the cap');
              assert.ok(!live.some((l) => l.conn.bytesRead + l.conn.bytesWritten === 0 && c.t - l.at >= minAge), 'refused while a silent connection could make room');
            }
          }
          assert.equal(limit.size, live.length);
          assert.ok(limit.size <= max);
        }
      },
    ),
    { numRuns: 300 },
  );
});
