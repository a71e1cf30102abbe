import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry as PromRegistry } from 'prom-client';
import * as hdr from 'hdr-histogram-js';
import { classify, HttpMetrics, LATENCY_BUCKETS_MS, latencyCounts, mergeLatency, mergeLatencyBuckets, type HttpLabels } from './http-metrics';
import { LatencyHistogram } from './latency-histogram';
import { exposition, mergeFamilies, Registry } from './registry';

const route: HttpLabels = { direction: 'inbound', authority: 'web:80', target_addr: '10.0.0.1:80', tls: 'true', client_id: 'a.b.serviceaccount.identity.linnet.cluster.local' };

function lines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(name));
}

test('classification follows Linkerd: 5xx, gRPC errors and no response are failures', () => {
  assert.equal(classify({ status: 200 }), 'success');
  assert.equal(classify({ status: 404 }), 'success');
  assert.equal(classify({ status: 503 }), 'failure');
  assert.equal(classify({ status: 200, grpcStatus: 0 }), 'success');
  assert.equal(classify({ status: 200, grpcStatus: 14 }), 'failure');
  assert.equal(classify({ status: 0 }), 'failure');
  assert.equal(classify({ status: 200, error: 'reset' }), 'failure');
});

test('the exposition matches what prom-client itself would write for the same requests', async () => {
  const ours = new Registry();
  const metrics = new HttpMetrics(ours);
  // The reference: the same series through prom-client's own classes.
  const ref = new PromRegistry();
  const names = ['direction', 'authority', 'target_addr', 'tls', 'client_id'];
  const req = new Counter({ name: 'request_total', help: 'h', labelNames: names, registers: [ref] });
  const resp = new Counter({ name: 'response_total', help: 'h', labelNames: [...names, 'status_code', 'classification', 'grpc_status'], registers: [ref] });
  const lat = new Histogram({ name: 'response_latency_ms', help: 'h', labelNames: [...names, 'status_code'], buckets: LATENCY_BUCKETS_MS, registers: [ref] });
  const outcomes = [{ status: 200 }, { status: 200 }, { status: 503 }, { status: 200, grpcStatus: 4 }];
  for (const o of outcomes) {
    metrics.start(route)(o);
    req.inc({ ...(route as unknown as Record<string, string>) });
    const l: Record<string, string> = { ...(route as unknown as Record<string, string>), status_code: String(o.status), classification: classify(o) };
    if (o.grpcStatus !== undefined) l.grpc_status = String(o.grpcStatus);
    resp.inc(l);
  }
  const text = ours.text();
  assert.deepEqual(lines(text, 'request_total'), lines(await ref.metrics(), 'request_total'));
  assert.deepEqual(lines(text, 'response_total').sort(), lines(await ref.metrics(), 'response_total').sort());
  // Latency: every request was well under 1 ms, so each status's count sits in every bucket.
  for (const o of outcomes) lat.observe({ ...(route as unknown as Record<string, string>), status_code: String(o.status) }, 0.01);
  const bucketLines = (t: string) => lines(t, 'response_latency_ms_bucket').sort();
  assert.deepEqual(bucketLines(text), bucketLines(await ref.metrics()));
  assert.equal(lines(text, 'response_latency_ms_count').length, 2);
});

test('a request that ends twice is counted once; a slow one lands in the right bucket', async () => {
  const reg = new Registry();
  const metrics = new HttpMetrics(reg);
  const end = metrics.start(route);
  await new Promise((r) => setTimeout(r, 25));
  end({ status: 200 });
  end({ status: 500 });
  const text = reg.text();
  assert.match(text, /response_total\{[^}]*status_code="200"[^}]*\} 1/);
  assert.doesNotMatch(text, /status_code="500"/);
  assert.match(text, /response_latency_ms_bucket\{[^}]*le="20"[^}]*\} 0/);
  assert.match(text, /response_latency_ms_bucket\{[^}]*le="\+Inf"[^}]*\} 1/);
});

