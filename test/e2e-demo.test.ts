/**
 * `npm start` (linnet demo): a bounded run builds the local mesh (control pod, web and emoji with
 * two replicas each, traffic), prints live `linkerd viz stat`-style tables from the proxies' own
 * metrics and a summary, and leaves no namespace behind; without root it says why.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { LINNET_BIN, linnetBinForOtherUsers, meshSkipReason, rootSkipReason } from './pods';

interface Row {
  name: string;
  pod: boolean;
  meshed: string;
  success: string;
  rps: number;
  p50: string;
  p99: string;
  tcp: number;
}

/** The rows of one rendered table (the lines after a NAME header, up to a blank line). */
function tableAfter(text: string, marker: RegExp): Row[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => marker.test(l));
  assert.ok(at >= 0, `no ${marker} in:\n${text.slice(-2000)}`);
  const header = lines.findIndex((l, i) => i >= at && l.startsWith('NAME'));
  const rows: Row[] = [];
  for (const l of lines.slice(header + 1)) {
    const m = /^( {2})?(\S+)\s+(\d+\/\d+)\s+(\S+)\s+(\S+?)(?:rps)?\s+(\S+)\s+\S+\s+(\S+)\s+(\d+)$/.exec(l);
    if (!m) break;
    rows.push({ name: m[2]!, pod: m[1] !== undefined, meshed: m[3]!, success: m[4]!, rps: m[5] === '-' ? 0 : Number(m[5]), p50: m[6]!, p99: m[7]!, tcp: Number(m[8]) });
  }
  return rows;
}

const skip = meshSkipReason();
let run: { status: number | null; stdout: string; stderr: string; leftover: string } | undefined;

before(async () => {
  if (skip) return;
  // Async spawn: a sync one would block the event loop and with it the test's own timeout.
  run = await new Promise((resolve) => {
    const child = spawn(process.execPath, [LINNET_BIN, 'demo', '--duration', '10s', '--rps', '10', '--interval', '2s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 150_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, leftover: spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout });
    });
  });
});

test('linnet demo --duration 10s: the mesh comes up, live tables per workload, web over mTLS, clean teardown', { skip, timeout: 180_000 }, () => {
  const { stdout, stderr, leftover } = run!;
  const out = `${stdout}\n${stderr}`;
  for (const step of ['linnet identity create', 'creating namespaces', 'linnet control', 'applying iptables in 5 pods', 'starting 5 proxies', 'starting the apps', 'starting traffic', 'ready \\(logs in', 'deleting namespaces']) {
    assert.match(stderr, new RegExp(step), out.slice(-3000));
  }
  // Live tables: several refreshes, each with every workload and its pods, all proxies meshed.
  const screens = stdout.split('linnet demo — ').length - 1;
  assert.ok(screens >= 3, `expected several refreshes, got ${screens}:\n${stdout}`);
  const live = tableAfter(stdout, /^linnet demo — \d+s/);
  assert.deepEqual(
    live.map((r) => [r.name, r.pod, r.meshed]),
    [
      ['web', false, '2/2'],
      ['web0', true, '1/1'],
      ['web1', true, '1/1'],
      ['emoji', false, '2/2'],
      ['emoji0', true, '1/1'],
      ['emoji1', true, '1/1'],
      ['traffic', false, '1/1'],
    ],
  );
  // The summary over the whole run: web answered ~10 rps with both replicas, a success rate, latency, mTLS.
  const sum = tableAfter(stdout, /^summary after/);
  const web = sum.find((r) => r.name === 'web')!;
  assert.ok(web.rps >= 5, `web rps ${web.rps}:\n${stdout.slice(-2500)}`);
  assert.match(web.success, /^\d+\.\d\d%$/);
  assert.ok(parseFloat(web.success) >= 90, web.success);
  assert.match(web.p50, /ms$/);
  assert.match(web.p99, /ms$/);
  assert.ok(web.tcp >= 1, 'web has open connections from the client proxy');
  for (const pod of ['web0', 'web1']) assert.ok(sum.find((r) => r.name === pod)!.rps > 0, `${pod} got no traffic:\n${stdout.slice(-2500)}`);
  assert.ok(sum.find((r) => r.name === 'traffic')!.tcp >= 1, 'traffic has connections open through its proxy');
  assert.match(stdout, /mTLS web: (tls="true" on [1-9]\d* inbound|client proxy opened [1-9]\d* mTLS connections)/);
  assert.match(stdout, /client saw: HTTP [1-9]\d* ok \(web0 \d+, web1 \d+\)/);
  // The cluster it made is gone (its id is in the log dir it printed).
  const id = /linnet-pods\/(lnp\d+x[0-9a-f]{4})/.exec(stderr)?.[1];
  assert.ok(id, stderr);
  assert.ok(!leftover.includes(id), `namespaces left behind: ${leftover}`);
});

