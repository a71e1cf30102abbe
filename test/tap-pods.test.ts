/**
 * Tap and the dst_* labels in real pods: a control plane from a mesh file, two meshed workloads
 * (client → web, web → api on the client's pod) with tap on, iptables redirection, mTLS between
 * the proxies, and curl as the app. A tap reader in its own process (test/tap-observer.ts, with a
 * certificate the identity service issued to the tap identity) sees each request through the
 * client's outbound with web's discovery labels, and through web's inbound with the client's
 * identity; another identity is refused. Both proxies' /metrics carry dst_pod, dst_service,
 * dst_namespace on their outbound series with exact counts, and a real Prometheus scraping them
 * answers a `sum by (dst_pod, dst_service, dst_namespace)` with those counts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObservedTapEvent as TapEvent } from '../control/viz/tap-client';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { eventually } from './pods/mesh';
import { IDENTITY_PORT, makeMeshDir, meshProxyEnv, startMeshControl } from './pods/mesh-control';
import type { PodProcess } from '../control/local/pods/exec';

const skip = meshSkipReason();
const ID = (sa: string) => `${sa}.demo.serviceaccount.identity.linnet.cluster.local`;
const CLIENT_ID = ID('client');
const WEB_ID = ID('web');
const TAP_ID = ID('tap');
const WEB = { vip: '10.96.0.70', port: 8080 };
const API = { vip: '10.96.0.71', port: 8081 };
const OBSERVER = join(__dirname, 'tap-observer.js');
const N_WEB = 20;
const N_API = 7;

let cluster: Cluster | undefined;
let dir: string;
let promDir: string | undefined;
let control: Pod;
let client: Pod;
let web: Pod;

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'web', 'tap'], 'linnet-tap-');
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  client = await cluster.addPod('client');
  web = await cluster.addPod('web');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      '  - name: web.demo.svc.cluster.local',
      `    address: ${WEB.vip}`,
      `    ports: [${WEB.port}]`,
      `    endpoints: [{ address: "${web.ip}:${WEB.port}", identity: ${WEB_ID}, labels: { pod: web-0 } }]`,
      '  - name: api.demo.svc.cluster.local',
      `    address: ${API.vip}`,
      `    ports: [${API.port}]`,
      `    endpoints: [{ address: "${client.ip}:${API.port}", identity: ${CLIENT_ID}, labels: { pod: client-0 } }]`,
      'workloads:',
      `  - { identity: ${CLIENT_ID}, token: client-token }`,
      `  - { identity: ${WEB_ID}, token: web-token }`,
      `  - { identity: ${TAP_ID}, token: tap-token }`,
      '',
    ].join('\n'),
  );
  await startMeshControl(control, dir);
  await Promise.all([client.init(), web.init()]);
  const tapEnv = { LINNET_PROXY_TAP_SVC_NAME: TAP_ID };
  await Promise.all([client.startProxy(meshProxyEnv(control, dir, CLIENT_ID, 'client', tapEnv)), web.startProxy(meshProxyEnv(control, dir, WEB_ID, 'web', tapEnv))]);
  const app = (body: string, port: number) => `require('http').createServer((q, s) => s.end(${JSON.stringify(body)})).listen(${port}, '0.0.0.0')`;
  web.spawn(process.execPath, ['-e', app('hello', WEB.port)], { uid: APP_UID, name: 'web-app' });
  client.spawn(process.execPath, ['-e', app('api ok', API.port)], { uid: APP_UID, name: 'api-app' });
  await eventually(async () => {
    assert.match((await web.run('ss', ['-ltnH'])).stdout, new RegExp(`:${WEB.port}\\b`));
    assert.match((await client.run('ss', ['-ltnH'])).stdout, new RegExp(`:${API.port}\\b`));
  }, 10_000);
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (promDir) rmSync(promDir, { recursive: true, force: true });
});

/** A tap reader in the control pod, on `target`'s proxy, as `as` (a workload whose token is in dir). */
function observe(target: Pod, targetId: string, as: string, asId: string, limit: number, match?: object): PodProcess {
  return control.spawn(
    process.execPath,
    [
      OBSERVER,
      '--identity-addr', `${control.ip}:${IDENTITY_PORT}`,
      '--identity', asId,
      '--token-file', join(dir, `${as}-token`),
      '--anchors', join(dir, 'ca', 'ca.crt'),
      '--addr', `${target.ip}:4190`,
      '--proxy-identity', targetId,
      '--limit', String(limit),
      ...(match ? ['--match', JSON.stringify(match)] : []),
    ],
    { name: `tap-${target.name}-${as}` },
  );
}

