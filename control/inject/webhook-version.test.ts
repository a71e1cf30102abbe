/**
 * The webhook's choice of sidecar form from the API server's version: a real HTTPS server stands
 * in for the API server's GET /version (and namespaces), answering as 1.29, 1.28, a managed
 * cluster's "28+", or failing; the webhook is reached over real HTTPS with AdmissionReviews.
 * Both forms round-trip: the patched pod passes the schema and uninject gives the pod back.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { webhookCerts, type WebhookCerts } from '../install/certs';
import { describeProblems, validateObject } from '../install/validate';
import { applyPatch, type PatchOp } from './json-patch';
import { kubeNamespaceLookup, type KubeApi } from './kube-namespaces';
import { kubeVersionLookup } from './kube-version';
import { INIT_CONTAINER, PROXY_CONTAINER } from './sidecar';
import { uninjectObject } from './transform';
import { createInjectorServer } from './webhook';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TOKEN = 'version-test-token';
let apiCerts: WebhookCerts;
let hookCerts: WebhookCerts;
let api: Server;
let kube: KubeApi;
/** What GET /version answers: a body, or an HTTP status to fail with. */
let versionAnswer: Json | number = { major: '1', minor: '29', gitVersion: 'v1.29.4' };
let versionRequests = 0;
const servers: Server[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

before(async () => {
  apiCerts = await webhookCerts('kubernetes', 'default', { extraIps: ['127.0.0.1'] });
  hookCerts = await webhookCerts('linnet-proxy-injector', 'linnet', { extraIps: ['127.0.0.1'] });
  api = createServer({ cert: apiCerts.certPem, key: apiCerts.keyPem }, (req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    if (req.url === '/version') {
      versionRequests++;
      if (typeof versionAnswer === 'number') return void res.writeHead(versionAnswer).end();
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...versionAnswer, platform: 'linux/amd64' }));
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: m[1], annotations: { 'linnet.io/inject': 'enabled' } } }));
  });
  const port = await listen(api);
  kube = { server: `https://127.0.0.1:${port}`, token: TOKEN, ca: apiCerts.caPem };
});

after(() => {
  for (const s of servers) s.close();
  api.close();
});

async function webhook(o: { failureTtlMs?: number; nativeSidecarDefault?: 'auto' | 'enabled' | 'disabled' } = {}): Promise<number> {
  const hook = createInjectorServer({
    cert: hookCerts.certPem,
    key: hookCerts.keyPem,
    version: 'v-test',
    nativeSidecarDefault: o.nativeSidecarDefault,
    namespaceAnnotations: kubeNamespaceLookup(kube),
    serverVersion: kubeVersionLookup(kube, { failureTtlMs: o.failureTtlMs }),
  });
  servers.push(hook);
  return listen(hook);
}

function post(port: number, body: Json): Promise<Json> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/inject', method: 'POST', ca: hookCerts.caPem, servername: 'linnet-proxy-injector.linnet.svc', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** A Job's pod as the API server hands it to a mutating webhook (defaults filled in). */
function jobPod(annotations?: Record<string, string>): Json {
  const metadata: Json = {
    generateName: 'migrate-',
    namespace: 'jobs',
    labels: { 'batch.kubernetes.io/job-name': 'migrate', 'job-name': 'migrate' },
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'migrate', uid: '6c1d0a3e-8f2b-4d6a-9b1c-2e3f4a5b6c7d', controller: true, blockOwnerDeletion: true }],
  };
  if (annotations) metadata.annotations = annotations;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      initContainers: [{ name: 'wait-db', image: 'busybox:1.36', command: ['sh', '-c', 'until nc -z db 5432; do sleep 1; done'], terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }],
      containers: [{ name: 'migrate', image: 'example/migrate:1', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
    },
  };
}

let seq = 0;
function review(pod: Json): Json {
  const gvk = { group: '', version: 'v1', kind: 'Pod' };
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: { uid: `uid-${++seq}`, kind: gvk, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'jobs', operation: 'CREATE', object: pod, dryRun: false },
  };
}

async function admit(port: number, pod: Json): Promise<{ pod: Json; warnings: string[] }> {
  const res = (await post(port, review(pod))).response;
  assert.equal(res.allowed, true);
  assert.equal(res.patchType, 'JSONPatch', JSON.stringify(res));
  const ops = JSON.parse(Buffer.from(res.patch, 'base64').toString('utf8')) as PatchOp[];
  const out = applyPatch(pod, ops) as Json;
  assert.deepEqual(describeProblems(out, validateObject(out)), [], 'the patched pod passes the 1.29+ schema');
  // Round trip: uninject gives the API server's pod back exactly.
  assert.deepEqual(uninjectObject(out).object, pod);
  return { pod: out, warnings: res.warnings ?? [] };
}

const names = (list: Json[] | undefined) => (list ?? []).map((c) => c.name);

