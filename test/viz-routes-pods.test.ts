/**
 * `linnet viz routes` over a real mesh in pods: `linnet control` with a mesh file, a policy
 * directory and its viz service (scraping every second); a Service `web` with two HTTPRoutes
 * (`/api`, retried on 5xx, and the rest) and a Service `plain` with none, both on one meshed
 * server; a meshed client whose proxy watches OutboundPolicies. Known traffic, sent one request
 * at a time so the app's answers follow a fixed sequence: 20 requests to /api/flip (the app fails
 * every odd call there, so each succeeds on its one retry), 5 to /api/down (always 503: two
 * attempts, then a failure), 30 to /ok and 6 to /fail on the rest, 4 to `plain`. The route table
 * must show exactly that: api 25 requests at 80.00% with 25 retries, rest its count at the success
 * it had, plain's [default]; the server's side (a Server with two routes of its own, under a
 * policy) every attempt on its routes; `--to`; the dashboard's routes
 * table in Chromium; and the same rows from a viz service backed by Debian's Prometheus.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, Cluster, LINNET_BIN, logsOnFailure, meshSkipReason, sum, type Pod, type PodProcess } from './pods';
import { eventually } from './pods/mesh';
import { makeMeshDir, meshProxyEnv, POLICY_PORT, startMeshControl } from './pods/mesh-control';
import { forwardFromPod, type Forward } from '../control/local/pods/forward';

const skip = meshSkipReason();
const CHROMIUM = '/usr/bin/chromium';
const PROMETHEUS = '/usr/bin/prometheus';
const id = (sa: string) => `${sa}.demo.serviceaccount.identity.linnet.cluster.local`;
const WEB_VIP = '10.96.2.10';
const PLAIN_VIP = '10.96.2.11';
const PORT = 8080;
/** Per path, a call counter: /api/flip fails its odd calls, /api/down every call, /fail always 500. */
const APP = `const n = {}; require('http').createServer((q, s) => { const c = (n[q.url] = (n[q.url] || 0) + 1);
  s.statusCode = q.url === '/api/down' || (q.url === '/api/flip' && c % 2 === 1) ? 503 : q.url === '/fail' ? 500 : 200; s.end('ok');
}).listen(${PORT}, () => console.log(JSON.stringify({ event: 'listening' })))`;

const ROUTES = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { namespace: demo, name: web-api, annotations: { retry.linkerd.io/http: 5xx } }
spec:
  parentRefs: [{ group: core, kind: Service, name: web, port: ${PORT} }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      backendRefs: [{ name: web, port: ${PORT} }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { namespace: demo, name: web-rest }
spec:
  parentRefs: [{ group: core, kind: Service, name: web, port: ${PORT} }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ name: web, port: ${PORT} }]
---
apiVersion: v1
kind: Service
metadata: { namespace: demo, name: web, annotations: { retry.linnet.io/budget: "100%" } }
---
# The server's side: a Server on its port with two routes of its own, open to every network.
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: demo, name: web-http }
spec: { podSelector: { matchLabels: { app: web } }, port: ${PORT}, proxyProtocol: HTTP/1 }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { namespace: demo, name: server-api }
spec:
  parentRefs: [{ group: policy.linkerd.io, kind: Server, name: web-http }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /api } }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { namespace: demo, name: server-rest }
spec:
  parentRefs: [{ group: policy.linkerd.io, kind: Server, name: web-http }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: / } }] }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: demo, name: web-open }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: web-http }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: NetworkAuthentication, name: everywhere }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: { namespace: demo, name: everywhere }
