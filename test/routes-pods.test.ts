/**
 * Outbound routes in network-namespace pods, with real peers: `linnet control` serving a mesh
 * file and a policy directory of Gateway API routes with Service parents and Linkerd 2.16's
 * annotations; a meshed client whose proxy watches OutboundPolicies; meshed backends (mesh-app
 * http-serve) in two pods. Proves: a 90/10 split over 10,000 requests within ±2 points; weights
 * changed live to 0/100 under load with no failed request and none reaching the old backend
 * after; 5xx retried with limit 2 against a backend failing 50% (a seeded sequence, so the
 * expected success is computed exactly); a 100 KiB POST not retried while small ones are; a 300 ms
 * request timeout answering 504 and cancelling the backend call; header filters and a redirect
 * seen by curl; the route metrics under Linkerd's names.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { eventually } from './pods/mesh';
import { makeMeshDir, meshProxyEnv, POLICY_PORT, startMeshControl, workloadLines } from './pods/mesh-control';
import type { PodProcess } from '../control/local/pods/exec';

const skip = meshSkipReason();
const APP = join(__dirname, 'mesh-app.js');
const CLIENT_ID = 'client.demo.serviceaccount.identity.linnet.cluster.local';
const WEB_ID = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const SEED = 1;

// Services (mesh file) and their virtual IPs; every service port is its endpoints' port.
const WEB = { vip: '10.96.1.10', port: 8000 };
const FLAKY = { vip: '10.96.1.20', port: 8001 }; // 50% 503
const BROKEN = { vip: '10.96.1.21', port: 8002 }; // always 503
const SLOW = { vip: '10.96.1.22', port: 8003 }; // answers after 2 s
const ACCRUAL = { vip: '10.96.1.23', port: 8004 }; // three endpoints, one killed
const SLOW_RESPONSE = { vip: '10.96.1.24', port: SLOW.port }; // the slow app, timeout.linkerd.io/response
const SLOW_IDLE = { vip: '10.96.1.25', port: SLOW.port }; // the slow app, timeout.linkerd.io/idle
const SLOW_RETRIED = { vip: '10.96.1.26', port: SLOW.port }; // the slow app, retries on, no timeout
const GRPC = { vip: '10.96.1.30', port: 7500 }; // fails each key's first call UNAVAILABLE
const GRPC_APP = join(__dirname, 'grpc-app.js');

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let client: Pod;
let a: Pod;
let b: Pod;
let c: Pod;
const apps = new Map<string, PodProcess>();

/** A figure for the report: printed as a TAP comment. */
const figure = (text: string) => process.stdout.write(`# routes: ${text}\n`);

const it = (name: string, body: () => Promise<void>) => test(name, { skip }, logsOnFailure(() => cluster, body));

