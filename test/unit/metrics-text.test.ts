/**
 * The proxy's metrics registry writes text that a Prometheus text parser reads back whole: the
 * parser the tests and the demo read /metrics with (control/local/pods/prom-text.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePromText } from '../../control/local/pods/prom-text';
import { Computed, Counter, Registry } from '../../proxy/metrics/registry';

test('our parser reads back every sample, special values and escapes included', () => {
  const r = new Registry();
  new Counter(r, { name: 'c_total', help: 'multi\nline \\ help', labelNames: ['p'] }).inc({ p: 'back\\slash\nnew "q"' }, 3);
  new Computed(r, 'odd', 'h', 'gauge', () => [
    { labels: { k: 'a"b' }, value: Infinity },
    { labels: { k: 'c' }, value: -Infinity },
    { labels: { k: 'd' }, value: NaN },
    { labels: { k: 'e' }, value: 1e-7 },
  ]);
  const { samples, types } = parsePromText(r.text());
  assert.equal(types.get('odd'), 'gauge');
  assert.deepEqual(
    samples.map((s) => [s.name, s.labels['k'] ?? s.labels['p'], s.value]),
    [
      ['c_total', 'back\\slash\nnew "q"', 3],
      ['odd', 'a"b', Infinity],
      ['odd', 'c', -Infinity],
      ['odd', 'd', NaN],
      ['odd', 'e', 1e-7],
    ],
  );
});

