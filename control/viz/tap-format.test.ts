import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TapEvent } from './tap-client';
import { renderTop, tapLine, tapMatch, TopTable } from './tap-format';

const base = { direction: 'inbound' as const, source: { ip: '10.0.0.20', port: 40000 }, destination: { ip: '10.0.0.11', port: 8080 }, sourceLabels: { tls: 'true', client_id: 'c' }, destinationLabels: {}, routeLabels: {} };
const id = { base: 0, stream: 7 };
const req = (path: string, stream = 7): TapEvent => ({ ...base, http: { kind: 'request_init', id: { base: 0, stream }, method: 'GET', scheme: 'http', authority: 'web:8080', path } });
const rsp = (status: number, stream = 7): TapEvent => ({ ...base, http: { kind: 'response_init', id: { base: 0, stream }, sinceRequestInitUs: 1200, status } });
const end = (us: number, stream = 7, grpcStatus?: number): TapEvent => ({
  ...base,
  http: { kind: 'response_end', id: { base: 0, stream }, sinceRequestInitUs: us, sinceResponseInitUs: 56, responseBytes: 2, ...(grpcStatus !== undefined ? { grpcStatus } : {}) },
});

test("tap lines in Linkerd's format", () => {
  assert.equal(tapLine(req('/api')), 'req id=0:7 proxy=in  src=10.0.0.20:40000 dst=10.0.0.11:8080 tls=true :method=GET :authority=web:8080 :path=/api');
  assert.equal(tapLine(rsp(200)), 'rsp id=0:7 proxy=in  src=10.0.0.20:40000 dst=10.0.0.11:8080 tls=true :status=200 latency=1200µs');
  assert.equal(tapLine(end(1300)), 'end id=0:7 proxy=in  src=10.0.0.20:40000 dst=10.0.0.11:8080 tls=true duration=56µs response-length=2B');
  assert.match(tapLine(end(1300, 7, 14)), / grpc-status=Unavailable duration=56µs/);
  const out: TapEvent = { ...req('/x'), direction: 'outbound', destinationLabels: { tls: 'true', server_id: 's' }, sourceLabels: {} };
  assert.match(tapLine(out), /^req id=0:7 proxy=out src=.* tls=true /);
  assert.equal(id.stream, 7);
});

test('tap match from the CLI filters', () => {
  assert.equal(tapMatch({}), undefined);
  assert.deepEqual(tapMatch({ path: '/api' }), { path: { prefix: '/api' } });
  assert.deepEqual(tapMatch({ toIps: ['10.0.0.1', '10.0.0.2'], method: 'get' }), {
    all: [{ any: [{ destination: { net: '10.0.0.1/32' } }, { destination: { net: '10.0.0.2/32' } }] }, { method: 'GET' }],
  });
});

test('top: counts, best, worst, last and success rate per source, destination, method and path', () => {
  const t = new TopTable((ip) => (ip === '10.0.0.11' ? 'web-0' : ip));
  let s = 1;
  const one = (path: string, status: number, us: number) => {
    s++;
    t.add(req(path, s));
    t.add(rsp(status, s));
    t.add(end(us, s));
  };
  one('/a', 200, 900);
  one('/a', 200, 3000);
  one('/a', 500, 2000);
  one('/b', 200, 100);
  t.add(req('/never-answered', 99));
  const rows = t.sorted();
  assert.deepEqual(
    rows.map((r) => [r.source, r.destination, r.path, r.count, r.best, r.worst, r.last, r.successes, r.failures]),
    [
      ['10.0.0.20', 'web-0', '/a', 3, 900, 3000, 2000, 2, 1],
      ['10.0.0.20', 'web-0', '/b', 1, 100, 100, 100, 1, 0],
    ],
  );
  const text = renderTop(rows);
  assert.match(text, /^Source\s+Destination\s+Method\s+Path\s+Count\s+Best\s+Worst\s+Last\s+Success Rate$/m);
  assert.match(text, /^10\.0\.0\.20\s+web-0\s+GET\s+\/a\s+3\s+900µs\s+3\.0ms\s+2\.0ms\s+66\.67%$/m);
});
