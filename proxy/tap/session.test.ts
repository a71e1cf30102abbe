import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TapEvent, TapHttpEvent } from '../../core/api/tap';
import { RateCap } from './rate';
import { TapSession } from './session';

function ev(stream: number, kind: TapHttpEvent['kind']): TapEvent {
  const id = { base: 1, stream };
  const http: TapHttpEvent =
    kind === 'request_init'
      ? { kind, id, method: 'GET', scheme: 'http', authority: 'a', path: '/' }
      : kind === 'response_init'
        ? { kind, id, sinceRequestInitUs: 1, status: 200 }
        : { kind, id, sinceRequestInitUs: 2, sinceResponseInitUs: 1, responseBytes: 3 };
  return { direction: 'outbound', source: { ip: '10.0.0.1', port: 1 }, destination: { ip: '10.0.0.2', port: 2 }, sourceLabels: {}, destinationLabels: {}, routeLabels: {}, http };
}

function request(s: TapSession, stream: number): void {
  s.offer(ev(stream, 'request_init'));
  s.offer(ev(stream, 'response_init'));
  s.offer(ev(stream, 'response_end'));
}

function writer(capacity = Infinity) {
  const got: TapEvent[] = [];
  let ended = 0;
  let room = capacity;
  return {
    got,
    ended: () => ended,
    setRoom: (n: number) => (room = n),
    w: {
      write: (e: TapEvent) => {
        got.push(e);
        return --room > 0;
      },
      end: () => void ended++,
    },
  };
}

test('limit: exactly `limit` requests are reported, with all their events, then the tap ends', () => {
  const out = writer();
  const s = new TapSession({ limit: 3, maxRps: 1e6, buffer: 100 }, out.w);
  // Two requests interleaved: both counted, in order of their request_init.
  s.offer(ev(1, 'request_init'));
  s.offer(ev(2, 'request_init'));
  s.offer(ev(2, 'response_init'));
  s.offer(ev(1, 'response_init'));
  s.offer(ev(1, 'response_end'));
  s.offer(ev(2, 'response_end'));
  for (let i = 3; i <= 10; i++) request(s, i);
  assert.equal(s.taken, 3);
  assert.equal(out.got.length, 9);
  assert.deepEqual(new Set(out.got.map((e) => e.http.id.stream)), new Set([1, 2, 3]));
  assert.equal(out.ended(), 1);
  assert.equal(s.done, true);
  // Events of requests that were not taken never show up, even with no limit.
  const out2 = writer();
  const s2 = new TapSession({ limit: 0, maxRps: 1e6, buffer: 100 }, out2.w);
  s2.offer(ev(7, 'response_end'));
  assert.equal(out2.got.length, 0);
  for (let i = 0; i < 50; i++) request(s2, i);
  assert.equal(out2.got.length, 150);
  assert.equal(out2.ended(), 0);
});

test('a full writer: events wait in the bounded buffer, the rest are dropped and counted, and it drains in order', () => {
  const out = writer(5);
  let drops = 0;
  const s = new TapSession({ limit: 0, maxRps: 1e6, buffer: 10, onDrop: () => drops++ }, out.w);
  for (let i = 1; i <= 20; i++) request(s, i); // 60 events
  assert.equal(out.got.length, 5);
  assert.equal(s.queued, 10);
  assert.equal(s.dropped, 45);
  assert.equal(drops, 45);
  out.setRoom(Infinity);
  s.drained();
  assert.equal(out.got.length, 15);
  assert.equal(s.queued, 0);
  // Written in the order offered.
  const short = { request_init: 'q', response_init: 's', response_end: 'e' } as const;
  const order = out.got.map((e) => `${e.http.id.stream}${short[e.http.kind]}`);
  assert.deepEqual(order, ['1q', '1s', '1e', '2q', '2s', '2e', '3q', '3s', '3e', '4q', '4s', '4e', '5q', '5s', '5e']);
  // A request whose request_init was lost loses the rest of its events too (counted).
  const out2 = writer(1);
  const s2 = new TapSession({ limit: 0, maxRps: 1e6, buffer: 0 }, out2.w);
  s2.offer(ev(1, 'request_init')); // written; the writer is now full
  s2.offer(ev(2, 'request_init')); // dropped
  out2.setRoom(Infinity);
  s2.drained();
  s2.offer(ev(2, 'response_init'));
  s2.offer(ev(2, 'response_end'));
  s2.offer(ev(1, 'response_end'));
  assert.deepEqual(out2.got.map((e) => `${e.http.id.stream}${e.http.kind}`), ['1request_init', '1response_end']);
  assert.equal(s2.dropped, 3);
});

test('rate cap: at most maxRps requests a second, bursts included, refilled with time', () => {
  let now = 0;
  const out = writer();
  const s = new TapSession({ limit: 0, maxRps: 10, buffer: 100, now: () => now }, out.w);
  for (let i = 0; i < 100; i++) request(s, i);
  assert.equal(s.taken, 10);
  now += 500; // half a second: five more
  for (let i = 100; i < 200; i++) request(s, i);
  assert.equal(s.taken, 15);
  now += 10_000; // a long pause refills one second's worth, no more
  for (let i = 200; i < 300; i++) request(s, i);
  assert.equal(s.taken, 25);
  assert.equal(out.got.length, 75);
  const r = new RateCap(2, 0);
  assert.deepEqual([r.take(0), r.take(0), r.take(0), r.take(499), r.take(500), r.take(500)], [true, true, false, false, true, false]);
});