spec: { networks: [{ cidr: 0.0.0.0/0 }] }
`;

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let server: Pod;
let client: Pod;
let controlProc: PodProcess;
/** What the proxies had counted before the known traffic (warm-up requests): added to what is expected. */
const before0 = { rest: 0, plain: 0, serverRest: 0 };

const it = (name: string, opts: { skip?: string | undefined; timeout: number }, body: () => Promise<void>) =>
  test(name, opts, logsOnFailure(() => cluster, async () => {
    try {
      await body();
    } catch (err) {
      process.stderr.write(`--- linnet control log ---\n${controlProc?.logTail(40)}\n`);
      throw err;
    }
  }));

const viz = (args: string[]) => control.run(process.execPath, [LINNET_BIN, 'viz', ...args], { timeoutMs: 30_000 });

interface Row {
  route: string;
  service: string;
  direction: string;
  requests: number;
  success: number;
  failure: number;
  successRate?: number;
  retries?: number;
  backends?: Record<string, number>;
  authority?: string;
  classified: boolean;
}

async function routesJson(args: string[]): Promise<Row[]> {
  const r = await viz(['routes', ...args, '-t', '5m', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

const curl = (vip: string, path: string) => client.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', `http://${vip}:${PORT}${path}`], { uid: APP_UID, timeoutMs: 15_000 });

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'server'], 'linnet-viz-routes-');
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  server = await cluster.addPod('server0');
  client = await cluster.addPod('client');
  const svc = (name: string, vip: string, pod = server, sa = 'server') => [
    `  - name: ${name}.demo.svc.cluster.local`,
    `    address: ${vip}`,
    `    ports: [${PORT}]`,
    '    endpoints:',
    `      - address: ${pod.ip}:${PORT}`,
    `        identity: ${id(sa)}`,
    `        labels: { pod: ${sa}-0, app: ${sa === 'server' ? 'web' : sa} }`,
  ];
  writeFileSync(
    join(dir, 'mesh.yaml'),
    // The client is an endpoint too (of a Service nobody calls), so that a viz service without
    // the identity service (the Prometheus-backed one) knows its proxy as well.
    ['services:', ...svc('web', WEB_VIP), ...svc('plain', PLAIN_VIP), ...svc('client', '10.96.2.12', client, 'client'), 'workloads:', `  - { identity: ${id('server')}, token: server-token }`, `  - { identity: ${id('client')}, token: client-token }`, ''].join('\n'),
  );
  mkdirSync(join(dir, 'policy'));
  writeFileSync(join(dir, 'policy', 'routes.yaml'), ROUTES);
  controlProc = await startMeshControl(control, dir, { policyDir: join(dir, 'policy'), viz: true, readyMs: 30_000 });
  await Promise.all([server.init(), client.init()]);
  await Promise.all([
    server.startProxy(meshProxyEnv(control, dir, id('server'), 'server', { LINNET_PROXY_POLICY_SVC_ADDR: `${control.ip}:${POLICY_PORT}`, LINNET_PROXY_POLICY_WORKLOAD: server.ip, LINNET_PROXY_INBOUND_PORTS: String(PORT) }), 60_000),
    client.startProxy(meshProxyEnv(control, dir, id('client'), 'client', { LINNET_PROXY_POLICY_SVC_ADDR: `${control.ip}:${POLICY_PORT}`, LINNET_PROXY_POLICY_WORKLOAD: client.ip }), 60_000),
  ]);
  const app = server.spawn(process.execPath, ['-e', APP], { uid: APP_UID, name: 'app' });
  await app.waitForEvent<{ event: string }>((e) => e.event === 'listening', 30_000);
  // Warm-up until each Service's requests go through its route table (the route counters move).
  const routeCount = async (labels: Record<string, string>) => sum(await client.metrics(), 'outbound_http_route_request_statuses_total', labels);
  const serverRoute = async (name: string) => sum(await server.metrics(), 'inbound_http_authz_allow_total', { route_name: name });
  await eventually(async () => {
    assert.equal((await curl(WEB_VIP, '/warm')).stdout, '200');
    assert.ok((await routeCount({ parent_name: 'web', route_name: 'web-rest' })) > 0, 'web has no route table yet');
    assert.ok((await serverRoute('server-rest')) > 0, 'the server has no policy yet');
  }, 60_000, 300);
  await eventually(async () => {
    assert.equal((await curl(PLAIN_VIP, '/warm')).stdout, '200');
    assert.ok((await routeCount({ parent_name: 'plain', route_kind: 'default' })) > 0, 'plain has no route table yet');
  }, 60_000, 300);
  before0.rest = await routeCount({ parent_name: 'web', route_name: 'web-rest' });
  before0.plain = await routeCount({ parent_name: 'plain' });
  before0.serverRest = await serverRoute('server-rest');
  assert.equal(await routeCount({ route_name: 'web-api' }), 0);
  assert.equal(await serverRoute('server-api'), 0);
  // The known traffic, one request at a time (the app's sequence depends on the order).
  const loop = (n: number, vip: string, path: string) => `for i in $(seq ${n}); do curl -s -o /dev/null -w '${path} %{http_code}\\n' -m 5 http://${vip}:${PORT}${path}; done`;
  const send = await client.run('bash', ['-c', [loop(20, WEB_VIP, '/api/flip'), loop(5, WEB_VIP, '/api/down'), loop(30, WEB_VIP, '/ok'), loop(6, WEB_VIP, '/fail'), loop(4, PLAIN_VIP, '/ok')].join('; ')], { uid: APP_UID, timeoutMs: 180_000 });
  const codes = send.stdout.trim().split('\n');
  const count = (line: string) => codes.filter((c) => c === line).length;
  // What the client saw: every /api/flip answered 200 after its retry, /api/down 503 after its.
  assert.deepEqual([count('/api/flip 200'), count('/api/down 503'), count('/ok 200'), count('/fail 500')], [20, 5, 34, 6], send.stdout + send.stderr);
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('viz routes deploy/client: each route of the Services it calls, a retried request once by its final status', { skip, timeout: 120_000 }, async () => {
  const rows = await eventually(async () => {
    const r = await routesJson(['deploy/client']);
    assert.equal(r.find((x) => x.route === 'web-api')?.requests, 25, JSON.stringify(r));
    assert.equal(r.find((x) => x.route === 'web-rest')?.requests, before0.rest + 36, JSON.stringify(r));
    // plain's 4 were sent last: a scrape may have caught web's counts whole and not yet these.
    assert.equal(r.find((x) => x.service === 'plain')?.requests, before0.plain + 4, JSON.stringify(r));
    return r;
  }, 30_000, 500);
  assert.deepEqual(
    rows.map((r) => [r.direction, r.service, r.route]),
    [['outbound', 'plain', '[default]'], ['outbound', 'web', 'web-api'], ['outbound', 'web', 'web-rest']],
  );
  const api = rows.find((r) => r.route === 'web-api')!;
  assert.deepEqual([api.success, api.failure, api.successRate, api.retries], [20, 5, 0.8, 25]);
  // Every attempt (25 requests, 25 retries) went to web's backend.
  assert.deepEqual(api.backends, { 'demo/web:8080': 50 });
  const rest = rows.find((r) => r.route === 'web-rest')!;
  assert.deepEqual([rest.success, rest.failure, rest.retries], [before0.rest + 30, 6, 0]);
  const plain = rows.find((r) => r.service === 'plain')!;
  assert.deepEqual([plain.requests, plain.success], [before0.plain + 4, before0.plain + 4]);
  const table = await viz(['routes', 'deploy/client', '-t', '5m']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ROUTE\s+SERVICE\s+DIR\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99$/m);
  assert.match(table.stdout, /^web-api\s+web\s+out\s+80\.00%\s+\d+\.\drps\s+(<=|>)\d+(ms|s)\s+\S+\s+\S+$/m, table.stdout);
  assert.match(table.stdout, /^\[default\]\s+plain\s+out\s+100\.00%/m, table.stdout);
  process.stdout.write(table.stdout.trimEnd().replace(/^/gm, '# viz-routes: ') + '\n');
  const wide = await viz(['routes', 'deploy/client', '-t', '5m', '-o', 'wide']);
  assert.match(wide.stdout, /^web-api\s+web\s+out\s+80\.00%.*\sHTTPRoute\s+demo\s+8080\s+25\s+25\s+demo\/web:8080=50$/m, wide.stdout);
});

