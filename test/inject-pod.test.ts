/**
 * An injected pod spec, run: `linnet inject --manual` renders a Deployment; its pod is started in
 * a real network namespace the way the kubelet would start it — the rendered init container's
 * args run as `linnet init` (real iptables), then the rendered proxy container runs as its uid with
 * its env (fieldRefs and $(VAR)s expanded), and the app beside it. A client pod then shows that
 * the annotations took effect: skipped inbound/outbound ports bypass the proxy, the others go
 * through it, and the rendered probes answer on the admin port.
 *
 * No control plane runs here, so the identity and destination variables are left out of the env
 * (the proxy then runs without mTLS and forwards to the original destination); the env's parse
 * with them in is covered by control/inject/contract.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { Cluster, LINNET_BIN, REPO_ROOT, logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { connectTcp, eventually, serveTcp } from './pods/mesh';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = meshSkipReason();
const SKIP_IN = 7102;
const SKIP_OUT = 7301;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: demo
spec:
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
      annotations:
        config.linnet.io/skip-inbound-ports: "${SKIP_IN}"
        config.linnet.io/skip-outbound-ports: "${SKIP_OUT}"
        config.linnet.io/proxy-log-level: debug
    spec:
      serviceAccountName: shop
      containers:
        - name: app
          image: example/shop:1
          ports:
            - containerPort: 7000
`;

let cluster: Cluster | undefined;
let client: Pod;
let server: Pod;
let podSpec: Json;

function render(): Json {
  const anchors = join(REPO_ROOT, 'control', 'inject', 'testdata', 'trust-anchors.pem');
  const r = spawnSync(process.execPath, [LINNET_BIN, 'inject', '--manual', '--identity-trust-anchors-file', anchors, '-'], { input: DEPLOYMENT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (parseAllDocuments(r.stdout)[0]!.toJS() as Json).spec.template.spec;
}

/** fieldRefs resolved and $(VAR) expanded, as the kubelet does; control-plane variables left out (identity, discovery, and tap, which is served with the identity). */
function kubeletEnv(env: Json[]): Record<string, string> {
  const fields: Record<string, string> = { 'metadata.name': 'shop-5d8f-abcde', 'metadata.namespace': 'demo', 'spec.serviceAccountName': 'shop' };
  const out: Record<string, string> = {};
  for (const e of env) {
    const raw = e.valueFrom ? fields[e.valueFrom.fieldRef.fieldPath]! : String(e.value);
    out[e.name] = raw.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => out[v] ?? m);
  }
  for (const k of Object.keys(out)) if (k.startsWith('LINNET_PROXY_IDENTITY_') || k === 'LINNET_PROXY_DESTINATION_SVC_ADDR' || k === 'LINNET_PROXY_TAP_SVC_NAME') delete out[k];
  return out;
}

before(async () => {
  if (skip) return;
  podSpec = render();
  cluster = await Cluster.create();
  client = await cluster.addPod('client');
  server = await cluster.addPod('server');
  // The init container: its args exactly as rendered, as root (NET_ADMIN) in the pod's namespace.
  const init = podSpec.initContainers.find((c: Json) => c.name === 'linnet-init');
  await server.runOk(process.execPath, [LINNET_BIN, ...init.args], { timeoutMs: 30_000 });
  // The proxy container: its env as rendered; startProxy runs it as uid 2102 and waits for /ready.
  const proxy = podSpec.containers.find((c: Json) => c.name === 'linnet-proxy');
  assert.equal(proxy.securityContext.runAsUser, 2102);
  await server.startProxy(kubeletEnv(proxy.env));
});

after(async () => {
  await cluster?.destroy();
});

const it = (name: string, body: () => Promise<void>) => test(name, { skip }, logsOnFailure(() => cluster, body));

it('the rendered probes answer on the admin port', async () => {
  const proxy = podSpec.containers.find((c: Json) => c.name === 'linnet-proxy');
  for (const probe of [proxy.livenessProbe, proxy.readinessProbe]) {
    assert.equal(probe.httpGet.port, 4191);
    const r = await server.admin('GET', probe.httpGet.path);
    assert.equal(r.status, 200, `${probe.httpGet.path}: ${r.body}`);
  }
});

it('inbound: a skipped port bypasses the proxy, the app port goes through it', async () => {
  const apps = await Promise.all([7000, SKIP_IN].map((p) => serveTcp(server, p, ['--send', '100'])));
  const inbound = async (port: number) => sum(await server.metrics(), 'tcp_open_total', { direction: 'inbound', target_addr: `${server.ip}:${port}` });
  for (const port of [7000, SKIP_IN]) {
    const r = await connectTcp(client, `${server.ip}:${port}`, ['--send', '10']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.reports[0]!.received, 100);
  }
  await eventually(async () => assert.ok((await inbound(7000)) >= 1, 'the app port is proxied'));
  assert.equal(await inbound(SKIP_IN), 0, 'the skipped port never reaches the proxy');
  await Promise.all(apps.map((a) => a.stop()));
});

it('outbound: a skipped port bypasses the proxy, another port goes through it', async () => {
  const targets = await Promise.all([SKIP_OUT, 7302].map((p) => serveTcp(client, p, ['--send', '50'])));
  const outbound = async (port: number) => sum(await server.metrics(), 'tcp_open_total', { direction: 'outbound', target_addr: `${client.ip}:${port}` });
  for (const port of [SKIP_OUT, 7302]) {
    const r = await connectTcp(server, `${client.ip}:${port}`, ['--send', '10']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.reports[0]!.received, 50);
  }
  await eventually(async () => assert.ok((await outbound(7302)) >= 1, 'the other port is proxied'));
  assert.equal(await outbound(SKIP_OUT), 0, 'the skipped port never reaches the proxy');
  await Promise.all(targets.map((t) => t.stop()));
});
