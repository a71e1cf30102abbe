/**
 * `linnet check`: certificate checks at chosen clocks, manifest checks on real `linnet install`
 * output (untouched and tampered), kubeconfig checks (with a real TCP listener as the API
 * server), data-plane checks against a real HTTP admin endpoint, and the CLI's exit codes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { createCa } from '../identity/ca';
import { webhookCerts } from '../install/certs';
import { checkIdentity } from './cert-checks';
import { checkApiReachable, checkKubeconfigText } from './kubeconfig-checks';
import { checkManifests } from './manifest-checks';
import { checkProxy } from './proxy-checks';
import type { CheckResult } from './result';

const BIN = join(__dirname, '..', '..', '..', 'bin', 'linnet');
const tmp = mkdtempSync(join(tmpdir(), 'linnet-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const DAY = 86_400_000;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function linnet(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', env: { ...process.env, KUBECONFIG: join(tmp, 'no-such-kubeconfig') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** Async, for tests whose peer (an HTTP server) lives in this process and must keep serving. */
function linnetAsync(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, KUBECONFIG: join(tmp, 'no-such-kubeconfig') } });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.on('close', (code) => resolve({ code, stdout }));
  });
}
const byName = (rs: CheckResult[], prefix: string) => {
  const r = rs.find((x) => x.name.startsWith(prefix));
  assert.ok(r, `a check named "${prefix}..." in ${rs.map((x) => x.name).join(' | ')}`);
  return r!;
};

test('certificates: valid, expiring within 60 days (‼), expired (×), wrong signer and wrong key (×)', async () => {
  const now = Date.now();
  const ca = await createCa({ anchorLifetimeMs: 3650 * DAY, issuerLifetimeMs: 365 * DAY, now });
  const all = checkIdentity({ anchorsPem: ca.anchorPem, issuerPem: ca.issuerPem, issuerKeyPem: ca.issuerKeyPem, source: 't' }, now);
  assert.ok(all.every((r) => r.status === 'ok'), JSON.stringify(all));

  const soon = checkIdentity({ anchorsPem: ca.anchorPem, issuerPem: ca.issuerPem, source: 't' }, now + 330 * DAY);
  const w = byName(soon, 'issuer certificate is valid');
  assert.equal(w.status, 'warn');
  assert.match(w.detail!, /in 3\d day\(s\)/);
  assert.ok(w.hint);

  const late = checkIdentity({ anchorsPem: ca.anchorPem, issuerPem: ca.issuerPem, source: 't' }, now + 400 * DAY);
  assert.equal(byName(late, 'issuer certificate is valid').status, 'fail');
  assert.match(byName(late, 'issuer certificate is valid').detail!, /expired at/);
  assert.equal(byName(checkIdentity({ anchorsPem: ca.anchorPem, issuerPem: ca.issuerPem, source: 't' }, now + 3640 * DAY), 'trust anchor is valid').status, 'warn');

  const other = await createCa();
  assert.equal(byName(checkIdentity({ anchorsPem: other.anchorPem, issuerPem: ca.issuerPem, source: 't' }, now), 'issuer certificate is signed').status, 'fail');
  assert.equal(byName(checkIdentity({ anchorsPem: ca.anchorPem, issuerPem: ca.issuerPem, issuerKeyPem: other.issuerKeyPem, source: 't' }, now), 'issuer key belongs').status, 'fail');
  assert.equal(checkIdentity({ anchorsPem: 'garbage', issuerPem: ca.issuerPem, source: 't' }, now)[0]!.status, 'fail');
  // A bundle during anchor rotation: the issuer may be signed by either anchor.
  assert.equal(byName(checkIdentity({ anchorsPem: other.anchorPem + ca.anchorPem, issuerPem: ca.issuerPem, source: 't' }, now), 'issuer certificate is signed').status, 'ok');
});

