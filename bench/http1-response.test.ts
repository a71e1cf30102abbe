import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dueCount, ResponseCounter } from './http1-response';

const CL = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello';
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
const NOBODY = 'HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n';
const ERR = 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n';
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

test('counts content-length, chunked, bodiless and error responses; records statuses', () => {
  const c = new ResponseCounter();
  assert.equal(c.feed(Buffer.from(CL + CHUNKED + NOBODY + ERR)), 4);
  assert.deepEqual(c.statuses, [200, 200, 204, 503]);
  assert.equal(c.feed(Buffer.from(CONTINUE + CL)), 1);
});

test('property: any split of a response stream into chunks gives the same count', () => {
  const stream = Buffer.from(CL + CHUNKED + CONTINUE + NOBODY + CL + ERR + CHUNKED);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const c = new ResponseCounter();
      let n = 0;
      let prev = 0;
      for (const p of [...points, stream.length]) {
        n += c.feed(stream.subarray(prev, p));
        prev = p;
      }
      assert.equal(n, 6);
    }),
  );
});

test('a non-HTTP answer is a parse error', () => {
  assert.throws(() => new ResponseCounter().feed(Buffer.from('-ERR unknown command\r\n\r\n')), (e: Error & { code?: string }) => e.code === 'LINNET_BENCH_PARSE');
});

test('open-loop schedule: request i is due at start + i/rate, whatever came before', () => {
  const s = 1_000_000_000;
  assert.equal(dueCount(s, s - 1, 1000), 0);
  assert.equal(dueCount(s, s, 1000), 1);
  assert.equal(dueCount(s, s + 999_999, 1000), 1);
  assert.equal(dueCount(s, s + 1_000_000, 1000), 2);
  assert.equal(dueCount(s, s + 1e9, 5000), 5001); // a stalled second: all 5000 are due at once
});
