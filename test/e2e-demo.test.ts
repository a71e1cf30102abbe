/**
 * `npm start` (linnet demo): a bounded run builds the mesh, carries traffic through both proxies,
 * prints the live view and a summary, and leaves no namespace behind; without root it says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LINNET_BIN, meshSkipReason, rootSkipReason } from './pods';

test('linnet demo --duration 4s runs a mesh, shows live metrics and cleans up', { skip: meshSkipReason(), timeout: 90_000 }, () => {
  const r = spawnSync(process.execPath, [LINNET_BIN, 'demo', '--duration', '4s', '--rate', '10'], { encoding: 'utf8', timeout: 80_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  for (const step of ['creating namespaces', 'applying iptables', 'starting proxies', 'ready', 'deleting namespaces']) assert.match(r.stderr, new RegExp(step));
  assert.match(r.stdout, /client proxy \(outbound\)\s+\d+\s+[\d.]+\s/);
  assert.match(r.stdout, /server proxy \(inbound\)/);
  const m = /client proxy \(outbound\): (\d+) connections/.exec(r.stdout);
  assert.ok(m && Number(m[1]) >= 10, `summary: ${r.stdout.slice(-400)}`);
  // The cluster it made is gone (its id is in the log dir it printed).
  const id = /linnet-pods\/(lnp\d+x[0-9a-f]{4})/.exec(r.stderr)?.[1];
  assert.ok(id, r.stderr);
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  assert.ok(!left.includes(id), `namespaces left behind: ${left}`);
});

test('linnet demo without root explains why and exits non-zero', { skip: rootSkipReason() && 'needs root to drop to another uid (setpriv)' }, () => {
  const r = spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, LINNET_BIN, 'demo', '--duration', '1s'], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, HOME: '/tmp' },
  });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /needs root/);
  assert.match(r.stderr, /sudo npm start/);
});

test('linnet demo --help and bad flags', () => {
  const help = spawnSync(process.execPath, [LINNET_BIN, 'demo', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--duration/);
  const bad = spawnSync(process.execPath, [LINNET_BIN, 'demo', '--frobnicate'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /frobnicate/);
});