type Line = { event: string; code?: string } & Partial<TapEvent>;

async function curlLoop(from: Pod, vip: string, port: number, n: number): Promise<string[]> {
  const r = await from.run('bash', ['-c', `for i in $(seq ${n}); do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 10 http://${vip}:${port}/x/$i; done`], { uid: APP_UID, timeoutMs: 120_000 });
  return r.stdout.trim().split('\n');
}

test('tap in pods: outbound events carry the destination\'s labels, inbound the client\'s identity; another identity is refused', { skip, timeout: 180_000 }, logsOnFailure(() => cluster, async () => {
  const onClient = observe(client, CLIENT_ID, 'tap', TAP_ID, N_WEB);
  const onWeb = observe(web, WEB_ID, 'tap', TAP_ID, N_WEB, { destination: { ports: { min: WEB.port, max: WEB.port } } });
  const refused = observe(web, WEB_ID, 'client', CLIENT_ID, 1);
  await Promise.all([onClient.waitForEvent((e) => e.event === 'open', 30_000), onWeb.waitForEvent((e) => e.event === 'open', 30_000)]);
  const denied = await refused.waitForEvent<Line>((e) => e.event === 'error', 30_000);
  assert.equal(denied.code, 'LINNET_TAP_DENIED');

  assert.deepEqual(await curlLoop(client, WEB.vip, WEB.port, N_WEB), new Array(N_WEB).fill('200'));
  assert.deepEqual(await curlLoop(web, API.vip, API.port, N_API), new Array(N_API).fill('200'));
  await Promise.all([onClient.waitForEvent((e) => e.event === 'end', 30_000), onWeb.waitForEvent((e) => e.event === 'end', 30_000)]);

  const taps = (p: PodProcess) => p.events<Line>().filter((e) => e.event === 'tap') as (Line & TapEvent)[];
  const out = taps(onClient);
  assert.equal(out.length, 3 * N_WEB);
  const paths = out.filter((e) => e.http.kind === 'request_init').map((e) => (e.http.kind === 'request_init' ? e.http.path : ''));
  assert.deepEqual(paths, Array.from({ length: N_WEB }, (_, i) => `/x/${i + 1}`));
  for (const e of out) {
    assert.equal(e.direction, 'outbound');
    assert.deepEqual(e.destination, { ip: web.ip, port: WEB.port });
    assert.equal(e.source.ip, client.ip);
    assert.deepEqual(
      { pod: e.destinationLabels.pod, service: e.destinationLabels.service, namespace: e.destinationLabels.namespace, sa: e.destinationLabels.serviceaccount, tls: e.destinationLabels.tls, server_id: e.destinationLabels.server_id },
      { pod: 'web-0', service: 'web', namespace: 'demo', sa: 'web', tls: 'true', server_id: WEB_ID },
    );
    if (e.http.kind === 'response_init') assert.equal(e.http.status, 200);
    if (e.http.kind === 'response_end') assert.equal(e.http.responseBytes, 5);
    assert.equal(e.proxyIdentity, CLIENT_ID);
  }
  const inb = taps(onWeb);
  assert.equal(inb.length, 3 * N_WEB);
  for (const e of inb) {
    assert.equal(e.direction, 'inbound');
    assert.equal(e.destination.port, WEB.port);
    assert.deepEqual({ tls: e.sourceLabels.tls, client_id: e.sourceLabels.client_id }, { tls: 'true', client_id: CLIENT_ID });
    if (e.http.kind === 'response_end') assert.equal(e.http.responseBytes, 5);
  }
}));

