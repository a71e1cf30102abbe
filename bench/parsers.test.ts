import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAppReport, parseH2load, parseIperf3, parseRedisBenchmarkCsv, parseWrk } from './parsers';

// Captured from the Debian 12 tools (wrk 4.1.0, h2load 1.52.0, redis-benchmark 7.0, iperf3 3.12).
const WRK = `Running 1s test @ http://127.0.0.1:18301/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.60ms    4.63ms  35.69ms   92.84%
    Req/Sec    24.09k    15.34k   42.83k    50.00%
  23996 requests in 1.01s, 3.43MB read
Requests/sec:  23711.09
Transfer/sec:      3.39MB
`;

test('wrk: rate, count, no errors', () => {
  assert.deepEqual(parseWrk(WRK), { rate: 23711.09, ops: 23996, errors: 0 });
});

test('wrk: socket errors and non-2xx responses are counted as errors', () => {
  const text = WRK.replace('Requests/sec', '  Socket errors: connect 1, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 10\nRequests/sec');
  assert.equal(parseWrk(text).errors, 16);
});

test('wrk: a refused connection (no summary) is a parse error naming the output', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:18399 Connection refused\n'), (e: Error & { code?: string }) => e.code === 'LINNET_BENCH_PARSE' && /Requests\/sec/.test(e.message));
});

const H2LOAD = `finished in 1.01s, 8128.00 req/s, 246.36KB/s
requests: 8128 total, 8136 started, 8128 done, 8128 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 8136 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 246.36KB (252272) total, 15.98KB (16364) headers (space savings 95.32%), 15.89KB (16272) data
`;

test('h2load: rate, succeeded, failures and 4xx/5xx as errors', () => {
  assert.deepEqual(parseH2load(H2LOAD), { rate: 8128, ops: 8128, errors: 0 });
  const bad = H2LOAD.replace('0 failed, 0 errored, 0 timeout', '2 failed, 1 errored, 0 timeout').replace('0 4xx, 0 5xx', '0 4xx, 5 5xx');
  assert.equal(parseH2load(bad).errors, 8);
  assert.throws(() => parseH2load('No protocol negotiated\n'), /req\/s/);
});

test('iperf3 -J: the receiver side; an iperf3 error is a tool failure', () => {
  const json = JSON.stringify({ end: { sum_received: { start: 0, end: 1.000136, seconds: 1.000136, bytes: 2549088256, bits_per_second: 20389933017.1 } } });
  assert.deepEqual(parseIperf3(json), { bitsPerSecond: 20389933017.1, bytes: 2549088256, seconds: 1.000136 });
  assert.throws(() => parseIperf3(JSON.stringify({ error: 'unable to connect to server' })), (e: Error & { code?: string }) => e.code === 'LINNET_BENCH_TOOL_FAILED');
  assert.throws(() => parseIperf3('not json'), (e: Error & { code?: string }) => e.code === 'LINNET_BENCH_PARSE');
});

test('redis-benchmark --csv: one rate per test, progress noise ignored', () => {
  const text = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","50000.00","0.119","0.016","0.111","0.167","0.263","1.487"
"GET","57142.86","0.119","0.016","0.111","0.167","0.263","1.487"
`;
  const m = parseRedisBenchmarkCsv(text);
  assert.equal(m.get('GET'), 57142.86);
  assert.equal(m.get('SET'), 50000);
  assert.throws(() => parseRedisBenchmarkCsv('Could not connect to Redis at 10.0.0.1:6379: Connection refused\n'), /CSV header/);
});

test('our generators: the last JSON line, rate = ops / seconds', () => {
  const r = parseAppReport<{ ops: number; seconds: number; errors: number; extra: string }>('noise\n{"ops":500,"seconds":2,"errors":1,"extra":"x"}\n', 'grpc-load');
  assert.equal(r.rate, 250);
  assert.equal(r.errors, 1);
  assert.equal(r.extra, 'x');
  assert.throws(() => parseAppReport('{"ops":1,"seconds":0,"errors":0}', 'x'), /ops and seconds/);
});
