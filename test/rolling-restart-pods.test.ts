/**
 * A rolling restart of a meshed backend under load costs the meshed client nothing: 500 req/s
 * flow from a meshed client to a two-replica service (HTTP/1.1, then gRPC) while one replica is
 * replaced as a Deployment rollout does it (maxSurge 1, maxUnavailable 0): a new pod starts and
 * joins the endpoints, then the old one leaves the endpoints and gets SIGTERM (proxy and app) at
 * the same moment. The old proxy stops accepting, sends GOAWAY to the client's proxy, lets its
 * in-flight streams finish and exits when its last connection ends, well inside its grace period.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, type Pod, type PodProcess } from './pods';
import { makeMeshDir, meshProxyEnv, startMeshControl } from './pods/mesh-control';

const skip = meshSkipReason();
const APP = join(__dirname, 'rolling-app.js');
const CLIENT_ID = 'client.demo.serviceaccount.identity.linnet.cluster.local';
const WEB_ID = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const VIP = '10.96.0.60';
const RATE = 500;
const DURATION_MS = 7000;
const GRACE = '20s';

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let client: Pod;
const backends = new Map<string, { pod: Pod; app: PodProcess }>();

function writeMesh(): void {
  const eps = [...backends.values()].map(({ pod }) => `      - { address: ${pod.ip}, identity: ${WEB_ID} }`);
  const text = [
    'services:',
    '  - name: web.demo.svc.cluster.local',
    `    address: ${VIP}`,
    '    ports: [8080, 9090]',
    '    endpoints:',
    ...eps,
    'workloads:',
    `  - { identity: ${CLIENT_ID}, token: client-token }`,
    `  - { identity: ${WEB_ID}, token: web-token }`,
    '',
  ].join('\n');
  // Whole or not at all: the file source must never read half an edit.
  writeFileSync(join(dir, 'mesh.yaml.tmp'), text);
  renameSync(join(dir, 'mesh.yaml.tmp'), join(dir, 'mesh.yaml'));
}

async function startBackend(name: string, existing?: Pod): Promise<void> {
  const pod = existing ?? (await cluster!.addPod(name));
  await pod.init();
  await pod.startProxy(meshProxyEnv(control, dir, WEB_ID, 'web', { LINNET_PROXY_SHUTDOWN_GRACE_PERIOD: GRACE }));
  const app = pod.spawn(process.execPath, [APP, 'serve', '--name', name, '--linger-ms', '1000'], { uid: APP_UID, name: `app-${name}` });
  await app.waitForEvent((e) => e.event === 'listening');
  backends.set(name, { pod, app });
}

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'web'], 'linnet-roll-');
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  client = await cluster.addPod('client');
  // The mesh file (which the control plane needs to start) names the first two pods' addresses;
  // their proxies need the control plane to certify. One at a time: addPod numbers the veths.
  const first = [await cluster.addPod('b1'), await cluster.addPod('b2')];
  for (const pod of first) backends.set(pod.name, { pod, app: undefined as unknown as PodProcess });
  writeMesh();
  await startMeshControl(control, dir);
  for (const pod of first) await startBackend(pod.name, pod);
  await client.init();
  await client.startProxy(meshProxyEnv(control, dir, CLIENT_ID, 'client'));
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Summary {
  sent: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  byName: Record<string, number>;
}

/** Replaces `old` by `fresh` under load; returns the load's summary and how long the old proxy took to exit. */
async function rollUnderLoad(proto: 'http' | 'grpc', old: string, fresh: string): Promise<{ s: Summary; proxyExitMs: number; proxyLog: string }> {
  const port = proto === 'http' ? 8080 : 9090;
  const load = client.spawn(process.execPath, [APP, 'load', '--to', `${VIP}:${port}`, '--proto', proto, '--rate', String(RATE), '--duration-ms', String(DURATION_MS)], { uid: APP_UID, name: `load-${proto}` });
  await load.waitForEvent((e) => e.event === 'started');
  await sleep(1000);
  // Surge: the new pod is ready and joins the endpoints.
  await startBackend(fresh);
  writeMesh();
  await sleep(1500);
  // The old pod: out of the endpoints and SIGTERM to both containers at once, as the kubelet does.
  const gone = backends.get(old)!;
  backends.delete(old);
  writeMesh();
  const t0 = Date.now();
  gone.pod.proxy!.signal('SIGTERM');
  gone.app.signal('SIGTERM');
  await gone.pod.proxy!.wait(30_000);
  const proxyExitMs = Date.now() - t0;
  await gone.app.wait(15_000);
  const s = await load.waitForEvent<Summary & { event: string }>((e) => e.event === 'summary', DURATION_MS + 20_000);
  return { s, proxyExitMs, proxyLog: gone.pod.proxy!.logTail(30) };
}

for (const [proto, old, fresh] of [['http', 'b1', 'b3'], ['grpc', 'b2', 'b4']] as const) {
  test(`rolling restart at ${RATE} req/s over ${proto === 'http' ? 'HTTP/1.1' : 'gRPC'}: 0 failed requests`, { skip, timeout: 90_000 }, logsOnFailure(() => cluster, async () => {
    const { s, proxyExitMs, proxyLog } = await rollUnderLoad(proto, old, fresh);
    process.stderr.write(`# ${proto}: sent ${s.sent}, ok ${s.ok}, failed ${s.failed} ${JSON.stringify(s.errors)}; by backend ${JSON.stringify(s.byName)}; old proxy exited ${proxyExitMs} ms after SIGTERM\n`);
    assert.ok(s.sent >= RATE * (DURATION_MS / 1000) * 0.9, `only ${s.sent} requests sent: the load did not hold ${RATE}/s`);
    assert.equal(s.failed, 0, `failed requests: ${JSON.stringify(s.errors)}`);
    assert.equal(s.ok, s.sent);
    assert.ok((s.byName[old] ?? 0) > 0 && (s.byName[fresh] ?? 0) > 0, 'traffic went to the old replica, then to the new one');
    assert.ok(proxyExitMs < 15_000, `the old proxy took ${proxyExitMs} ms to exit (grace ${GRACE})`);
    assert.match(proxyLog, /all connections closed/, 'the old proxy exited because its last connection ended, not at the grace period');
  }));
}