function installed(args: string[] = []): Json[] {
  const r = linnet(['install', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Json);
}

test('manifests: install output passes; tampering is caught', async () => {
  const objs = installed();
  const clean = checkManifests(objs);
  assert.ok(clean.every((r) => r.status === 'ok'), JSON.stringify(clean.filter((r) => r.status !== 'ok')));

  assert.equal(byName(clean, 'the control plane makes its trust anchor').status, 'ok');
  assert.equal(byName(clean, 'webhook caBundle is filled by the control plane').status, 'ok');

  const tampered = structuredClone(objs);
  tampered.find((o) => o.kind === 'Deployment')!.spec.replica = 3; // a typo the schema alone would accept
  // A caBundle and a serving Secret that do not belong together (two webhook CAs).
  const [a, b] = [await webhookCerts('linnet-proxy-injector', 'linnet'), await webhookCerts('linnet-proxy-injector', 'linnet')];
  const hookA = tampered.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
  hookA.webhooks[0].clientConfig.caBundle = Buffer.from(a.caPem).toString('base64');
  tampered.push({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'linnet-proxy-injector-k8s-tls', namespace: 'linnet' }, data: { 'tls.crt': Buffer.from(b.certPem).toString('base64'), 'tls.key': Buffer.from(b.keyPem).toString('base64') } });
  hookA.webhooks[0].failurePolicy = 'Fail';
  const rs = checkManifests(tampered.filter((o) => o.kind !== 'ClusterRole'));
  assert.match(byName(rs, 'all objects pass').detail!, /\/spec\/replica: unknown field "replica"/);
  assert.match(byName(rs, 'control plane objects are present').detail!, /tokenreviews/);
  assert.equal(byName(rs, 'webhook caBundle signs').status, 'fail');
  assert.equal(byName(rs, 'webhook failurePolicy').status, 'warn');
});

test('manifests: injected workloads must carry the control plane trust root', async () => {
  // Given files (the bring-your-own path) put the anchors into the manifests' ConfigMap.
  const ca = await createCa();
  for (const [f, t] of [['anchors.pem', ca.anchorPem], ['issuer.crt', ca.issuerPem], ['issuer.key', ca.issuerKeyPem], ['other.pem', (await createCa()).anchorPem]] as const) writeFileSync(join(tmp, f), t);
  const objs = installed(['--identity-trust-anchors-file', join(tmp, 'anchors.pem'), '--identity-issuer-certificate-file', join(tmp, 'issuer.crt'), '--identity-issuer-key-file', join(tmp, 'issuer.key')]);
  const dep = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: app, image: nginx}]}\n';
  const good = linnet(['inject', '--manual', '--proxy-version', '0.1.0', '--identity-trust-anchors-file', join(tmp, 'anchors.pem'), '-'], dep);
  const bad = linnet(['inject', '--manual', '--proxy-version', '0.0.9', '--identity-trust-anchors-file', join(tmp, 'other.pem'), '-'], dep.replace('web, ', 'old, '));
  const version = objs[0]!.metadata.labels['app.kubernetes.io/version'];
  const withGood = checkManifests([...objs, parseAllDocuments(good.stdout)[0]!.toJS() as Json]);
  assert.equal(byName(withGood, '1 injected workload(s) trust').status, 'ok');
  const withBad = checkManifests([...objs, parseAllDocuments(bad.stdout)[0]!.toJS() as Json]);
  assert.match(byName(withBad, "injected workloads trust this control plane's anchors").detail!, /deployment\/old/);
  assert.equal(byName(withBad, `injected workloads run proxy ${version}`).status, 'warn');
  const plain = linnet(['inject', '--manual', '-'], dep);
  assert.equal(byName(checkManifests([parseAllDocuments(plain.stdout)[0]!.toJS() as Json]), 'injected workloads have an identity').status, 'warn');
});

