import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TapEvent } from '../../core/api/tap';
import { TapHub, type TapRequestInfo } from './hub';

const info = (path: string): TapRequestInfo => ({
  direction: 'outbound',
  sourceIp: '10.0.0.1',
  sourcePort: 5000,
  destinationIp: '10.0.0.2',
  destinationPort: 80,
  method: 'GET',
  scheme: 'http',
  authority: 'web:80',
  path,
  target: `${path}?q=1`,
  sourceLabels: { tls: 'no_identity' },
  destinationLabels: { pod: 'web-0' },
  routeLabels: {},
});

test('no tap open: inactive, nothing recorded; a tap takes only what it matches, under its limit', () => {
  const got: [number, TapEvent][] = [];
  const hub = new TapHub((id, e) => got.push([id, e]));
  assert.equal(hub.active, false);
  assert.equal(hub.request(info('/a')), undefined);
  hub.open({ id: 1, match: { path: { prefix: '/api' } }, limit: 2, maxRps: 1000 });
  hub.open({ id: 2, limit: 0, maxRps: 1000 });
  assert.equal(hub.active, true);
  const r = hub.request(info('/api/x'))!;
  r.respond(201);
  r.end({ status: 201, responseBytes: 42 });
  r.end({ status: 500 }); // later ends are ignored
  hub.request(info('/other'))!.end({ status: 0, error: 'client_cancel' });
  hub.request(info('/api/y'))!.end({ status: 200, grpcStatus: 5 });
  hub.request(info('/api/z')); // past tap 1's limit: only tap 2
  const byTap = (id: number) => got.filter(([i]) => i === id).map(([, e]) => e.http);
  assert.deepEqual(
    byTap(1).map((h) => h.kind),
    ['request_init', 'response_init', 'response_end', 'request_init', 'response_init', 'response_end'],
  );
  assert.equal(byTap(2).length, 9); // 3 + 2 (cancelled: no response) + 3 + 1 (just begun)
  const [init, rsp, end] = byTap(1);
  assert.equal(init!.kind === 'request_init' && init.path, '/api/x?q=1');
  assert.equal(rsp!.kind === 'response_init' && rsp.status, 201);
  assert.ok(end!.kind === 'response_end' && end.responseBytes === 42 && end.grpcStatus === undefined && end.resetErrorCode === undefined);
  // The proxy's own answer (no response_init reported): one is made at the end; gRPC status carried.
  const grpc = byTap(1).slice(3);
  assert.ok(grpc[1]!.kind === 'response_init' && grpc[1].status === 200);
  assert.ok(grpc[2]!.kind === 'response_end' && grpc[2].grpcStatus === 5);
  // A cancelled request: no response, reset CANCEL.
  const cancelled = byTap(2).filter((h) => h.id.stream === 2);
  assert.deepEqual(cancelled.map((h) => h.kind), ['request_init', 'response_end']);
  assert.ok(cancelled[1]!.kind === 'response_end' && cancelled[1].resetErrorCode === 8);
  // Stream ids are unique and share the lane's base.
  const ids = new Set(got.map(([, e]) => `${e.http.id.base}/${e.http.id.stream}`));
  assert.equal(ids.size, 4);
  hub.close(1);
  hub.close(2);
  assert.equal(hub.active, false);
});

test('rate cap in the lane: a burst beyond maxRps is not taken', () => {
  let n = 0;
  const hub = new TapHub(() => n++);
  hub.open({ id: 1, limit: 0, maxRps: 5 });
  let taken = 0;
  for (let i = 0; i < 100; i++) if (hub.request(info('/'))) taken++;
  assert.equal(taken, 5);
  assert.equal(n, 5);
});
