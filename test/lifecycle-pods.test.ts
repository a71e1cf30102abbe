/**
 * The sidecar's lifecycle in real network-namespace pods, as the kubelet drives it:
 * - proxy-await: the proxy container is started, its postStart hook (`linnet await`) returns, and
 *   only then the app starts, whose first act is an HTTP call through the mesh: it succeeds on its
 *   first try. Without the hook the same app, started with the proxy, fails (the test can fail).
 * - Jobs: `linnet await --shutdown -- CMD` exits with CMD's status and the proxy is gone within 2 s;
 *   the shutdown endpoint refuses a request from another pod and is absent unless enabled.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { APP_UID, LINNET_BIN, logsOnFailure, meshSkipReason, type Cluster, type Pod } from './pods';
import { Cluster as ClusterClass } from '../control/local/pods/cluster';
import type { PodProcess } from '../control/local/pods/exec';

const skip = meshSkipReason();
const MESH_APP = join(__dirname, 'mesh-app.js');
let cluster: Cluster | undefined;
let client: Pod;
let server: Pod;
let other: Pod;
let app: PodProcess;

before(async () => {
  if (skip) return;
  cluster = await ClusterClass.create();
  client = await cluster.addPod('client');
  server = await cluster.addPod('server');
  other = await cluster.addPod('other'); // no init, no proxy: a plain neighbour
  await Promise.all([client.init(), server.init()]);
  await server.startProxy();
  app = server.spawn(process.execPath, [MESH_APP, 'http-serve', '--port', '8080', '--name', 'backend'], { uid: APP_UID, name: 'backend' });
  await app.waitForEvent((e) => e.event === 'listening');
});
after(async () => {
  await cluster?.destroy();
});

/** The app: one HTTP request at once, no retry (curl starts in milliseconds; a Node proxy does not). */
const firstCall = () => ['curl', '-sS', '--max-time', '3', '-o', '-', '-w', ' %{http_code}', `http://${server.ip}:8080/`];

async function stopClientProxy(): Promise<void> {
  if (client.proxy?.running) await client.stopProxy('SIGTERM', 10_000);
}

test('without proxy-await an app that calls out at once fails; with it (postStart: linnet await) the first call succeeds', { skip, timeout: 60_000 }, logsOnFailure(() => cluster, async () => {
  // Without: the kubelet starts proxy and app together.
  client.launchProxy();
  const bare = await client.run(firstCall()[0]!, firstCall().slice(1), { uid: APP_UID, timeoutMs: 10_000 });
  assert.notEqual(bare.code, 0, `the call raced the proxy's start and won: ${bare.stdout}`);
  assert.match(bare.stderr, /Connection refused|Failed to connect|Couldn't connect/i);
  await client.waitReady();
  await stopClientProxy();

  // With: the hook blocks until /ready, then the app starts.
  client.launchProxy();
  const t0 = Date.now();
  const hook = await client.run(process.execPath, [LINNET_BIN, 'await', '--timeout', '20s'], { uid: APP_UID, timeoutMs: 30_000 });
  assert.equal(hook.code, 0, hook.stderr);
  process.stderr.write(`# linnet await returned after ${Date.now() - t0} ms\n`);
  const first = await client.run(firstCall()[0]!, firstCall().slice(1), { uid: APP_UID, timeoutMs: 10_000 });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, 'backend 200');
  await stopClientProxy();
}));

test('linnet await times out with a clear message and exit 69 when no proxy serves', { skip }, logsOnFailure(() => cluster, async () => {
  const r = await other.run(process.execPath, [LINNET_BIN, 'await', '--timeout', '500ms'], { uid: APP_UID, timeoutMs: 10_000 });
  assert.equal(r.code, 69);
  assert.match(r.stderr, /LINNET_AWAIT_NOT_READY: the proxy at 127\.0\.0\.1:4191 was not ready within 500 ms \(last: ECONNREFUSED\)/);
}));

test('a Job\'s command under `linnet await --shutdown` exits with its status and the proxy is gone within 2 s', { skip, timeout: 60_000 }, logsOnFailure(() => cluster, async () => {
  for (const status of [0, 3]) {
    const proxy = await client.startProxy({ LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED: 'true' });
    const job = `curl -sS --max-time 3 http://${server.ip}:8080/ && exit ${status}`;
    const r = await client.run(process.execPath, [LINNET_BIN, 'await', '--shutdown', '--', 'sh', '-c', job], { uid: APP_UID, timeoutMs: 30_000 });
    const ended = Date.now();
    assert.equal(r.code, status, r.stderr);
    assert.equal(r.stdout, 'backend', 'the command ran through the mesh');
    await proxy.wait(2000);
    process.stderr.write(`# exit ${status}: proxy gone ${Date.now() - ended} ms after the command ended\n`);
    assert.match(proxy.logTail(20), /POST \/shutdown/);
  }
}));

test('POST /shutdown: refused from another pod (403), absent when not enabled (404), and the proxy keeps serving', { skip, timeout: 60_000 }, logsOnFailure(() => cluster, async () => {
  const post = (pod: Pod, host: string) => pod.run('curl', ['-sS', '--max-time', '3', '-X', 'POST', '-o', '-', '-w', ' %{http_code}', `http://${host}:4191/shutdown`], { uid: APP_UID, timeoutMs: 10_000 });
  await client.startProxy({ LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED: 'true' });
  const remote = await post(other, client.ip);
  assert.match(remote.stdout, /only accepted from localhost.* 403$/s);
  assert.ok(client.proxy!.running, 'the proxy is still running');
  assert.equal((await client.admin('GET', '/ready')).status, 200);
  await stopClientProxy();

  await client.startProxy();
  const local = await post(client, '127.0.0.1');
  assert.match(local.stdout, /disabled.* 404$/s);
  const wrapped = await client.run(process.execPath, [LINNET_BIN, 'await', '--shutdown', '--', 'true'], { uid: APP_UID, timeoutMs: 30_000 });
  assert.equal(wrapped.code, 0);
  assert.match(wrapped.stderr, /LINNET_AWAIT_SHUTDOWN_REFUSED: POST \/shutdown answered 404 .*config\.linnet\.io\/proxy-admin-shutdown: enabled/);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(client.proxy!.running, 'not enabled: the proxy stays');
  await stopClientProxy();
}));
