import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { DstLabelBudget, dstLabelsOf, MAX_LABELS, MAX_VALUE_LENGTH } from './dst-labels';
import { HttpMetrics } from './http-metrics';
import { Registry } from './registry';
import { TcpMetrics } from './tcp-metrics';

test('dst_* labels: prefixed, names sanitised, values and count capped, key independent of order', () => {
  const d = dstLabelsOf({ pod: 'web-0', 'app.kubernetes.io/name': 'web', long: 'x'.repeat(500) })!;
  assert.deepEqual(d.labels, { 'dst_app_kubernetes_io_name': 'web', dst_long: 'x'.repeat(MAX_VALUE_LENGTH), dst_pod: 'web-0' });
  assert.equal(dstLabelsOf({ long: 'x'.repeat(500), pod: 'web-0', 'app.kubernetes.io/name': 'web' })!.key, d.key);
  assert.equal(dstLabelsOf({}), undefined);
  const many: Record<string, string> = {};
  for (let i = 0; i < 40; i++) many[`k${String(i).padStart(2, '0')}`] = 'v';
  assert.equal(Object.keys(dstLabelsOf(many)!.labels).length, MAX_LABELS);
});

test('request_total, response_total and latency carry dst_*; past the cap of sets, requests are recorded without them and counted', () => {
  const registry = new Registry();
  const http = new HttpMetrics(registry);
  const base = { direction: 'outbound' as const, authority: 'web:80', target_addr: '10.0.0.1:80', tls: 'true', server_id: 'web.id' };
  http.start({ ...base, dst: dstLabelsOf({ pod: 'web-0', service: 'web', namespace: 'demo' }) })({ status: 200 });
  http.start({ ...base, dst: dstLabelsOf({ pod: 'web-0', service: 'web', namespace: 'demo' }) })({ status: 200 });
  const text = registry.text();
  assert.match(text, /request_total\{direction="outbound",authority="web:80",target_addr="10\.0\.0\.1:80",tls="true",server_id="web\.id",dst_namespace="demo",dst_pod="web-0",dst_service="web"\} 2\n/);
  assert.match(text, /response_total\{[^}]*dst_pod="web-0"[^}]*status_code="200"[^}]*\} 2\n/);
  assert.match(text, /response_latency_ms_count\{[^}]*dst_pod="web-0"[^}]*\} 2\n/);

  const budget = new DstLabelBudget(new Registry(), 'x', 3);
  const sets = ['a', 'b', 'c', 'd', 'e'].map((p) => dstLabelsOf({ pod: p }));
  assert.deepEqual(sets.map((s) => budget.admit(s) === s), [true, true, true, false, false]);
  assert.equal(budget.admit(sets[0]), sets[0], 'a set already admitted stays admitted');
  assert.equal(budget.size, 3);

  // Through HttpMetrics: 1,005 distinct pods, the cap is 1,000.
  const r2 = new Registry();
  const h2 = new HttpMetrics(r2);
  for (let i = 0; i < 1005; i++) h2.start({ ...base, dst: dstLabelsOf({ pod: `p${i}` }) })({ status: 200 });
  const t2 = r2.text();
  assert.equal(t2.match(/^request_total\{[^}]*dst_pod=/gm)!.length, 1000);
  assert.match(t2, /^request_total\{direction="outbound",authority="web:80",target_addr="10\.0\.0\.1:80",tls="true",server_id="web\.id"\} 5$/m);
  assert.match(t2, /^dst_label_sets_overflow_total\{metric="request_total"\} 5$/m);
});

test('tcp_* series of a dialled connection carry its dst_* labels', () => {
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const s = new Socket();
  tcp.track({ direction: 'outbound', peer: 'dst', target_addr: '10.0.0.1:80', tls: 'true', server_id: 'web.id', dst: dstLabelsOf({ pod: 'web-0', service: 'web' }) }, s);
  const text = registry.text();
  assert.match(text, /^tcp_open_total\{direction="outbound",peer="dst",target_addr="10\.0\.0\.1:80",tls="true",server_id="web\.id",dst_pod="web-0",dst_service="web"\} 1$/m);
  assert.match(text, /^tcp_open_connections\{[^}]*dst_pod="web-0"[^}]*\} 1$/m);
  s.destroy();
});