it('viz routes deploy/server: the routes of its Server count every attempt (retries too); --to narrows the client\'s routes', { skip, timeout: 60_000 }, async () => {
  const rows = await eventually(async () => {
    const r = await routesJson(['deploy/server']);
    // 20 flips and 5 downs, each tried twice.
    assert.equal(r.find((x) => x.route === 'server-api')?.requests, 50, JSON.stringify(r));
    assert.equal(r.find((x) => x.route === 'server-rest')?.requests, before0.serverRest + 36 + 4, JSON.stringify(r));
    return r;
  }, 30_000, 500);
  process.stdout.write((await viz(['routes', 'deploy/server', '-t', '5m'])).stdout.trimEnd().replace(/^/gm, '# viz-routes: ') + '\n');
  // The Server's routes, from the authorization counters: requests, not classified.
  assert.deepEqual(
    rows.filter((r) => r.requests > 0).map((r) => [r.direction, r.service, r.route, r.requests, r.classified]),
    [['inbound', 'web-http', 'server-api', 50, false], ['inbound', 'web-http', 'server-rest', before0.serverRest + 36 + 4, false]],
  );
  // The server's pod is an endpoint of both Services; nothing is an endpoint of the client.
  assert.deepEqual((await routesJson(['deploy/client', '--to', 'deploy/server'])).map((r) => r.route), ['[default]', 'web-api', 'web-rest']);
  assert.deepEqual(await routesJson(['deploy/client', '--to', 'deploy/client']), []);
  const unknown = await viz(['routes', 'deploy/nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /deploy\/nope not found; these exist: client, server/);
  const unknownTo = await viz(['routes', 'deploy/client', '--to', 'deploy/nope']);
  assert.equal(unknownTo.code, 1);
  assert.match(unknownTo.stderr, /--to deploy\/nope not found; these exist: client, server/);
});

it('the dashboard\'s routes table shows the same rows (Chromium)', { skip: skip ?? (existsSync(CHROMIUM) ? undefined : `needs Debian's chromium at ${CHROMIUM} (bash .ci/setup-debian)`), timeout: 120_000 }, async () => {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  let fwd: Forward | undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    fwd = await forwardFromPod(control, 8085);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://127.0.0.1:${fwd.port}/`);
    await page.selectOption('#window', '5m');
    const api = page.locator('#routes tr[data-route-workload="client"][data-route="web-api"]');
    await api.locator('[data-col="requests"]', { hasText: /^25$/ }).waitFor({ timeout: 20_000 });
    assert.equal(await api.locator('[data-col="success"]').textContent(), '80.00%');
    assert.equal(await api.locator('[data-col="service"]').textContent(), 'web');
    assert.equal(await api.locator('[data-col="dir"]').textContent(), 'out');
    assert.ok(await api.evaluate((tr) => tr.classList.contains('falling')), 'a route at 80% carries the red mark');
    assert.equal(await page.locator('#routes tr[data-route-workload="client"][data-service="plain"] [data-col="success"]').textContent(), '100.00%');
  } finally {
    await browser.close();
    await fwd?.close();
  }
});

it('the viz service backed by Debian\'s Prometheus gives the same route rows as the embedded one', { skip: skip ?? (existsSync(PROMETHEUS) ? undefined : `needs Debian's prometheus at ${PROMETHEUS} (bash .ci/setup-debian)`), timeout: 150_000 }, async () => {
  const promDir = join(dir, 'prometheus');
  mkdirSync(promDir, { recursive: true });
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    'global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: linnet-proxy\n    http_sd_configs: [{ url: "http://127.0.0.1:8085/api/prometheus-sd", refresh_interval: 2s }]\n',
  );
  const prom = control.spawn(PROMETHEUS, [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, '--web.listen-address=127.0.0.1:9090'], { name: 'prometheus' });
  const second = control.spawn(process.execPath, [
    LINNET_BIN, 'control', '--discovery-file', join(dir, 'mesh.yaml'), '--destination-addr', '127.0.0.1:18086', '--admin-addr', '127.0.0.1:19990',
    '--viz-addr', '127.0.0.1:8087', '--viz-scrape-interval', '1s', '--prometheus-url', 'http://127.0.0.1:9090',
  ], { name: 'control-prometheus' });
  try {
    const pick = (rows: Row[]) => rows.map((r) => [r.direction, r.service, r.route, r.requests, r.success, r.failure, r.retries ?? null]);
    await eventually(async () => {
      for (const ref of ['deploy/client', 'deploy/server']) {
        const embedded = pick(await routesJson([ref]));
        const fromProm = pick(await routesJson([ref, '--viz-addr', '127.0.0.1:8087']));
        assert.ok(embedded.length > 0);
        assert.deepEqual(fromProm, embedded, ref);
      }
    }, 60_000, 1000);
    const api = (await routesJson(['deploy/client', '--viz-addr', '127.0.0.1:8087'])).find((r) => r.route === 'web-api')!;
    assert.deepEqual([api.requests, api.successRate, api.retries], [25, 0.8, 25]);
  } catch (err) {
    process.stderr.write(`--- control (prometheus) ---\n${second.logTail(30)}\n--- prometheus ---\n${prom.logTail(10)}\n`);
    throw err;
  } finally {
    await second.stop(2000);
    await prom.stop(2000);
  }
});