const routes = (w1: number, w2: number) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { namespace: demo, name: web-split }
spec:
  parentRefs: [{ group: core, kind: Service, name: web, port: ${WEB.port} }]
  rules:
    - backendRefs:
        - { name: web-v1, port: ${WEB.port}, weight: ${w1} }
        - { name: web-v2, port: ${WEB.port}, weight: ${w2} }
    - matches: [{ path: { type: PathPrefix, value: /filtered } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: x-route, value: filtered }], remove: [x-secret] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { add: [{ name: x-by-route, value: web-filters }] }
      backendRefs: [{ name: web-v1, port: ${WEB.port} }]
    - matches: [{ path: { type: PathPrefix, value: /old } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { hostname: example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new }, statusCode: 301 }
---
apiVersion: v1
kind: Service
metadata:
  namespace: demo
  name: flaky
  annotations:
    retry.linkerd.io/http: 5xx
    retry.linkerd.io/limit: "2"
    retry.linnet.io/budget: "100%"
---
apiVersion: v1
kind: Service
metadata:
  namespace: demo
  name: broken
  annotations: { retry.linkerd.io/http: "503", retry.linkerd.io/limit: "2" }
---
apiVersion: v1
kind: Service
metadata:
  namespace: demo
  name: slow
  annotations: { timeout.linkerd.io/request: 300ms }
---
apiVersion: v1
kind: Service
metadata: { namespace: demo, name: slow-response, annotations: { timeout.linkerd.io/response: 300ms } }
---
apiVersion: v1
kind: Service
metadata: { namespace: demo, name: slow-idle, annotations: { timeout.linkerd.io/idle: 300ms } }
---
apiVersion: v1
kind: Service
metadata: { namespace: demo, name: slow-retried, annotations: { retry.linkerd.io/http: 5xx } }
---
apiVersion: v1
kind: Service
metadata:
  namespace: demo
  name: accrual
  annotations:
    balancer.linkerd.io/failure-accrual: consecutive
    balancer.linkerd.io/failure-accrual-consecutive-max-failures: "3"
    balancer.linkerd.io/failure-accrual-consecutive-min-penalty: 500ms
    balancer.linkerd.io/failure-accrual-consecutive-max-penalty: 2s
    retry.linkerd.io/http: 5xx
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  namespace: demo
  name: echo-unary
  annotations: { retry.linkerd.io/grpc: unavailable }
spec:
  parentRefs: [{ group: core, kind: Service, name: echo, port: ${GRPC.port} }]
  rules:
    - matches: [{ method: { service: linnet.test.Echo, method: Unary } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: x-test, value: from-route }] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { add: [{ name: x-by-route, value: grpc }] }
`;

const svc = (name: string, s: { vip: string; port: number }, eps: Pod[]) => [
  `  - name: ${name}.demo.svc.cluster.local`,
  `    address: ${s.vip}`,
  `    ports: [${s.port}]`,
  '    endpoints:',
  ...eps.flatMap((p) => [`      - address: ${p.ip}:${s.port}`, `        identity: ${WEB_ID}`]),
];

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'web'], 'linnet-routes-');
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  client = await cluster.addPod('client');
  a = await cluster.addPod('a');
  b = await cluster.addPod('b');
  c = await cluster.addPod('c');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      ...svc('web', WEB, [a]),
      ...svc('web-v1', WEB, [a]).map((l) => l.replace(WEB.vip, '10.96.1.11')),
      ...svc('web-v2', WEB, [b]).map((l) => l.replace(WEB.vip, '10.96.1.12')),
      ...svc('flaky', FLAKY, [a]),
      ...svc('broken', BROKEN, [a]),
      ...svc('slow', SLOW, [a]),
      ...svc('accrual', ACCRUAL, [a, b, c]),
      ...svc('slow-response', SLOW_RESPONSE, [a]),
      ...svc('slow-idle', SLOW_IDLE, [a]),
      ...svc('slow-retried', SLOW_RETRIED, [a]),
      ...svc('echo', GRPC, [b]),
      ...workloadLines([[CLIENT_ID, 'client'], [WEB_ID, 'web']]),
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'policy'));
  writeFileSync(join(dir, 'policy', 'routes.yaml'), routes(90, 10));
  await startMeshControl(control, dir, { policyDir: join(dir, 'policy') });
  await Promise.all([client.init(), a.init(), b.init(), c.init()]);
  await Promise.all([
    client.startProxy(meshProxyEnv(control, dir, CLIENT_ID, 'client', { LINNET_PROXY_POLICY_SVC_ADDR: `${control.ip}:${POLICY_PORT}`, LINNET_PROXY_POLICY_WORKLOAD: client.ip, LINNET_PROXY_OUTBOUND_ALLOW_L5D_REQUEST_HEADERS: 'true' })),
    a.startProxy(meshProxyEnv(control, dir, WEB_ID, 'web')),
    b.startProxy(meshProxyEnv(control, dir, WEB_ID, 'web')),
    c.startProxy(meshProxyEnv(control, dir, WEB_ID, 'web')),
  ]);
  const serve = async (pod: Pod, key: string, args: string[]) => {
    const p = pod.spawn(process.execPath, [APP, 'http-serve', ...args], { uid: APP_UID, name: key });
    await p.waitForEvent((e) => e.event === 'listening');
    apps.set(key, p);
  };
  await serve(a, 'v1', ['--port', String(WEB.port), '--name', 'v1']);
  await serve(b, 'v2', ['--port', String(WEB.port), '--name', 'v2']);
  await serve(a, 'flaky', ['--port', String(FLAKY.port), '--name', 'flaky', '--fail-ratio', '0.5', '--seed', String(SEED)]);
  await serve(a, 'broken', ['--port', String(BROKEN.port), '--name', 'broken', '--fail-ratio', '1']);
  await serve(a, 'slow', ['--port', String(SLOW.port), '--name', 'slow', '--delay-ms', '2000']);
  for (const p of [a, b, c]) await serve(p, `accrual-${p.name}`, ['--port', String(ACCRUAL.port), '--name', p.name]);
  const g = b.spawn(process.execPath, [GRPC_APP, 'serve', '--port', String(GRPC.port)], { uid: APP_UID, name: 'grpc' });
  await g.waitForEvent((e) => e.event === 'listening');
  apps.set('grpc', g);
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Summary {
  ok: number;
  errors: number;
  byName: Record<string, number>;
  errorCodes: Record<string, number>;
}

async function load(to: { vip: string; port: number }, requests: number, concurrency: number): Promise<Summary> {
  const r = await client.run(process.execPath, [APP, 'http-load', '--to', `${to.vip}:${to.port}`, '--concurrency', String(concurrency), '--requests', String(requests)], { uid: APP_UID, timeoutMs: 300_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Summary;
}

/** A backend's own count of the requests it saw (straight to its pod, not through the route). */
async function stats(pod: Pod, port: number): Promise<{ requests: number; failed: number; cancelled: number }> {
  const r = await pod.run('curl', ['-sS', '-m', '5', `http://127.0.0.1:${port}/__stats`], { uid: APP_UID, timeoutMs: 15_000 });
  return JSON.parse(r.stdout) as { requests: number; failed: number; cancelled: number };
}