test(
  'linnet demo --duration 10s: gRPC over mTLS reaches emoji and the run exits 0',
  { skip },
  () => {
    const { status, stdout, stderr } = run!;
    const emoji = tableAfter(stdout, /^summary after/).find((r) => r.name === 'emoji')!;
    assert.ok(emoji.rps >= 5, `emoji rps ${emoji.rps}:\n${stdout.slice(-2500)}`);
    assert.match(stdout, /result: OK/);
    assert.equal(status, 0, `${stdout.slice(-2500)}\n${stderr.slice(-2500)}`);
  },
);

/** Starts an unbounded demo, sends SIGINT once `when` matches its output, and waits for it to exit. */
function interrupt(when: (stdout: string, stderr: string) => boolean): Promise<{ status: number | null; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LINNET_BIN, 'demo', '--interval', '1s', '--rps', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const check = () => {
      if (!sent && when(stdout, stderr)) {
        sent = true;
        child.kill('SIGINT');
        // Teardown must be prompt: a hung one fails the test rather than the CI job.
        setTimeout(() => child.kill('SIGKILL'), 45_000).unref();
      }
    };
    child.stdout.on('data', (b: Buffer) => ((stdout += b.toString()), check()));
    child.stderr.on('data', (b: Buffer) => ((stderr += b.toString()), check()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, pid: child.pid! }));
  });
}

const namespacesOf = (pid: number) =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith(`lnp${pid}x`));

test('Ctrl-C while the table runs: summary, then every namespace and process is gone', { skip, timeout: 180_000 }, async () => {
  const r = await interrupt((out) => out.split('linnet demo — ').length > 2);
  assert.ok(r.status === 0 || r.status === 1, `exit ${r.status}: ${r.stderr.slice(-2000)}`);
  assert.match(r.stderr, /SIGINT: tearing down/);
  assert.match(r.stdout, /summary after/);
  assert.match(r.stderr, /deleting namespaces…\nlinnet demo: done/);
  assert.deepEqual(namespacesOf(r.pid), []);
  // Nothing it started inside the pods is still running (their command lines name the cluster).
  assert.equal(spawnSync('pgrep', ['-f', `netns exec lnp${r.pid}x`]).status, 1, 'processes left behind');
});

test('Ctrl-C during set-up stops at the next step and leaves nothing behind', { skip, timeout: 180_000 }, async () => {
  const r = await interrupt((_out, err) => /starting the control plane/.test(err));
  assert.equal(r.status, 1, r.stderr.slice(-2000));
  assert.match(r.stderr, /set-up interrupted; what it made is gone/);
  assert.doesNotMatch(r.stdout, /summary after/);
  assert.deepEqual(namespacesOf(r.pid), []);
});

test('linnet demo without root explains why and exits non-zero', { skip: rootSkipReason() && 'needs root to drop to another uid (setpriv)' }, () => {
  const r = spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, linnetBinForOtherUsers(), 'demo', '--duration', '1s'], {
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
  for (const flag of ['--duration', '--rps', '--interval', '--min-success']) assert.match(help.stdout, new RegExp(flag));
  for (const bad of [['--frobnicate'], ['--min-success', '150'], ['--rps', '0'], ['--duration', 'soon']]) {
    const r = spawnSync(process.execPath, [LINNET_BIN, 'demo', ...bad], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(bad[0]!.slice(2)));
  }
});
