/**
 * Ingress mode in network-namespace pods (`linnet control` + CA): an "ingress" pod whose proxy runs
 * with LINNET_PROXY_INGRESS_MODE=true, a plain meshed client pod, a meshed web pod, and the
 * control pod also serving HTTP as "the original destination". Proves: in ingress mode a request
 * sent to some address is routed by its l5d-dst-override header, else by its Host, to the service
 * discovery names (over mTLS to the web pod); an authority discovery does not know goes to the
 * original destination; without ingress mode the same request goes to the original destination.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { eventually } from './pods/mesh';
import { makeMeshDir, meshProxyEnv, startMeshControl } from './pods/mesh-control';

const skip = meshSkipReason();
const APP = join(__dirname, 'mesh-app.js');
const INGRESS_ID = 'ingress.demo.serviceaccount.identity.linnet.cluster.local';
const CLIENT_ID = 'client.demo.serviceaccount.identity.linnet.cluster.local';
const WEB_ID = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const WEB = 'web.demo.svc.cluster.local';
const PORT = 8000;

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let ingress: Pod;
let client: Pod;
let web: Pod;

const it = (name: string, body: () => Promise<void>) => test(name, { skip }, logsOnFailure(() => cluster, body));

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['ingress', 'client', 'web'], 'linnet-ingress-');
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  ingress = await cluster.addPod('ingress');
  client = await cluster.addPod('client');
  web = await cluster.addPod('web');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      `  - name: ${WEB}`,
      '    address: 10.96.0.50',
      `    ports: [${PORT}]`,
      '    endpoints:',
      `      - address: ${web.ip}:${PORT}`,
      `        identity: ${WEB_ID}`,
      'workloads:',
      ...[[INGRESS_ID, 'ingress'], [CLIENT_ID, 'client'], [WEB_ID, 'web']].flatMap(([id, t]) => [`  - identity: ${id}`, `    token: "${t}-token"`]),
      '',
    ].join('\n'),
  );
  await startMeshControl(control, dir);
  await Promise.all([ingress.init(), client.init(), web.init()]);
  await Promise.all([
    ingress.startProxy(meshProxyEnv(control, dir, INGRESS_ID, 'ingress', { LINNET_PROXY_INGRESS_MODE: 'true' })),
    client.startProxy(meshProxyEnv(control, dir, CLIENT_ID, 'client')),
    web.startProxy(meshProxyEnv(control, dir, WEB_ID, 'web')),
  ]);
  for (const [pod, name] of [[web, 'web'], [control, 'original']] as const) {
    const p = pod.spawn(process.execPath, [APP, 'http-serve', '--port', String(PORT), '--name', name, '--delay-ms', '0'], { uid: APP_UID, name: `http-${name}` });
    await p.waitForEvent((e) => e.event === 'listening');
  }
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** curl from `pod` (as the app) to the control pod's address with extra curl arguments; the body. */
async function get(pod: Pod, args: string[]): Promise<string> {
  const r = await pod.run('curl', ['-sS', '-m', '5', ...args, `http://${control.ip}:${PORT}/`], { uid: APP_UID, timeoutMs: 15_000 });
  return r.stdout.trim() || `(curl ${r.code}: ${r.stderr.trim()})`;
}

it('ingress mode routes by l5d-dst-override, over mTLS to the service discovery names', async () => {
  assert.equal(await get(ingress, ['-H', `l5d-dst-override: ${WEB}:${PORT}`]), 'web');
  await eventually(async () => {
    const m = await ingress.metrics();
    assert.ok(sum(m, 'request_total', { direction: 'outbound', tls: 'true', server_id: WEB_ID, target_addr: `${web.ip}:${PORT}` }) >= 1);
  });
});

it('ingress mode routes by Host when there is no override; an unknown name goes to the original destination', async () => {
  assert.equal(await get(ingress, ['-H', `Host: ${WEB}:${PORT}`]), 'web');
  assert.equal(await get(ingress, ['-H', 'Host: shop.example.com']), 'original');
  assert.equal(await get(ingress, []), 'original');
});

it('without ingress mode the same request goes to its original destination', async () => {
  assert.equal(await get(client, ['-H', `l5d-dst-override: ${WEB}:${PORT}`]), 'original');
  assert.equal(await get(client, ['-H', `Host: ${WEB}:${PORT}`]), 'original');
});
