import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVizArgs } from './viz-command';
import { renderStat } from './render';

test('linnet viz flags: Linkerd habits, the address from the flag, then LINNET_VIZ_ADDR, then localhost:8085', () => {
  const c = parseVizArgs(['deploy', 'web', '-o', 'wide', '-t', '5m', '--from', 'deploy/traffic', '-n', 'demo'], {});
  assert.deepEqual([c.addr, c.output, c.window, c.from, c.positionals], ['localhost:8085', 'wide', '5m', 'deploy/traffic', ['deploy', 'web']]);
  assert.equal(parseVizArgs([], { LINNET_VIZ_ADDR: '10.0.0.1:9' }).addr, '10.0.0.1:9');
  assert.equal(c.namespace, 'demo');
  assert.equal(parseVizArgs(['-n', 'demo', '-A'], {}).namespace, undefined);
  assert.equal(parseVizArgs(['--viz-addr', 'h:1'], { LINNET_VIZ_ADDR: '10.0.0.1:9' }).addr, 'h:1');
  const t = parseVizArgs(['deploy/web', '--path', '/api', '--method', 'GET', '--max-rps', '5', '--limit', '3', '--duration', '10s'], {});
  assert.deepEqual([t.path, t.method, t.maxRps, t.limit, t.durationMs, t.intervalMs], ['/api', 'GET', 5, 3, 10_000, 1000]);
});

test('linnet viz bad flags name the flag and the accepted form', () => {
  assert.throws(() => parseVizArgs(['-o', 'yaml'], {}), /-o must be table, wide or json, not "yaml"/);
  assert.throws(() => parseVizArgs(['-t', 'soon'], {}), /-t\/--time-window must be a duration/);
  assert.throws(() => parseVizArgs(['--to', 'svc/web'], {}), /--to: "svc\/web" is not a resource; expected deploy\/NAME or pod\/NAME/);
  assert.throws(() => parseVizArgs(['--max-rps', '0'], {}), /--max-rps must be a positive integer/);
  assert.throws(() => parseVizArgs(['--bogus'], {}), /LINNET_VIZ_USAGE|Unknown option/);
});

test('stat output: "No traffic found." when empty, JSON as rows', () => {
  assert.equal(renderStat([], 'table', 'deploy'), 'No traffic found.');
  assert.equal(renderStat([], 'json', 'deploy'), '[]');
});