async function curl(args: string[]): Promise<{ status: number; headers: string; body: string; seconds: number }> {
  const r = await client.run('curl', ['-sS', '-m', '10', '-D', '-', '-w', '\n%{time_total}', ...args], { uid: APP_UID, timeoutMs: 30_000 });
  const lines = r.stdout.split('\n');
  const seconds = Number(lines.pop());
  const text = lines.join('\n');
  const [headers = '', ...body] = text.split(/\r?\n\r?\n/);
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0), headers, body: body.join('\n\n').trim(), seconds };
}

it('split: 90/10 over 10,000 requests lands within ±2 points, with no failure', async () => {
  const s = await load(WEB, 10_000, 8);
  assert.equal(s.errors, 0, JSON.stringify(s));
  const v1 = s.byName['v1'] ?? 0;
  const v2 = s.byName['v2'] ?? 0;
  assert.equal(v1 + v2, 10_000, JSON.stringify(s));
  const share = v1 / 10_000;
  assert.ok(Math.abs(share - 0.9) <= 0.02, `v1 took ${(share * 100).toFixed(1)}%`);
  figure(`split 90/10 over 10000 requests: v1 ${v1}, v2 ${v2}`);
  const m = await client.metrics();
  const route = { parent_name: 'web', parent_port: String(WEB.port), route_kind: 'HTTPRoute', route_name: 'web-split' };
  assert.equal(sum(m, 'outbound_http_route_backend_requests_total', { ...route, backend_name: 'web-v1' }), v1);
  assert.equal(sum(m, 'outbound_http_route_backend_requests_total', { ...route, backend_name: 'web-v2' }), v2);
  assert.ok(sum(m, 'outbound_http_route_request_statuses_total', { ...route, http_status: '200' }) >= 10_000);
});

