import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter as PromCounter, Gauge as PromGauge, Registry as PromRegistry } from 'prom-client';
import { Computed, Counter, exposition, Gauge, mergeFamilies, MetricError, Registry } from './registry';

test('counters and gauges write what prom-client writes for the same calls, escaping included', async () => {
  const ours = new Registry();
  const ref = new PromRegistry();
  const labelNames = ['direction', 'target_addr', 'errno'];
  const c = new Counter(ours, { name: 'tcp_close_total', help: 'Closed \\ connections\nper errno', labelNames });
  const rc = new PromCounter({ name: 'tcp_close_total', help: 'Closed \\ connections\nper errno', labelNames, registers: [ref] });
  const g = new Gauge(ours, { name: 'tcp_open_connections', help: 'Open', labelNames: ['direction'] });
  const rg = new PromGauge({ name: 'tcp_open_connections', help: 'Open', labelNames: ['direction'], registers: [ref] });
  const calls: [Record<string, string>, number][] = [
    [{ direction: 'inbound', target_addr: '10.0.0.1:80', errno: '' }, 1],
    [{ direction: 'inbound', target_addr: '10.0.0.1:80', errno: '' }, 2],
    [{ direction: 'outbound', target_addr: 'we"ird\\name\nx', errno: 'ECONNRESET' }, 5],
    // Same labels in another key order: the same series.
    [{ errno: '', target_addr: '10.0.0.1:80', direction: 'inbound' }, 0.5],
  ];
  for (const [l, n] of calls) {
    c.inc(l, n);
    rc.inc(l, n);
  }
  g.inc({ direction: 'inbound' });
  g.inc({ direction: 'inbound' }, 3);
  g.dec({ direction: 'inbound' });
  g.set({ direction: 'outbound' }, -2);
  rg.inc({ direction: 'inbound' });
  rg.inc({ direction: 'inbound' }, 3);
  rg.dec({ direction: 'inbound' });
  rg.set({ direction: 'outbound' }, -2);
  assert.equal(ours.text(), await ref.metrics());
});

test('an absent label is left out, not written empty; a label-less gauge is one series', () => {
  const r = new Registry();
  const c = new Counter(r, { name: 'x_total', help: 'h', labelNames: ['a', 'b'] });
  c.inc({ a: '1', b: undefined });
  c.inc({ a: '1' });
  const g = new Gauge(r, { name: 'expiry', help: 'h' });
  g.set(undefined, 1.5e9);
  g.set(undefined, 1.7e9);
  assert.equal(r.text(), '# HELP x_total h\n# TYPE x_total counter\nx_total{a="1"} 2\n\n# HELP expiry h\n# TYPE expiry gauge\nexpiry 1700000000\n');
});

test('lanes merge: sums per series, the worst for a max gauge, histogram samples by their own name', () => {
  const lane = (n: number) => {
    const r = new Registry();
    new Counter(r, { name: 'req_total', help: 'h', labelNames: ['a'] }).inc({ a: n === 0 ? 'only-zero' : 'both' }, 10 + n);
    if (n === 1) new Counter(r, { name: 'late_total', help: 'h' }).inc();
    new Computed(r, 'delay', 'h', 'gauge', () => [{ labels: { q: '1' }, value: n === 0 ? 0.25 : 0.5 }], 'max');
    new Computed(r, 'lat', 'h', 'histogram', () => [
      { name: 'lat_bucket', labels: { le: '1' }, value: 1 + n },
      { name: 'lat_count', labels: {} as Record<string, string>, value: 2 },
    ]);
    return r.families();
  };
  const merged = mergeFamilies([lane(0), lane(1)]);
  const text = exposition(merged);
  assert.match(text, /^req_total\{a="only-zero"\} 10$/m);
  assert.match(text, /^req_total\{a="both"\} 11$/m);
  assert.match(text, /^late_total 1$/m, 'a metric only one lane has is kept');
  assert.match(text, /^delay\{q="1"\} 0.5$/m);
  assert.match(text, /^lat_bucket\{le="1"\} 3$/m);
  assert.match(text, /^lat_count 4$/m);
  // Families keep the order they were first seen in.
  assert.deepEqual(
    merged.map((f) => f.name),
    ['req_total', 'delay', 'lat', 'late_total'],
  );
});

test('misuse is refused with a typed error that says what to do', () => {
  const r = new Registry();
  const c = new Counter(r, { name: 'a_total', help: 'h', labelNames: ['x'] });
  assert.throws(() => c.inc({ y: '1' }), (e: unknown) => e instanceof MetricError && e.code === 'LINNET_METRIC_INVALID' && /unknown label "y"/.test(e.message) && /x/.test(e.hint!));
  assert.throws(() => c.inc({ x: '1' }, -1), /cannot go down/);
  assert.throws(() => new Counter(r, { name: 'a_total', help: 'h' }), /already registered/);
  assert.throws(() => new Counter(r, { name: 'bad-name', help: 'h' }), /not a Prometheus name/);
  assert.throws(() => new Counter(r, { name: 'b_total', help: 'h', labelNames: ['__x'] }), /not allowed/);
  r.remove('a_total');
  new Counter(r, { name: 'a_total', help: 'h' }).inc();
  assert.match(r.text(), /^a_total 1$/m);
});

test('a gauge with a collect hook reads its value at scrape time', () => {
  const r = new Registry();
  let v = 1;
  new Gauge(r, { name: 'now', help: 'h', collect: (g) => g.set(undefined, v) });
  assert.match(r.text(), /^now 1$/m);
  v = 7;
  assert.match(r.text(), /^now 7$/m);
});
