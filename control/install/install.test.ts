/**
 * `linnet install` / `uninstall` through the real CLI: every object printed passes the Kubernetes
 * schema (strict fields); the pieces fit (caBundle signs the serving certificate, the Secret
 * layout is what the identity module loads, selectors exclude kube-system and the control plane);
 * given certificates are used and checked; and the cert-manager path renews the issuer before
 * `linnet check` would ever warn.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { checkIdentity } from '../check/cert-checks';
import { createCa, loadIssuer } from '../identity/ca';
import { importPrivateKeyPem, randomSerial, x509 } from '../identity/keys';
import { IDENTITY_OBJECTS } from '../identity/kube-store';
import { describeProblems, validateObject } from './validate';

const BIN = join(__dirname, '..', '..', '..', 'bin', 'linnet');
const tmp = mkdtempSync(join(tmpdir(), 'linnet-install-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function linnet(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function objects(text: string): Json[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Json).filter(Boolean);
}

const find = (objs: Json[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} is printed`);
  return o!;
};
const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

function assertAllValid(objs: Json[]) {
  for (const o of objs) assert.deepEqual(describeProblems(o, validateObject(o)), [], `${o.kind} ${o.metadata?.name}`);
}

test('linnet install prints a complete, schema-valid control plane with no key in it, the same bytes every time', async () => {
  const r = linnet(['install']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'nothing generated, nothing to warn about');
  // GitOps: a second render (and a JSON one twice) is byte for byte the first: no drift on sync.
  const again = linnet(['install']);
  assert.ok(Buffer.from(again.stdout).equals(Buffer.from(r.stdout)), 'two renders differ');
  assert.ok(Buffer.from(linnet(['install', '-o', 'json']).stdout).equals(Buffer.from(linnet(['install', '-o', 'json']).stdout)));
  assert.doesNotMatch(r.stdout, /PRIVATE KEY|BEGIN CERTIFICATE|caBundle/, 'no key or certificate in the output');
  const objs = objects(r.stdout);
  assertAllValid(objs);
  assert.ok(!objs.some((o) => o.kind === 'Secret'), 'no Secret at all');
  assert.ok(!objs.some((o) => o.kind === 'ConfigMap'), 'the bundle ConfigMap is the control plane\'s to create');
  const kinds = new Set(objs.map((o) => o.kind));
  for (const k of ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'Service', 'MutatingWebhookConfiguration']) assert.ok(kinds.has(k), k);

  // RBAC: the identity service may create TokenReviews, and make and update its own Secrets and ConfigMap.
  const role = find(objs, 'ClusterRole', 'linnet-linnet-control');
  assert.ok(role.rules.some((x: Json) => x.apiGroups.includes('authentication.k8s.io') && x.resources.includes('tokenreviews') && x.verbs.includes('create')));
  assert.ok(role.rules.some((x: Json) => x.resources.includes('mutatingwebhookconfigurations') && x.verbs.includes('patch') && x.resourceNames.includes('linnet-proxy-injector-webhook-config')));
  const idRole = find(objs, 'Role', 'linnet-control-identity');
  for (const name of ['linnet-trust-anchor', 'linnet-identity-issuer', 'linnet-proxy-injector-k8s-tls']) {
    assert.ok(idRole.rules.some((x: Json) => x.resources.includes('secrets') && x.resourceNames?.includes(name) && x.verbs.includes('update')), name);
  }
  assert.ok(idRole.rules.some((x: Json) => x.resources.includes('configmaps') && x.resourceNames?.includes('linnet-identity-trust-roots')));
  assert.equal(find(objs, 'RoleBinding', 'linnet-control-identity').subjects[0].name, 'linnet-control');

  // Deployments have probes and resources; the control plane keeps its identity in Secrets.
  for (const name of ['linnet-control', 'linnet-proxy-injector']) {
    const c = find(objs, 'Deployment', name).spec.template.spec.containers[0];
    assert.ok(c.livenessProbe && c.readinessProbe, `${name} probes`);
    assert.ok(c.resources.requests.cpu && c.resources.limits.memory, `${name} resources`);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  }
  const args = find(objs, 'Deployment', 'linnet-control').spec.template.spec.containers[0].args as string[];
  assert.equal(args[args.indexOf('--identity-store') + 1], 'kubernetes');
  assert.ok(!args.includes('--identity-external-issuer'));

  // The webhook: Ignore, v1 + v1beta1, kube-system and linnet excluded; its caBundle is left to
  // the control plane (not rendered, so a GitOps diff never sees it).
  const hook = find(objs, 'MutatingWebhookConfiguration', 'linnet-proxy-injector-webhook-config').webhooks[0];
  assert.equal(hook.failurePolicy, 'Ignore');
  assert.deepEqual(hook.admissionReviewVersions, ['v1', 'v1beta1']);
  const excluded = hook.namespaceSelector.matchExpressions.find((e: Json) => e.key === 'kubernetes.io/metadata.name');
  assert.equal(excluded.operator, 'NotIn');
  assert.deepEqual(excluded.values.sort(), ['kube-system', 'linnet']);
  assert.equal(hook.clientConfig.service.name, 'linnet-proxy-injector');
  assert.equal(hook.clientConfig.caBundle, undefined);
});

test('given certificate files are used as they are, and a mismatched issuer is refused', async () => {
  const ca = await createCa();
  const other = await createCa();
  const f = (name: string, text: string) => {
    writeFileSync(join(tmp, name), text);
    return join(tmp, name);
  };
  const anchors = f('ca.crt', ca.anchorPem);
  const issuerCrt = f('issuer.crt', ca.issuerPem);
  const issuerKey = f('issuer.key', ca.issuerKeyPem);
  const r = linnet(['install', '--identity-trust-anchors-file', anchors, '--identity-issuer-certificate-file', issuerCrt, '--identity-issuer-key-file', issuerKey, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Json;
  assert.equal(list.kind, 'List');
  assertAllValid(list.items);
  assert.equal(find(list.items, 'ConfigMap', 'linnet-identity-trust-roots').data['ca-bundle.crt'], ca.anchorPem);
  assert.equal(b64(find(list.items, 'Secret', 'linnet-identity-issuer').data['tls.crt']), ca.issuerPem);
  // The issuer Secret is laid out as the control plane's Kubernetes store reads it.
  const issuerSecret = find(list.items, 'Secret', 'linnet-identity-issuer');
  const dir = join(tmp, 'as-read');
  mkdirSync(dir);
  writeFileSync(join(dir, 'ca.crt'), find(list.items, 'ConfigMap', 'linnet-identity-trust-roots').data['ca-bundle.crt']);
  writeFileSync(join(dir, 'issuer.crt'), b64(issuerSecret.data['tls.crt']));
  writeFileSync(join(dir, 'issuer.key'), b64(issuerSecret.data['tls.key']));
  assert.ok((await loadIssuer(dir)).issuer.ca);
  // Given files render the same bytes every time too.
  assert.equal(linnet(['install', '--identity-trust-anchors-file', anchors, '--identity-issuer-certificate-file', issuerCrt, '--identity-issuer-key-file', issuerKey, '-o', 'json']).stdout, r.stdout);

  const wrong = linnet(['install', '--identity-trust-anchors-file', anchors, '--identity-issuer-certificate-file', f('o.crt', other.issuerPem), '--identity-issuer-key-file', f('o.key', other.issuerKeyPem)]);
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stdout, '');
  assert.match(wrong.stderr, /LINNET_INSTALL_CERTS: issuer certificate is signed by a trust anchor/);

  const half = linnet(['install', '--identity-trust-anchors-file', anchors]);
  assert.equal(half.code, 1);
  assert.match(half.stderr, /give both --identity-issuer-certificate-file and --identity-issuer-key-file/);
});

/** What cert-manager's CA Issuer does with the Certificate: a new key, signed by the anchor. */
async function issueAsCertManager(anchorPem: string, anchorKeyPem: string, spec: Json, notBefore: number): Promise<string> {
  const hours = (d: string) => Number(/^(\d+)h/.exec(d)![1]) * 3_600_000;
  const anchor = new x509.X509Certificate(anchorPem);
  const { key } = await importPrivateKeyPem(anchorKeyPem, 'anchor');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${spec.commonName}`,
    issuer: anchor.subject,
    notBefore: new Date(notBefore),
    notAfter: new Date(notBefore + hours(spec.duration)),
    publicKey: keys.publicKey,
    signingKey: key,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(spec.isCA, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return cert.toString('pem') + '\n';
}

test('GitOps path: cert-manager makes and renews the issuer from the anchor, before check would warn', async () => {
  const ca = await createCa();
  writeFileSync(join(tmp, 'anchor.crt'), ca.anchorPem);
  const r = linnet(['install', '--identity-external-issuer', '--identity-trust-anchors-file', join(tmp, 'anchor.crt')]);
  assert.equal(r.code, 0, r.stderr);
  const objs = objects(r.stdout);
  assertAllValid(objs); // includes the cert-manager kinds, via @kubernetes-models/cert-manager
  assert.ok(!objs.some((o) => o.kind === 'Secret' && o.metadata.name === 'linnet-identity-issuer'), 'no issuer key in a GitOps repository');
  assert.ok(!objs.some((o) => o.kind === 'Secret' && o.metadata.name === 'linnet-trust-anchor'), 'the anchor key (not given) is not printed');

  // The chain of names: Certificate → the Secret the control plane reads (and only takes, never
  // makes: --identity-external-issuer); its Issuer → the anchor Secret.
  const cert = find(objs, 'Certificate', 'linnet-identity-issuer');
  assert.equal(cert.spec.secretName, IDENTITY_OBJECTS.issuerSecret);
  assert.ok(find(objs, 'Deployment', 'linnet-control').spec.template.spec.containers[0].args.includes('--identity-external-issuer'));
  assert.equal(cert.spec.isCA, true);
  assert.deepEqual(cert.spec.privateKey, { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' });
  const issuer = find(objs, cert.spec.issuerRef.kind, cert.spec.issuerRef.name);
  assert.equal(issuer.spec.ca.secretName, 'linnet-trust-anchor');
  // The webhook's certificate too, with cainjector filling the caBundle.
  const hookCfg = find(objs, 'MutatingWebhookConfiguration', 'linnet-proxy-injector-webhook-config');
  const [ns, certName] = hookCfg.metadata.annotations['cert-manager.io/inject-ca-from'].split('/');
  assert.equal(ns, 'linnet');
  const servingCert = find(objs, 'Certificate', certName);
  const tlsVolume = find(objs, 'Deployment', 'linnet-proxy-injector').spec.template.spec.volumes.find((v: Json) => v.secret).secret.secretName;
  assert.equal(servingCert.spec.secretName, tlsVolume);
  assert.ok(servingCert.spec.dnsNames.includes('linnet-proxy-injector.linnet.svc'));

  // Renewal timing against the 60-day rule of `linnet check`, with the durations as printed.
  const hours = (d: string) => Number(/^(\d+)h/.exec(d)![1]) * 3_600_000;
  const t0 = Date.now();
  const issued = await issueAsCertManager(ca.anchorPem, ca.anchorKeyPem, cert.spec, t0);
  const renewAt = t0 + hours(cert.spec.duration) - hours(cert.spec.renewBefore);
  const status = (now: number) => checkIdentity({ anchorsPem: ca.anchorPem, issuerPem: issued, source: 'cert-manager' }, now).map((x) => x.status);
  assert.deepEqual(status(t0), ['ok', 'ok', 'ok', 'ok', 'ok']);
  assert.deepEqual(status(renewAt - 60_000), ['ok', 'ok', 'ok', 'ok', 'ok'], 'healthy cert-manager: never a warning');
  assert.ok(status(renewAt + 2 * 86_400_000).includes('warn'), 'renewal stuck for 2 days: check warns');
  // The renewed issuer (a fresh key, same anchor) is accepted by the identity loader as mounted.
  const renewed = await issueAsCertManager(ca.anchorPem, ca.anchorKeyPem, cert.spec, renewAt);
  assert.deepEqual(checkIdentity({ anchorsPem: ca.anchorPem, issuerPem: renewed, source: 'renewed' }, renewAt).map((x) => x.status), ['ok', 'ok', 'ok', 'ok', 'ok']);
});

test('without a given anchor, the external-issuer path prints the anchor Secret cert-manager needs', () => {
  const r = linnet(['install', '--identity-external-issuer']);
  assert.equal(r.code, 0, r.stderr);
  const objs = objects(r.stdout);
  assertAllValid(objs);
  const anchor = find(objs, 'Secret', 'linnet-trust-anchor');
  assert.equal(anchor.type, 'kubernetes.io/tls');
  assert.equal(b64(anchor.data['tls.crt']), find(objs, 'ConfigMap', 'linnet-identity-trust-roots').data['ca-bundle.crt']);
});

test('linnet uninstall prints the webhook first and the namespace last, all valid references', () => {
  const r = linnet(['uninstall']);
  assert.equal(r.code, 0, r.stderr);
  const objs = objects(r.stdout);
  assertAllValid(objs);
  assert.equal(objs[0]!.kind, 'MutatingWebhookConfiguration');
  assert.equal(objs.at(-1)!.kind, 'Namespace');
  assert.equal(objs.at(-1)!.metadata.name, 'linnet');
  const installed = objects(linnet(['install']).stdout);
  for (const o of objs) assert.ok(installed.some((i) => i.kind === o.kind && i.metadata.name === o.metadata.name), `${o.kind} ${o.metadata.name} was installed`);
});

test('bad flags are refused before anything is printed', () => {
  for (const args of [['install', '--replicas', '0'], ['install', '--namespace', 'Bad_NS'], ['install', '-o', 'xml'], ['install', '--identity-trust-anchors-file', join(tmp, 'missing.crt')]]) {
    const r = linnet(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /LINNET_INSTALL_INPUT/);
  }
});

test('--native-sidecar sets the injector\'s default form (auto unless given); a bad value is refused', () => {
  const argsOf = (objs: Json[]) => find(objs, 'Deployment', 'linnet-proxy-injector').spec.template.spec.containers[0].args as string[];
  const auto = linnet(['install']);
  const a = argsOf(objects(auto.stdout));
  assert.equal(a[a.indexOf('--native-sidecar') + 1], 'auto');
  const on = linnet(['install', '--native-sidecar', 'enabled']);
  assert.equal(on.code, 0, on.stderr);
  const e = argsOf(objects(on.stdout));
  assert.equal(e[e.indexOf('--native-sidecar') + 1], 'enabled');
  const bad = linnet(['install', '--native-sidecar', 'sometimes']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /LINNET_INSTALL_INPUT.*--native-sidecar sometimes/);
});

test('--default-inbound-policy reaches the policy service and the injector, which writes it into each proxy; a bad value is refused', () => {
  const r = linnet(['install', '--default-inbound-policy', 'all-authenticated']);
  assert.equal(r.code, 0, r.stderr);
  const objs = objects(r.stdout);
  const argsOf = (name: string) => find(objs, 'Deployment', name).spec.template.spec.containers[0].args as string[];
  for (const name of ['linnet-control', 'linnet-proxy-injector']) {
    const a = argsOf(name);
    assert.equal(a[a.indexOf('--default-inbound-policy') + 1], 'all-authenticated', name);
  }
  assert.equal(linnet(['install']).stdout.includes('--default-inbound-policy'), false, 'absent unless given');
  // The injector's own flag, as the Deployment passes it, renders the proxy's variable.
  const dir = mkdtempSync(join(tmpdir(), 'linnet-dip-'));
  const file = join(dir, 'pod.yaml');
  writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]\n');
  const inj = linnet(['inject', '--manual', '--default-inbound-policy', 'all-authenticated', file]);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(inj.code, 0, inj.stderr);
  // (The input's flow style is kept, so the env comes out as flow mappings.)
  assert.match(inj.stdout, /\{name: LINNET_PROXY_INBOUND_DEFAULT_POLICY, value: all-authenticated\}/);
  assert.match(inj.stdout, /\{name: LINNET_PROXY_INBOUND_PORTS, value: "8080"\}/);
  const bad = linnet(['install', '--default-inbound-policy', 'allow']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /LINNET_INSTALL_INPUT.*--default-inbound-policy allow/);
});