test('dst_* labels on both proxies\' outbound series, exact counts, read by a real Prometheus', { skip, timeout: 180_000 }, logsOnFailure(() => cluster, async () => {
  // The first test sent N_WEB client → web and N_API web → api.
  await eventually(async () => {
    const [c, w] = await Promise.all([client.metrics(), web.metrics()]);
    const webDst = { direction: 'outbound', dst_pod: 'web-0', dst_service: 'web', dst_namespace: 'demo', dst_serviceaccount: 'web' };
    const apiDst = { direction: 'outbound', dst_pod: 'client-0', dst_service: 'api', dst_namespace: 'demo', dst_serviceaccount: 'client' };
    assert.equal(sum(c, 'request_total', webDst), N_WEB);
    assert.equal(sum(c, 'response_total', { ...webDst, status_code: '200', classification: 'success' }), N_WEB);
    assert.equal(sum(c, 'response_latency_ms_count', webDst), N_WEB);
    assert.equal(sum(w, 'request_total', apiDst), N_API);
    assert.ok(sum(c, 'tcp_open_total', { direction: 'outbound', peer: 'dst', dst_pod: 'web-0', server_id: WEB_ID }) >= 1);
    assert.ok(sum(w, 'tcp_open_total', { direction: 'outbound', peer: 'dst', dst_pod: 'client-0', server_id: CLIENT_ID }) >= 1);
    // Inbound series carry none.
    assert.equal(sum(w, 'request_total', { direction: 'inbound', dst_pod: 'web-0' }), 0);
    assert.equal(sum(w, 'request_total', { direction: 'inbound' }), N_WEB);
  }, 10_000);

  promDir = mkdtempSync(join(tmpdir(), 'linnet-tap-prom-'));
  chmodSync(promDir, 0o777);
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    ['global: { scrape_interval: 1s, evaluation_interval: 1s }', 'scrape_configs:', '  - job_name: linnet-proxy', `    static_configs: [{ targets: ["${client.ip}:4191", "${web.ip}:4191"] }]`, ''].join('\n'),
  );
  const prom = control.spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=${control.ip}:9090`], { name: 'prometheus' });
  const query = 'sum by (dst_pod, dst_service, dst_namespace) (request_total{direction="outbound"})';
  const got = await eventually(async () => {
    assert.ok(prom.running, `prometheus exited:\n${prom.logTail(20)}`);
    const r = await control.run('curl', ['-sS', '--max-time', '5', '-G', `http://${control.ip}:9090/api/v1/query`, '--data-urlencode', `query=${query}`], { timeoutMs: 10_000 });
    const body = JSON.parse(r.stdout) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    const rows = body.data.result.map((x) => `${x.metric.dst_namespace}/${x.metric.dst_service}/${x.metric.dst_pod}=${x.value[1]}`).sort();
    assert.deepEqual(rows, [`demo/api/client-0=${N_API}`, `demo/web/web-0=${N_WEB}`]);
    return rows;
  }, 60_000, 1000);
  process.stderr.write(`# prometheus: ${query} → ${got.join(', ')}\n`);
}));

test('tap across worker threads: a two-worker proxy reports every request once, from whichever worker took it', { skip, timeout: 180_000 }, logsOnFailure(() => cluster, async () => {
  const N = 12;
  await client.stopProxy('SIGTERM', 30_000);
  await client.startProxy(meshProxyEnv(control, dir, CLIENT_ID, 'client', { LINNET_PROXY_TAP_SVC_NAME: TAP_ID, LINNET_PROXY_WORKERS: '2' }));
  const onClient = observe(client, CLIENT_ID, 'tap', TAP_ID, N, { path: { prefix: '/x/' } });
  await onClient.waitForEvent((e) => e.event === 'open', 30_000);
  // A new connection per request: the kernel spreads them over both workers' listeners.
  assert.deepEqual(await curlLoop(client, WEB.vip, WEB.port, N), new Array(N).fill('200'));
  await onClient.waitForEvent((e) => e.event === 'end', 30_000);
  const evs = onClient.events<Line>().filter((e) => e.event === 'tap') as (Line & TapEvent)[];
  assert.equal(evs.length, 3 * N);
  const ids = new Set(evs.map((e) => `${e.http.id.base}/${e.http.id.stream}`));
  assert.equal(ids.size, N, 'each request one stream id, its three events under it');
  const bases = new Set(evs.map((e) => e.http.id.base));
  process.stderr.write(`# two workers: requests reported by ${bases.size} worker(s)\n`);
  for (const e of evs) assert.equal(e.destinationLabels.pod, 'web-0');
}));
