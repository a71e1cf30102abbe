/**
 * HTTPLocalRateLimitPolicy at a fixed rate, in network-namespace pods with real mTLS: a web pod
 * whose Server allows everyone with a budget of LIMIT requests a second per client identity; one
 * meshed client (fast) sends at twice its limit for 10 s while another (calm) sends well under
 * its own, both at once, at constant rates (test/rate-app.ts, open loop over kept-alive
 * connections). Proves the figure: the fast client gets within 5% of its limit served
 * (the rest answered 429 by the proxy, counted per identity), and the calm one loses nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { eventually } from './pods/mesh';
import { makeMeshDir, meshProxyEnv, POLICY_PORT, startMeshControl, workloadLines } from './pods/mesh-control';

const skip = meshSkipReason();
const APP = join(__dirname, 'mesh-app.js');
const RATE_APP = join(__dirname, 'rate-app.js');
const FAST_ID = 'fast.demo.serviceaccount.identity.linnet.cluster.local';
const CALM_ID = 'calm.demo.serviceaccount.identity.linnet.cluster.local';
const WEB_ID = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const PORT = 8000;
/** Requests a second per client identity. */
const LIMIT = 50;
const SECONDS = 10;

let cluster: Cluster | undefined;
let dir: string;
let fast: Pod;
let calm: Pod;
let web: Pod;

const it = (name: string, body: () => Promise<void>) => test(name, { skip, timeout: 180_000 }, logsOnFailure(() => cluster, body));

const POLICY = `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: demo, name: web-limited }
spec: { podSelector: { matchLabels: { app: web } }, port: ${PORT}, proxyProtocol: HTTP/1, accessPolicy: all-unauthenticated }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: { namespace: demo, name: per-identity }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: web-limited }
  identity: { requestsPerSecond: ${LIMIT} }
`;

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['fast', 'calm', 'web'], 'linnet-ratelimit-');
  cluster = await Cluster.create();
  const control = await cluster.addPod('control');
  fast = await cluster.addPod('fast');
  calm = await cluster.addPod('calm');
  web = await cluster.addPod('web');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      '  - name: web.demo.svc.cluster.local',
      '    endpoints:',
      `      - address: ${web.ip}`,
      `        identity: ${WEB_ID}`,
      '        labels: { app: web }',
      ...workloadLines([[FAST_ID, 'fast'], [CALM_ID, 'calm'], [WEB_ID, 'web']]),
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'policy'));
  writeFileSync(join(dir, 'policy', 'web.yaml'), POLICY);
  await startMeshControl(control, dir, { policyDir: join(dir, 'policy') });
  await Promise.all([fast.init(), calm.init(), web.init()]);
  await Promise.all([
    fast.startProxy(meshProxyEnv(control, dir, FAST_ID, 'fast')),
    calm.startProxy(meshProxyEnv(control, dir, CALM_ID, 'calm')),
    web.startProxy(meshProxyEnv(control, dir, WEB_ID, 'web', { LINNET_PROXY_POLICY_SVC_ADDR: `${control.ip}:${POLICY_PORT}`, LINNET_PROXY_POLICY_WORKLOAD: web.ip, LINNET_PROXY_INBOUND_PORTS: String(PORT) })),
  ]);
  const p = web.spawn(process.execPath, [APP, 'http-serve', '--port', String(PORT), '--name', 'web', '--delay-ms', '0'], { uid: APP_UID, name: 'http' });
  await p.waitForEvent((e) => e.event === 'listening');
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Summary {
  sent: number;
  ok: number;
  errors: number;
  errorCodes: Record<string, number>;
}

function load(pod: Pod, rate: number, connections: number): Promise<Summary> {
  return pod
    .run(process.execPath, [RATE_APP, 'http', '--to', `${web.ip}:${PORT}`, '--rate', String(rate), '--seconds', String(SECONDS), '--connections', String(connections)], { uid: APP_UID, timeoutMs: (SECONDS + 40) * 1000 })
    .then((r) => {
      const line = r.stdout.trim().split('\n').pop() ?? '';
      assert.match(line, /"event":"summary"/, `rate-app from ${pod.name}: ${r.stdout}${r.stderr}`);
      return JSON.parse(line) as Summary;
    });
}

it(`a client at twice its limit for ${SECONDS} s gets within 5% of its limit served; another identity under its own limit loses nothing`, async () => {
  // The policy is in (the Server's name is on the web proxy's counters) before the load starts.
  await eventually(async () => {
    const r = await calm.run('curl', ['-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${web.ip}:${PORT}/warm`], { uid: APP_UID, timeoutMs: 10_000 });
    assert.equal(r.stdout, '200');
    assert.ok(sum(await web.metrics(), 'inbound_http_authz_allow_total', { srv_name: 'web-limited', client_id: CALM_ID }) >= 1);
  }, 20_000, 200);
  // The calm client's own budget is full again long before its load begins.
  await new Promise((r) => setTimeout(r, 200));
  const [f, c] = await Promise.all([load(fast, 2 * LIMIT, 4), load(calm, LIMIT / 5, 2)]);
  const want = LIMIT * SECONDS;
  process.stdout.write(`# fast at ${2 * LIMIT}/s for ${SECONDS} s: ${f.ok} served of ${f.sent} (limit × time = ${want}, ${((100 * (f.ok - want)) / want).toFixed(1)}%), ${JSON.stringify(f.errorCodes)}; calm at ${LIMIT / 5}/s: ${c.ok} of ${c.sent}\n`);
  assert.equal(f.sent, 2 * want);
  assert.ok(Math.abs(f.ok - want) <= 0.05 * want, `fast: ${f.ok} served, want ${want} ± 5%`);
  assert.deepEqual(Object.keys(f.errorCodes), ['429'], 'everything refused was refused by the limit');
  assert.equal(f.ok + f.errors, f.sent);
  assert.equal(c.sent, (LIMIT / 5) * SECONDS);
  assert.equal(c.errors, 0, JSON.stringify(c));
  assert.equal(c.ok, c.sent);
  await eventually(async () => {
    const m = await web.metrics();
    const limited = { srv_kind: 'server', srv_name: 'web-limited', ratelimit_name: 'per-identity', scope: 'identity' };
    assert.equal(sum(m, 'inbound_http_local_ratelimit_rejected_total', { ...limited, client_id: FAST_ID }), f.errors);
    assert.equal(sum(m, 'inbound_http_local_ratelimit_rejected_total', { ...limited, client_id: CALM_ID }), 0);
  });
});