it('weights changed live to 0/100 under load: no failed request, and none reaches the old backend after', async () => {
  const bg = client.spawn(process.execPath, [APP, 'http-load', '--to', `${WEB.vip}:${WEB.port}`, '--concurrency', '4', '--requests', '100000000', '--for-ms', '8000'], { uid: APP_UID, name: 'live-load' });
  await new Promise((r) => setTimeout(r, 2500));
  writeFileSync(join(dir, 'policy', 'routes.yaml'), routes(0, 100));
  // Applied once every new request goes to v2.
  await eventually(async () => {
    const s = await load(WEB, 200, 2);
    assert.equal(s.byName['v1'] ?? 0, 0, JSON.stringify(s));
  }, 20_000, 200);
  const summary = await bg.waitForEvent<Summary & { event: string }>((e) => e.event === 'summary', 60_000);
  assert.equal(summary.errors, 0, JSON.stringify(summary));
  assert.ok((summary.byName['v1'] ?? 0) > 0 && (summary.byName['v2'] ?? 0) > 0, `the load ran across the change: ${JSON.stringify(summary.byName)}`);
  const before = (await stats(a, WEB.port)).requests;
  const s = await load(WEB, 1000, 4);
  assert.deepEqual(s.byName, { v2: 1000 });
  assert.equal((await stats(a, WEB.port)).requests, before, 'the old backend saw no request after the change');
  writeFileSync(join(dir, 'policy', 'routes.yaml'), routes(90, 10));
});

it('retries: 5xx with limit 2 against a backend failing 50% gives the success the sequence allows (≥ 87%)', async () => {
  const N = 1000;
  // The backend's failures are a seeded sequence; with one request at a time the outcome is exact.
  const random = (() => {
    let s = SEED >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let x = s;
      x = Math.imul(x ^ (x >>> 15), x | 1);
      x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
  })();
  let expectOk = 0;
  let expectSent = 0;
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < 3; k++) {
      expectSent++;
      if (random() >= 0.5) {
        expectOk++;
        break;
      }
    }
  }
  const s = await load(FLAKY, N, 1);
  const seen = await stats(a, FLAKY.port);
  assert.equal(seen.requests, expectSent, 'each failed attempt was retried, at most twice');
  assert.equal(s.ok, expectOk, JSON.stringify(s));
  assert.ok(s.ok / N >= 0.87, `success ${(s.ok / N) * 100}%`);
  figure(`50%-503 backend, 5xx retries limit 2: ${s.ok}/${N} succeeded, backend saw ${seen.requests} requests`);
  const m = await client.metrics();
  const route = { parent_name: 'flaky', route_kind: 'default' };
  assert.equal(sum(m, 'outbound_http_route_retry_requests_total', route), expectSent - N);
  assert.equal(sum(m, 'outbound_http_route_retry_limit_exceeded_total', route), N - expectOk);
  assert.ok(sum(m, 'outbound_http_route_retry_successes_total', route) > 0);
});

it('retries: a 100 KiB POST is not retried, a small one and a GET are (limit 2)', async () => {
  const url = `http://${BROKEN.vip}:${BROKEN.port}/`;
  const count = async () => (await stats(a, BROKEN.port)).requests;
  let n = await count();
  assert.equal((await curl([url])).status, 503);
  assert.equal((await count()) - n, 3, 'GET: the first attempt and two retries');
  n = await count();
  const small = await client.run('bash', ['-c', `head -c 1024 /dev/zero | curl -sS -m 10 -o /dev/null -w '%{http_code}' --data-binary @- ${url}`], { uid: APP_UID, timeoutMs: 30_000 });
  assert.equal(small.stdout, '503');
  assert.equal((await count()) - n, 3, 'a 1 KiB POST is kept and retried');
  n = await count();
  const big = await client.run('bash', ['-c', `head -c 102400 /dev/zero | curl -sS -m 10 -o /dev/null -w '%{http_code}' --data-binary @- ${url}`], { uid: APP_UID, timeoutMs: 30_000 });
  assert.equal(big.stdout, '503');
  assert.equal((await count()) - n, 1, 'a 100 KiB POST is sent once');
});

it('timeouts: a 300 ms request timeout answers 504 well before the 2 s backend, and the backend call is cancelled', async () => {
  const r = await curl([`http://${SLOW.vip}:${SLOW.port}/`]);
  assert.equal(r.status, 504, r.headers);
  assert.match(r.headers, /^l5d-proxy-error: response timeout: route request timeout 300 ms\r?$/im);
  // Loose bounds on a loaded machine: at least the timeout, well under the backend's 2 s.
  assert.ok(r.seconds >= 0.25 && r.seconds < 1, `answered after ${r.seconds} s`);
  figure(`300 ms request timeout: 504 after ${r.seconds} s`);
  await apps.get('slow')!.waitForEvent((e) => e.event === 'cancelled', 10_000);
  const m = await client.metrics();
  assert.ok(sum(m, 'outbound_http_route_request_statuses_total', { parent_name: 'slow', error: 'REQUEST_TIMEOUT' }) >= 1);
});