test('two workers merge by summing, and exact percentiles merge too', async () => {
  const regs = [new Registry(), new Registry()];
  const ms = regs.map((r) => new HttpMetrics(r));
  for (let i = 0; i < 3; i++) ms[0]!.start(route)({ status: 200 });
  for (let i = 0; i < 5; i++) ms[1]!.start(route)({ status: 200 });
  const text = exposition(mergeFamilies(regs.map((r) => r.families())));
  assert.match(text, /request_total\{[^}]*\} 8/);
  assert.match(text, /response_latency_ms_count\{[^}]*\} 8/);
  const exact = mergeLatency(ms.map((m) => m.latencySnapshot()));
  assert.equal(exact['inbound web:80']!.count, 8);
});

test('merged exact latency has the percentiles of one histogram holding every value, and the exact maximum', () => {
  // Deterministic spread from 1 µs to ~20 s, heavy at the low end like request latency.
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const values = Array.from({ length: 20_000 }, () => Math.max(1, Math.round(Math.exp(next() * 16.8))));
  const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
  const all = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  values.forEach((v, i) => {
    parts[i % 3]!.recordValue(v);
    all.recordValue(v);
  });
  const merged = mergeLatency(parts.map((h) => ({ 'outbound web:80': latencyCounts(h) })))['outbound web:80']!;
  assert.equal(merged.count, values.length);
  for (const [p, key] of [[50, 'p50'], [90, 'p90'], [95, 'p95'], [99, 'p99'], [99.9, 'p999']] as const) {
    assert.equal(merged[key], all.getValueAtPercentile(p), `p${p}`);
  }
  assert.equal(merged.max, Math.max(...values));
  // A key only one worker saw is kept as it is.
  const one = mergeLatency([{ a: latencyCounts(parts[0]!) }, {}]);
  assert.equal(one['a']!.count, parts[0]!.totalCount);
});

test('the workers\' buckets side by side (/latency?buckets=1): the same values and counts as one histogram holding every value, and the maximum', () => {
  const parts = [new LatencyHistogram(), new LatencyHistogram()];
  const all = new LatencyHistogram();
  [3, 3, 40, 900, 900, 900, 15_000].forEach((v, i) => {
    parts[i % 2]!.recordValue(v);
    all.recordValue(v);
  });
  const merged = mergeLatencyBuckets([{ k: latencyCounts(parts[0]!), only0: latencyCounts(parts[0]!) }, { k: latencyCounts(parts[1]!) }]);
  const sumByValue = (b: number[]) => {
    const m = new Map<number, number>();
    for (let i = 0; i < b.length; i += 2) m.set(b[i]!, (m.get(b[i]!) ?? 0) + b[i + 1]!);
    return [...m].sort((a, b) => a[0] - b[0]);
  };
  assert.deepEqual(sumByValue(merged['k']!.buckets), sumByValue(latencyCounts(all).buckets));
  assert.equal(merged['k']!.max, latencyCounts(all).max);
  assert.deepEqual(merged['only0'], latencyCounts(parts[0]!));
});

test('startAt: series found by site and authority, labels made once per pair, and the same series as start()', () => {
  const registry = new Registry();
  const metrics = new HttpMetrics(registry);
  const site = {};
  let made = 0;
  const labels = (authority: string): HttpLabels => {
    made++;
    return { ...route, authority };
  };
  for (let i = 0; i < 3; i++) metrics.startAt(site, 'web:80', labels, 'web:80')({ status: 200 });
  metrics.startAt(site, 'api:80', labels, 'api:80')({ status: 200 });
  assert.equal(made, 2);
  // The long way (labels per request) lands on the series startAt made.
  metrics.start(route)({ status: 200 });
  // Another site with other labels (say, the port's Server changed) gets its own series.
  metrics.startAt({}, 'web:80', () => ({ ...route, srv_kind: 'server', srv_name: 'web' }), undefined)({ status: 200 });
  const text = exposition(registry.families());
  const web = lines(text, 'request_total{').filter((l) => l.includes('authority="web:80"'));
  assert.equal(web.length, 2);
  assert.ok(web.some((l) => !l.includes('srv_name') && l.endsWith(' 4')), web.join('\n'));
  assert.ok(web.some((l) => l.includes('srv_name="web"') && l.endsWith(' 1')), web.join('\n'));
  assert.ok(lines(text, 'request_total{').some((l) => l.includes('authority="api:80"') && l.endsWith(' 1')));
});