test('API server 1.29: native sidecar after linnet-init, before the pod\'s own init container; /version asked once for many pods', async () => {
  versionAnswer = { major: '1', minor: '29', gitVersion: 'v1.29.4' };
  versionRequests = 0;
  const port = await webhook();
  const results = await Promise.all([1, 2, 3, 4, 5].map(() => admit(port, jobPod())));
  const { pod } = results[0]!;
  assert.deepEqual(names(pod.spec.initContainers), [INIT_CONTAINER, PROXY_CONTAINER, 'wait-db']);
  assert.deepEqual(names(pod.spec.containers), ['migrate']);
  const proxy = pod.spec.initContainers[1];
  assert.equal(proxy.restartPolicy, 'Always');
  assert.deepEqual(proxy.startupProbe.httpGet, { path: '/ready', port: 4191 });
  assert.equal(proxy.lifecycle, undefined, 'no postStart hook: the startupProbe orders the start');
  assert.equal(pod.spec.terminationGracePeriodSeconds, 120);
  assert.equal(versionRequests, 1, 'concurrent reviews share one cached GET /version');
  await admit(port, jobPod());
  assert.equal(versionRequests, 1);
});

test('API server 1.28 (managed "28+"): classic sidecar, proxy first with the await hook; the annotation can still ask for native', async () => {
  versionAnswer = { major: '1', minor: '28+', gitVersion: 'v1.28.9-eks-036c24b' };
  const port = await webhook();
  const { pod } = await admit(port, jobPod());
  assert.deepEqual(names(pod.spec.initContainers), [INIT_CONTAINER, 'wait-db']);
  assert.deepEqual(names(pod.spec.containers), [PROXY_CONTAINER, 'migrate']);
  assert.deepEqual(pod.spec.containers[0].lifecycle.postStart.exec.command, ['/linnet/bin/linnet', 'await', '--timeout', '2m']);
  assert.equal(pod.spec.containers[0].restartPolicy, undefined);

  const asked = await admit(port, jobPod({ 'config.linkerd.io/proxy-enable-native-sidecar': 'true' }));
  assert.deepEqual(names(asked.pod.spec.initContainers), [INIT_CONTAINER, PROXY_CONTAINER, 'wait-db']);
  assert.ok(asked.warnings.some((w) => /SidecarContainers feature gate/.test(w)), asked.warnings.join('; '));
});

test('API server 1.27 with native asked for: classic, and the review says why', async () => {
  versionAnswer = { major: '1', minor: '27', gitVersion: 'v1.27.16' };
  const port = await webhook({ nativeSidecarDefault: 'enabled' });
  const { pod, warnings } = await admit(port, jobPod());
  assert.deepEqual(names(pod.spec.containers), [PROXY_CONTAINER, 'migrate']);
  assert.ok(warnings.some((w) => /API server is 1\.27.*classic/.test(w)), warnings.join('; '));
});

test('/version failing: classic sidecar, the pod still admitted; asked again after the failure TTL', async () => {
  versionAnswer = 500;
  versionRequests = 0;
  const port = await webhook({ failureTtlMs: 200 });
  const { pod } = await admit(port, jobPod());
  assert.deepEqual(names(pod.spec.containers), [PROXY_CONTAINER, 'migrate']);
  await admit(port, jobPod());
  assert.equal(versionRequests, 1, 'a failure is cached too');
  versionAnswer = { major: '1', minor: '30' };
  await new Promise((r) => setTimeout(r, 250));
  const later = await admit(port, jobPod());
  assert.deepEqual(names(later.pod.spec.initContainers), [INIT_CONTAINER, PROXY_CONTAINER, 'wait-db']);
  assert.equal(versionRequests, 2);
});

test('install default disabled: classic even on 1.30, and the annotation wins over it', async () => {
  versionAnswer = { major: '1', minor: '30' };
  const port = await webhook({ nativeSidecarDefault: 'disabled' });
  assert.deepEqual(names((await admit(port, jobPod())).pod.spec.containers), [PROXY_CONTAINER, 'migrate']);
  const native = await admit(port, jobPod({ 'config.linnet.io/proxy-enable-native-sidecar': 'enabled' }));
  assert.deepEqual(names(native.pod.spec.containers), ['migrate']);
});

test('not in a cluster (the API lookup throws at once): undefined, and asked again after the failure TTL', async () => {
  let calls = 0;
  const errors: string[] = [];
  const lookup = kubeVersionLookup(
    () => {
      calls++;
      if (calls === 1) throw new Error('KUBERNETES_SERVICE_HOST is not set');
      return kube;
    },
    { failureTtlMs: 50, onError: (e) => errors.push(e.message) },
  );
  versionAnswer = { major: '1', minor: '31' };
  assert.equal(await lookup(), undefined);
  assert.deepEqual(errors, ['KUBERNETES_SERVICE_HOST is not set']);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(await lookup(), { major: 1, minor: 31 });
  assert.equal(calls, 2);
});