it('filters: request headers set and removed, a response header added, and a redirect, as curl sees them', async () => {
  const r = await curl(['-H', 'x-secret: s3cret', '-H', 'x-route: client', `http://${WEB.vip}:${WEB.port}/filtered/x`]);
  assert.equal(r.status, 200, r.headers);
  assert.equal(r.body, 'v1');
  const saw = JSON.parse(/^x-saw-headers: (.*)\r?$/im.exec(r.headers)![1]!) as Record<string, string>;
  assert.equal(saw['x-route'], 'filtered');
  assert.equal(saw['x-secret'], undefined);
  assert.match(r.headers, /^x-by-route: web-filters\r?$/im);
  const redirect = await curl([`http://${WEB.vip}:${WEB.port}/old/thing?q=1`]);
  assert.equal(redirect.status, 301);
  assert.match(redirect.headers, /^location: http:\/\/example\.com\/new\/thing\?q=1\r?$/im);
});

it('gRPC: UNAVAILABLE retried by a GRPCRoute\'s retry.linkerd.io/grpc (grpc-js client)', async () => {
  const r = await client.run(process.execPath, [GRPC_APP, 'call', '--to', `${GRPC.vip}:${GRPC.port}`, '--scenario', 'fail-once', '--count', '50'], { uid: APP_UID, timeoutMs: 60_000 });
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: number; codes: Record<string, number> };
  assert.deepEqual(res, { event: 'result', scenario: 'fail-once', ok: 50, codes: {} });
  const m = await client.metrics();
  const route = { parent_name: 'echo', route_kind: 'GRPCRoute', route_name: 'echo-unary' };
  assert.equal(sum(m, 'outbound_grpc_route_retry_requests_total', route), 50, 'each call\'s first UNAVAILABLE was retried once');
  assert.equal(sum(m, 'outbound_grpc_route_request_statuses_total', { ...route, grpc_status: '0' }), 50);
});

it('failure accrual: one of three endpoints killed under load is set aside (few failures, few retries) and back after its app returns', async () => {
  const key = 'accrual-c';
  const bg = client.spawn(process.execPath, [APP, 'http-load', '--to', `${ACCRUAL.vip}:${ACCRUAL.port}`, '--concurrency', '4', '--requests', '100000000', '--for-ms', '6000'], { uid: APP_UID, name: 'accrual-load' });
  await new Promise((r) => setTimeout(r, 1500));
  apps.get(key)!.signal('SIGKILL');
  const summary = await bg.waitForEvent<Summary & { event: string }>((e) => e.event === 'summary', 60_000);
  const total = summary.ok + summary.errors;
  assert.ok(summary.errors <= 5, `client-visible failures: ${JSON.stringify(summary)}`);
  assert.ok((summary.byName['c'] ?? 0) > 0, 'c served before it was killed');
  const m = await client.metrics();
  const retries = sum(m, 'outbound_http_route_retry_requests_total', { parent_name: 'accrual' });
  // Without accrual about a third of the ~4.5 s after the kill would have gone to c and been
  // retried; set aside, c is only probed now and then (penalties of 0.5-2 s).
  assert.ok(retries < Math.max(30, total * 0.05), `retries ${retries} of ${total} requests`);
  figure(`accrual: ${total} requests in 6 s (${Math.round(total / 6)}/s), ${summary.errors} failed, ${retries} retried, c served ${summary.byName['c'] ?? 0}`);
  // Its app back: it is probed and taken back within its (at most 2 s) penalty.
  const p = c.spawn(process.execPath, [APP, 'http-serve', '--port', String(ACCRUAL.port), '--name', 'c'], { uid: APP_UID, name: `${key}-again` });
  await p.waitForEvent((e) => e.event === 'listening');
  apps.set(key, p);
  await eventually(async () => {
    const s = await load(ACCRUAL, 300, 4);
    assert.equal(s.errors, 0);
    assert.ok((s.byName['c'] ?? 0) > 0, JSON.stringify(s.byName));
  }, 15_000, 500);
});