test('kubeconfig: structure checks and a real reachability probe', async () => {
  const srv = createTcpServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const ca = (await createCa()).anchorPem;
  const kc = (ctx: string) => `apiVersion: v1\nkind: Config\ncurrent-context: ${ctx}\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority-data: ${Buffer.from(ca).toString('base64')}\ncontexts:\n- name: dev\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: abc}\n`;
  const good = checkKubeconfigText(kc('dev'), 'kc');
  assert.ok(good.results.every((r) => r.status === 'ok'), JSON.stringify(good.results));
  assert.equal((await checkApiReachable(good.server!)).status, 'ok');
  srv.close();
  await new Promise((r) => setTimeout(r, 50));
  const down = await checkApiReachable(good.server!, 500);
  assert.equal(down.status, 'fail');
  assert.match(down.detail!, /ECONNREFUSED/);

  assert.equal(byName(checkKubeconfigText(kc('prod'), 'kc').results, 'kubeconfig has a current context').status, 'fail');
  assert.equal(checkKubeconfigText('kind: [', 'kc').results[0]!.status, 'fail');
  assert.equal(byName(checkKubeconfigText(kc('dev').replace('{token: abc}', '{}'), 'kc').results, 'current user has credentials').status, 'fail');
});

function admin(handler: (path: string) => [number, string]): Promise<{ server: HttpServer; addr: string }> {
  const server = createHttpServer((req, res) => {
    const [status, body] = handler(req.url ?? '/');
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

test('data plane: a healthy proxy admin endpoint passes, a not-ready one fails, a dead one fails', async () => {
  const expiry = Math.floor(Date.now() / 1000) + 86_400;
  const metrics = `# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\ntcp_open_total{direction="inbound"} 3\nidentity_cert_expiration_timestamp_seconds ${expiry}\n`;
  const healthy = await admin((p) => (p === '/metrics' ? [200, metrics] : [200, 'ok\n']));
  const notReady = await admin((p) => (p === '/ready' ? [503, 'not ready: no identity\n'] : p === '/metrics' ? [200, 'process_cpu_seconds_total 1\n'] : [200, 'ok\n']));
  try {
    const h = await checkProxy(healthy.addr);
    assert.ok(h.every((r) => r.status === 'ok'), JSON.stringify(h));
    const n = await checkProxy(notReady.addr);
    assert.equal(byName(n, `proxy ${notReady.addr} is ready`).status, 'fail');
    assert.match(byName(n, `proxy ${notReady.addr} is ready`).detail!, /503: not ready/);
    assert.equal(byName(n, `proxy ${notReady.addr} has an identity`).status, 'warn');

    // The CLI: √ lines and exit 0 for the healthy proxy; × and exit 1 when one is not ready.
    const ok = await linnetAsync(['check', '--proxy', healthy.addr]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^√ proxy .* is ready$/m);
    const bad = await linnetAsync(['check', '--proxy', healthy.addr, '--proxy', notReady.addr]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^× proxy .* is ready\n {4}GET \/ready answered 503.*\n {4}hint: /m);
  } finally {
    healthy.server.close();
    notReady.server.close();
  }
  const dead = await checkProxy('127.0.0.1:1', Date.now(), 500);
  assert.equal(dead[0]!.status, 'fail');
});

test('CLI: --identity-dir and --manifests, exit 1 on failure and 0 on warnings only', async () => {
  const now = Date.now();
  const dir = join(tmp, 'id');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const ca = await createCa({ issuerLifetimeMs: 30 * DAY, now });
  writeFileSync(join(dir, 'ca.crt'), ca.anchorPem);
  writeFileSync(join(dir, 'issuer.crt'), ca.issuerPem);
  writeFileSync(join(dir, 'issuer.key'), ca.issuerKeyPem);
  const warned = linnet(['check', '--identity-dir', dir]);
  assert.equal(warned.code, 0, warned.stdout);
  assert.match(warned.stdout, /^‼ issuer certificate is valid for at least 60 days$/m);
  assert.match(warned.stdout, /hint: renew the issuer/);

  const expired = await createCa({ issuerLifetimeMs: DAY, now: now - 2 * DAY });
  writeFileSync(join(dir, 'issuer.crt'), expired.issuerPem);
  const failed = linnet(['check', '--identity-dir', dir]);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /^× issuer certificate is valid for at least 60 days$/m);
  assert.match(failed.stdout, /Status check results are ×/);

  const inst = linnet(['install']);
  const viaStdin = linnet(['check', '--manifests', '-'], inst.stdout);
  assert.equal(viaStdin.code, 0, viaStdin.stdout);
  assert.match(viaStdin.stdout, /√ webhook caBundle is filled by the control plane/);
  assert.match(viaStdin.stdout, /Status check results are √/);

  const nothing = linnet(['check']);
  assert.equal(nothing.code, 0);
  assert.match(nothing.stdout, /‼ something to check/);
});

test('manifests: a native-sidecar workload counts as injected; server-speaks-first service ports must declare their protocol', () => {
  const dep = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}, annotations: {config.linkerd.io/proxy-enable-native-sidecar: "true"}}\n    spec: {containers: [{name: app, image: nginx}]}\n';
  const native = linnet(['inject', '--manual', '-'], dep);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(byName(checkManifests([parseAllDocuments(native.stdout)[0]!.toJS() as Json]), 'injected workloads have an identity').status, 'warn', 'the native proxy is found among the init containers');

  const svc = (name: string, ports: Json[], annotations?: Json): Json => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'demo', ...(annotations ? { annotations } : {}) }, spec: { ports } });
  const services = [
    svc('mail', [{ name: 'smtp', port: 2525 }]), // by name: warned
    svc('ftp', [{ port: 21, targetPort: 2121 }]), // by number: warned
    svc('mail-ok', [{ name: 'smtp', port: 2525, appProtocol: 'linkerd.io/opaque' }]),
    svc('mail-ann', [{ name: 'smtp', port: 2526 }], { 'config.linkerd.io/opaque-ports': '2500-2530' }),
    svc('db', [{ name: 'mysql', port: 3306 }]), // in the default opaque list
    svc('web', [{ name: 'http', port: 80 }]),
  ];
  const r = byName(checkManifests(services), 'server-speaks-first service ports declare their protocol');
  assert.equal(r.status, 'warn');
  assert.match(r.detail!, /^undeclared: service\/mail port 2525 \(smtp\), service\/ftp port 21; /);
  assert.match(r.hint!, /appProtocol: linkerd\.io\/opaque/);
  assert.equal(byName(checkManifests(services.slice(2)), 'server-speaks-first service ports declare their protocol').status, 'ok');
});

