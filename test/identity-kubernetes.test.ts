/**
 * The control plane's identity in Kubernetes Secrets, against the real-shape HTTPS API server the
 * discovery tests use (test/fake-kube-api.ts): with nothing there, two replicas starting at once
 * bootstrap one anchor, one issuer, the bundle ConfigMap and the webhook's serving certificate
 * (caBundle patched); a restart adopts them; the issuer rotates itself in the Secret and the other
 * replica takes it instead of making a second; and with an external issuer (no anchor key) a new
 * issuer written into the Secret is taken live, a bad one refused naming the Secret.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControl, parseControlArgs, type RunningControl } from '../control/control-command';
import { createCa, createIssuer } from '../control/identity/ca';
import { createLogger } from '../core/log';
import { startFakeKubeApi, type FakeKubeApi } from './fake-kube-api';
import { WEB, certify, makeCsr } from './identity/helpers';
import * as grpc from '@grpc/grpc-js';
import { identityServiceConstructor, type IdentityClient } from '../core/api/identity';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');

let api: FakeKubeApi;
let dir: string;
let kubeconfig: string;
let meshFile: string;
before(async () => {
  api = await startFakeKubeApi();
  dir = mkdtempSync(join(tmpdir(), 'linnet-idk8s-'));
  kubeconfig = api.writeKubeconfig(dir);
  meshFile = join(dir, 'mesh.yaml');
  writeFileSync(meshFile, `services: []\nworkloads:\n  - identity: ${WEB}\n    token: "web-token"\n`);
});
after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

function control(extra: string[] = []): Promise<RunningControl> {
  const o = parseControlArgs([
    '--discovery-file', meshFile, '--identity-store', 'kubernetes', '--kubeconfig', kubeconfig,
    '--destination-addr', '127.0.0.1:0', '--identity-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--log', 'error', ...extra,
  ]);
  return startControl(o, createLogger('error', 'test'));
}
function client(port: number): IdentityClient {
  const Ctor = identityServiceConstructor();
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as IdentityClient;
}
async function leafFrom(port: number) {
  const c = client(port);
  try {
    const { err, res } = await certify(c, { identity: WEB, token: 'web-token', csr: await makeCsr([WEB]) });
    assert.equal(err, null, err?.details);
    return { issuer: new X509Certificate(res!.intermediate_certificates[0]!), anchors: res!.trust_anchors!.map((d) => new X509Certificate(d)) };
  } finally {
    c.close();
  }
}
const secret = (name: string) => api.objects.get(`secrets/linnet/${name}`) as { data: Record<string, string>; metadata: { resourceVersion: string } } | undefined;

describe('identity in Kubernetes Secrets', () => {
  it('two replicas starting at once bootstrap one anchor, one issuer, the bundle and the webhook certificate', async () => {
    api.objects.set('mutatingwebhookconfigurations//linnet-proxy-injector-webhook-config', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'linnet-proxy-injector-webhook-config', resourceVersion: '1' },
      webhooks: [{ name: 'proxy-injector.linnet.linnet.io', clientConfig: { service: { name: 'linnet-proxy-injector', namespace: 'linnet' } } }],
    } as never);
    const [a, b] = await Promise.all([control(['--identity-poll', '200ms', '--identity-issuer-lifetime', '9s']), control(['--identity-poll', '200ms', '--identity-issuer-lifetime', '9s'])]);
    try {
      const anchorSecret = secret('linnet-trust-anchor')!;
      assert.ok(anchorSecret, 'the anchor Secret exists');
      const anchor = new X509Certificate(unb64(anchorSecret.data['tls.crt']!));
      const bundle = (api.objects.get('configmaps/linnet/linnet-identity-trust-roots') as unknown as { data: Record<string, string> }).data['ca-bundle.crt']!;
      assert.equal(new X509Certificate(bundle).fingerprint256, anchor.fingerprint256, 'the bundle holds that anchor');
      assert.equal(a.identity!.manager.current().anchor.fingerprint256, anchor.fingerprint256);
      assert.equal(b.identity!.manager.current().anchor.fingerprint256, anchor.fingerprint256, 'both replicas sign under the one anchor');
      assert.equal(a.identity!.manager.current().issuer.serialNumber, b.identity!.manager.current().issuer.serialNumber, 'and with one issuer');
      assert.ok(api.writes.conflicts >= 1, `the race happened: one create was refused with 409 (conflicts: ${api.writes.conflicts})`);
      const la = await leafFrom(a.identityPort!);
      assert.ok(la.issuer.verify(anchor.publicKey));
      assert.deepEqual(la.anchors.map((x) => x.fingerprint256), [anchor.fingerprint256], 'the bundle comes with the certificate');
      // The webhook's serving certificate, and the caBundle that trusts it.
      const tls = secret('linnet-proxy-injector-k8s-tls')!;
      const hook = api.objects.get('mutatingwebhookconfigurations//linnet-proxy-injector-webhook-config') as unknown as { webhooks: { clientConfig: { caBundle: string } }[] };
      assert.equal(hook.webhooks[0]!.clientConfig.caBundle, tls.data['ca.crt']);
      assert.ok(new X509Certificate(unb64(tls.data['tls.crt']!)).verify(new X509Certificate(unb64(tls.data['ca.crt']!)).publicKey));

      // The issuer rotates itself (9 s, a third left after ~6 s): one replica writes the Secret,
      // the other takes that one (its own write would conflict) — both end on the same issuer.
      const first = a.identity!.manager.current().issuer.serialNumber;
      await until('a rotation', () => a.identity!.manager.current().issuer.serialNumber !== first && b.identity!.manager.current().issuer.serialNumber !== first);
      await until('both replicas on one issuer', () => a.identity!.manager.current().issuer.serialNumber === b.identity!.manager.current().issuer.serialNumber, 3000);
      const stored = new X509Certificate(unb64(secret('linnet-identity-issuer')!.data['tls.crt']!));
      assert.equal(stored.serialNumber, a.identity!.manager.current().issuer.serialNumber, 'the Secret holds the issuer in use');
      const lb = await leafFrom(b.identityPort!);
      assert.equal(lb.issuer.serialNumber, stored.serialNumber);
      const metrics = await (await fetch(`http://127.0.0.1:${a.adminPort}/metrics`)).text();
      assert.match(metrics, /identity_ca_days_left\{cert="anchor"\} 36[45]/);
      assert.match(metrics, /identity_issuer_updates_total\{reason="(rotated|reloaded)"\} [1-9]/);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    // A restart adopts what is there: nothing new is created.
    const posts = api.writes.POST;
    const anchorRv = secret('linnet-trust-anchor')!.metadata.resourceVersion;
    const c = await control();
    try {
      assert.equal(api.writes.POST, posts, 'no create on restart');
      assert.equal(secret('linnet-trust-anchor')!.metadata.resourceVersion, anchorRv);
    } finally {
      await c.stop();
    }
  });

  it('with an external issuer (no anchor key in the cluster) a new issuer in the Secret is taken live, a bad one refused by name', async () => {
    for (const k of [...api.objects.keys()]) if (k.startsWith('secrets/') || k.startsWith('configmaps/')) api.objects.delete(k);
    const ca = await createCa();
    const put = (kind: 'secrets' | 'configmaps', name: string, body: Record<string, unknown>) => {
      const existing = api.objects.get(`${kind}/linnet/${name}`);
      api.objects.set(`${kind}/linnet/${name}`, { apiVersion: 'v1', kind: kind === 'secrets' ? 'Secret' : 'ConfigMap', metadata: { name, namespace: 'linnet', resourceVersion: String(Number(existing?.metadata.resourceVersion ?? 0) + 1000) }, ...body } as never);
    };
    put('configmaps', 'linnet-identity-trust-roots', { data: { 'ca-bundle.crt': ca.anchorPem } });
    put('secrets', 'linnet-identity-issuer', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(ca.issuerPem), 'tls.key': b64(ca.issuerKeyPem) } });
    const posts = api.writes.POST;
    const c = await control(['--identity-external-issuer', '--identity-poll', '100ms']);
    try {
      assert.equal(api.writes.POST, posts, 'nothing bootstrapped on the external-issuer path');
      assert.equal(secret('linnet-trust-anchor'), undefined);
      const refusals: Error[] = [];
      c.identity!.manager.on('refused', (e) => refusals.push(e));
      // cert-manager renews: a new key and certificate in the same Secret.
      const next = await createIssuer(ca.anchorPem, ca.anchorKeyPem, { issuerLifetimeMs: 30 * 86_400_000 });
      put('secrets', 'linnet-identity-issuer', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(next.issuerPem), 'tls.key': b64(next.issuerKeyPem) } });
      const serial = new X509Certificate(next.issuerPem).serialNumber;
      await until('the renewed issuer', () => c.identity!.manager.current().issuer.serialNumber === serial);
      assert.equal((await leafFrom(c.identityPort!)).issuer.serialNumber, serial);
      // An issuer from another PKI: refused, naming the Secret and the check.
      const foreign = await createCa();
      put('secrets', 'linnet-identity-issuer', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(foreign.issuerPem), 'tls.key': b64(foreign.issuerKeyPem) } });
      await until('a refusal', () => refusals.length > 0);
      assert.match(refusals[0]!.message, /^refused Secret linnet\/linnet-identity-issuer \(tls\.crt\): check "the issuer is signed by an anchor in the bundle" failed/);
      assert.equal(c.identity!.manager.current().issuer.serialNumber, serial, 'still signing with the good one');
      assert.equal((await leafFrom(c.identityPort!)).issuer.serialNumber, serial);
    } finally {
      await c.stop();
    }
  });
});
