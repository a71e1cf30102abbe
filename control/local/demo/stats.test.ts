import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText } from '../pods/prom-text';
import { addDeltas, delta, histogramQuantile, proxySnapshot, stat } from './stats';

const L = 'authority="10.96.0.10:8080",target_addr="10.1.1.11:8080"';
const bucket = (dir: string, le: string, n: number, tls = 'no_identity') => `response_latency_ms_bucket{direction="${dir}",${L},tls="${tls}",status_code="200",le="${le}"} ${n}`;

/** A server proxy's /metrics: 100 inbound responses (95 ok, 5 failed), some outbound noise. */
const METRICS = [
  `response_total{direction="inbound",${L},tls="no_identity",status_code="200",classification="success"} 90`,
  `response_total{direction="inbound",${L},tls="true",client_id="traffic",status_code="200",classification="success"} 5`,
  `response_total{direction="inbound",${L},tls="no_identity",status_code="500",classification="failure"} 3`,
  `response_total{direction="inbound",${L},tls="no_identity",status_code="",classification="failure",error="reset"} 2`,
  `response_total{direction="outbound",${L},tls="no_identity",status_code="200",classification="success"} 1000`,
  bucket('inbound', '1', 10),
  bucket('inbound', '5', 50),
  bucket('inbound', '10', 90),
  bucket('inbound', '50', 100),
  bucket('inbound', '+Inf', 100),
  bucket('outbound', '1', 1000),
  bucket('outbound', '+Inf', 1000),
  `tcp_open_connections{direction="inbound",peer="src",target_addr="10.1.1.11:8080",tls="no_identity"} 3`,
  `tcp_open_connections{direction="inbound",peer="dst",target_addr="10.1.1.11:8080",tls="no_identity"} 3`,
  `tcp_open_connections{direction="outbound",peer="src",target_addr="10.96.0.11:8090",tls="no_identity"} 1`,
  `tcp_open_total{direction="inbound",peer="src",target_addr="10.1.1.11:8080",tls="true",client_id="traffic"} 7`,
  `tcp_open_total{direction="outbound",peer="dst",target_addr="10.1.1.12:8090",tls="true",server_id="emoji"} 4`,
  `tcp_open_total{direction="outbound",peer="dst",target_addr="10.1.1.13:8090",tls="no_identity",no_tls_reason="x"} 9`,
].join('\n');

test('proxySnapshot reads one side of the proxy: responses, latency buckets, open connections, mTLS', () => {
  const s = proxySnapshot(parsePromText(METRICS).samples, 1000);
  assert.equal(s.success, 95);
  assert.equal(s.failure, 5);
  assert.deepEqual([...s.buckets], [[1, 10], [5, 50], [10, 90], [50, 100], [Infinity, 100]]);
  assert.equal(s.tcpOpen, 4); // accepted connections (peer="src") of both directions
  assert.equal(s.inboundTls, 5 + 7);
  assert.deepEqual([...s.outboundTls], [['10.1.1.12:8090', 4]]);
  const out = proxySnapshot(parsePromText(METRICS).samples, 1000, 'outbound');
  assert.equal(out.success, 1000);
  assert.deepEqual([...out.buckets], [[1, 1000], [Infinity, 1000]]);
});

test('histogramQuantile interpolates as Prometheus does', () => {
  const b = new Map([[1, 10], [5, 50], [10, 90], [50, 100], [Infinity, 100]]);
  assert.equal(histogramQuantile(0.5, b), 5); // rank 50 is the top of the (1,5] bucket
  assert.equal(histogramQuantile(0.05, b), 0.5); // first bucket starts at 0
  assert.equal(histogramQuantile(0.7, b), 7.5); // rank 70: half-way through (5,10]
  assert.equal(histogramQuantile(0.95, b), 30);
  assert.equal(histogramQuantile(0.99, b), 46);
  // Rank in +Inf: the highest finite bound.
  assert.equal(histogramQuantile(0.99, new Map([[10, 50], [Infinity, 100]])), 10);
  // Empty buckets are skipped: the rank lands in the first bucket that holds observations.
  assert.equal(histogramQuantile(0.5, new Map([[1, 0], [2, 0], [4, 10], [Infinity, 10]])), 3);
  assert.equal(histogramQuantile(0.5, new Map([[1, 0], [Infinity, 0]])), undefined);
  assert.equal(histogramQuantile(0.5, new Map()), undefined);
});

const snap = (at: number, success: number, failure: number, b: [number, number][], tcp = 0) => ({
  at,
  success,
  failure,
  buckets: new Map(b),
  tcpOpen: tcp,
  inboundTls: success,
  outboundTls: new Map([['a:1', success]]),
});

test('delta is the increase between scrapes; a counter that went down counts from zero', () => {
  const a = snap(1000, 100, 10, [[5, 100], [Infinity, 110]]);
  const b = snap(3000, 140, 12, [[5, 130], [Infinity, 152]]);
  const d = delta(a, b);
  assert.equal(d.secs, 2);
  assert.equal(d.success, 40);
  assert.equal(d.failure, 2);
  assert.deepEqual([...d.buckets], [[5, 30], [Infinity, 42]]);
  assert.equal(d.inboundTls, 40);
  assert.deepEqual([...d.outboundTls], [['a:1', 40]]);
  const restarted = snap(4000, 7, 0, [[5, 7], [Infinity, 7]]);
  assert.equal(delta(b, restarted).success, 7);
  assert.deepEqual([...delta(b, restarted).buckets], [[5, 7], [Infinity, 7]]);
  assert.equal(delta(undefined, b).success, 0);
});

test('stat sums replicas into one row: success rate, RPS, percentiles; no traffic shows no numbers', () => {
  const d1 = delta(snap(0, 0, 0, [[1, 0], [10, 0], [Infinity, 0]]), snap(2000, 18, 2, [[1, 10], [10, 20], [Infinity, 20]]));
  const d2 = delta(snap(0, 0, 0, [[1, 0], [10, 0], [Infinity, 0]]), snap(2000, 20, 0, [[1, 0], [10, 20], [Infinity, 20]]));
  const sum = addDeltas([d1, d2]);
  const s = stat('web', 2, 2, sum, 5);
  assert.equal(s.requests, 40);
  assert.equal(s.successRate, 38 / 40);
  assert.equal(s.rps, 20);
  assert.equal(s.p50, 1 + (9 * 10) / 30); // rank 20 of 40: 10 in (0,1], 30 in (1,10]
  assert.equal(s.tcpConn, 5);
  const idle = stat('emoji', 1, 2, delta(snap(0, 5, 0, []), snap(2000, 5, 0, [])), 0);
  assert.equal(idle.successRate, undefined);
  assert.equal(idle.p99, undefined);
  assert.equal(idle.rps, 0);
  assert.equal(idle.requests, 0);
});