test('the running control plane: anchor, issuer and leaf expiry; ‼ for an overdue rotation and for a proxy trusting only an old anchor', async () => {
  const { checkRunningIdentity } = await import('./control-checks');
  const now = Date.UTC(2026, 0, 10);
  const proxy = (identity: string, anchors: string[], issuerAnchor = 'new') => ({ identity, anchors, issuerAnchor, leafNotAfter: now + 3_600_000 });
  const view = { bundle: ['new'], anchors: [{ sha256: 'new', notAfter: now + 300 * DAY }], issuerAnchor: 'new', issuerNotBefore: now - DAY, issuerNotAfter: now + 6 * DAY, proxies: [proxy('web', ['new'])] };
  const good = checkRunningIdentity(view, now);
  assert.ok(good.every((r) => r.status === 'ok'), JSON.stringify(good));
  assert.match(byName(good, 'issuer is rotated in time').detail!, /6\.0 day\(s\) left/);
  const overdue = checkRunningIdentity({ ...view, issuerNotAfter: now + DAY, issuerNotBefore: now - 6 * DAY }, now);
  assert.equal(byName(overdue, 'issuer is rotated in time').status, 'warn');
  assert.equal(byName(checkRunningIdentity({ ...view, issuerNotAfter: now - 1 }, now), 'issuer is rotated in time').status, 'fail');
  const stale = checkRunningIdentity({ ...view, proxies: [proxy('web', ['new']), proxy('db', ['old'], 'old')] }, now);
  assert.equal(byName(stale, 'every proxy trusts the anchor in use').status, 'warn');
  assert.match(byName(stale, 'every proxy trusts the anchor in use').detail!, /1 proxies trust only an old anchor: db/);
  assert.equal(byName(stale, 'every leaf chains to the anchor in use').status, 'warn');
  assert.equal(byName(checkRunningIdentity({ ...view, anchors: [{ sha256: 'new', notAfter: now + 30 * DAY }] }, now), 'trust anchor in use').status, 'warn');
});