it('gRPC (HTTP/2): a GRPCRoute\'s header filters change the request metadata the server sees and add response metadata', async () => {
  const seen = apps.get('grpc')!.waitForEvent<{ event: string; method: string; metadata: string | null }>((e) => e.event === 'done' && e.method === 'Unary', 20_000);
  const r = await client.run(process.execPath, [GRPC_APP, 'call', '--to', `${GRPC.vip}:${GRPC.port}`, '--scenario', 'unary'], { uid: APP_UID, timeoutMs: 30_000 });
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { res?: unknown; headers?: Record<string, unknown> };
  assert.ok(res.res, r.stdout);
  assert.equal((await seen).metadata, 'from-route', 'x-test was set by the route over the client\'s value');
  assert.equal(res.headers?.['x-by-route'], 'grpc', JSON.stringify(res.headers));
});

it('per-request overrides (allowed on this proxy): l5d-retry-limit: 0 sends once, l5d-timeout shortens the timeout', async () => {
  const count = async () => (await stats(a, BROKEN.port)).requests;
  const n = await count();
  assert.equal((await curl(['-H', 'l5d-retry-limit: 0', `http://${BROKEN.vip}:${BROKEN.port}/`])).status, 503);
  assert.equal((await count()) - n, 1, 'not retried');
  const r = await curl(['-H', 'l5d-timeout: 100ms', `http://${SLOW.vip}:${SLOW.port}/`]);
  assert.equal(r.status, 504);
  assert.match(r.headers, /route request timeout 100 ms/);
});

it('timeouts: timeout.linkerd.io/response and /idle answer 504 well before the 2 s backend', async () => {
  for (const [s, what] of [[SLOW_RESPONSE, 'response'], [SLOW_IDLE, 'idle']] as const) {
    const r = await curl([`http://${s.vip}:${s.port}/`]);
    assert.equal(r.status, 504, `${what}: ${r.headers}`);
    assert.match(r.headers, new RegExp(`route ${what} timeout 300 ms`));
    assert.ok(r.seconds >= 0.25 && r.seconds < 1, `${what}: answered after ${r.seconds} s`);
  }
});

it('a client that gives up cancels the backend call: HTTP/1 reset by the client, gRPC cancelled (routes on both)', async () => {
  // HTTP/1: the client resets its connection while the proxy waits on the 2 s backend with the
  // request kept for a retry. (A client FIN after a complete request is HTTP/1's half-close: the
  // answer still goes out, as before routes.)
  const slow = apps.get('slow')!;
  const cancelled = slow.waitForEvent((e) => e.event === 'cancelled' && e.url === '/given-up', 15_000);
  const script = `const s=require('net').connect(${SLOW_RETRIED.port},'${SLOW_RETRIED.vip}',()=>{s.write('GET /given-up HTTP/1.1\\r\\nHost: slow\\r\\n\\r\\n');setTimeout(()=>s.resetAndDestroy(),500)});s.on('error',()=>{})`;
  const r = await client.run(process.execPath, ['-e', script], { uid: APP_UID, timeoutMs: 15_000 });
  assert.equal(r.code, 0, r.stderr);
  await cancelled;
  // gRPC: a server stream the client cancels after 5 messages (the service's default route).
  const grpcApp = apps.get('grpc')!;
  const streamCancelled = grpcApp.waitForEvent((e) => e.event === 'cancelled' && e.method === 'ServerStream', 15_000);
  const g = await client.run(process.execPath, [GRPC_APP, 'call', '--to', `${GRPC.vip}:${GRPC.port}`, '--scenario', 'cancel'], { uid: APP_UID, timeoutMs: 30_000 });
  const res = JSON.parse(g.stdout.trim().split('\n').pop()!) as { received?: number; error?: { code: number } };
  assert.equal(res.error?.code, 1, g.stdout);
  await streamCancelled;
});
