/**
 * The injector webhook over real HTTPS (TLS 1.2+), with AdmissionReview v1 and v1beta1 payloads
 * in the shape the API server sends (a ReplicaSet-owned Pod with generateName, defaults filled in,
 * a kube-api-access volume). Namespace annotations come from a real HTTPS server standing in for
 * the Kubernetes API, read through the same client the webhook uses in a cluster.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { webhookCerts, type WebhookCerts } from '../install/certs';
import { describeProblems, validateObject } from '../install/validate';
import { applyPatch, type PatchOp } from './json-patch';
import { kubeNamespaceLookup } from './kube-namespaces';
import { INIT_CONTAINER, PROXY_CONTAINER } from './sidecar';
import { createInjectorServer } from './webhook';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ANCHORS = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';
const TOKEN = 'test-token-123';
const NAMESPACES: Record<string, Record<string, string>> = {
  shop: { 'linnet.io/inject': 'enabled', 'config.linnet.io/proxy-log-level': 'warn' },
  plain: {},
  legacy: { 'linkerd.io/inject': 'enabled' },
};

let apiCerts: WebhookCerts;
let hookCerts: WebhookCerts;
let api: Server;
let hook: Server;
let hookPort: number;
/** What the server's trust-bundle getter answers (an anchor rotation changes it under a running injector). */
let currentAnchors: string | undefined;
const logs: string[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

before(async () => {
  apiCerts = await webhookCerts('kubernetes', 'default', { extraIps: ['127.0.0.1'] });
  hookCerts = await webhookCerts('linnet-proxy-injector', 'linnet', { extraDns: ['localhost'], extraIps: ['127.0.0.1'] });
  api = createServer({ cert: apiCerts.certPem, key: apiCerts.keyPem }, (req, res) => {
    const m = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(req.url ?? '');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    const ns = m ? NAMESPACES[decodeURIComponent(m[1]!)] : undefined;
    if (!ns) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: m![1], annotations: ns } }));
  });
  const apiPort = await listen(api);
  hook = createInjectorServer({
    cert: hookCerts.certPem,
    key: hookCerts.keyPem,
    trustAnchorsPem: ANCHORS,
    trustAnchors: () => currentAnchors,
    version: 'v-test',
    namespaceAnnotations: kubeNamespaceLookup({ server: `https://127.0.0.1:${apiPort}`, token: TOKEN, ca: apiCerts.caPem }),
    log: (l) => logs.push(l),
  });
  hookPort = await listen(hook);
});

after(() => {
  hook.close();
  api.close();
});

function post(body: unknown, path = '/inject'): Promise<{ status: number; json: Json }> {
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: hookPort, path, method: 'POST', ca: hookCerts.caPem, servername: 'linnet-proxy-injector.linnet.svc', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** A Pod as the API server hands it to mutating webhooks: defaults applied, no name yet. */
function apiServerPod(namespace: string, annotations?: Record<string, string>, specExtra: Json = {}): Json {
  const metadata: Json = {
    generateName: 'web-7d9c6b5f4-',
    namespace,
    creationTimestamp: null,
    labels: { app: 'web', 'pod-template-hash': '7d9c6b5f4' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c6b5f4', uid: '3f1e7c6a-1d2b-4c3d-9e8f-0a1b2c3d4e5f', controller: true, blockOwnerDeletion: true }],
  };
  if (annotations) metadata.annotations = annotations;
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata,
    spec: {
      volumes: [
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: [
        {
          name: 'app',
          image: 'nginx:1.25',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          resources: {},
          volumeMounts: [{ name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      ...specExtra,
    },
    status: {},
  };
}

let uidSeq = 0;
function review(apiVersion: 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1', pod: Json): Json {
  const gvk = { group: '', version: 'v1', kind: 'Pod' };
  const gvr = { group: '', version: 'v1', resource: 'pods' };
  return {
    kind: 'AdmissionReview',
    apiVersion,
    request: {
      uid: `0d5a6b2e-${String(++uidSeq).padStart(4, '0')}-4b6a-9d3c-7f1e2a3b4c5d`,
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      name: '',
      namespace: pod.metadata.namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'a1b2', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

function patched(reviewReq: Json, res: Json): Json {
  const r = res.response;
  assert.equal(r.patchType, 'JSONPatch');
  const ops = JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as PatchOp[];
  return applyPatch(reviewReq.request.object, ops) as Json;
}

function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  return v;
}

for (const version of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const) {
  test(`${version}: a Pod CREATE in an annotated namespace gets the sidecar as a JSONPatch`, async () => {
    const req = review(version, apiServerPod('shop'));
    const { status, json } = await post(req);
    assert.equal(status, 200);
    assert.equal(json.apiVersion, version);
    assert.equal(json.kind, 'AdmissionReview');
    assert.equal(json.response.uid, req.request.uid);
    assert.equal(json.response.allowed, true);
    const pod = patched(req, json);
    assert.deepEqual(pod.spec.containers.map((c: Json) => c.name), [PROXY_CONTAINER, 'app']);
    assert.equal(pod.spec.initContainers[0].name, INIT_CONTAINER);
    assert.equal(pod.metadata.labels['linnet.io/proxy-replicaset'], 'web-7d9c6b5f4');
    assert.equal(pod.metadata.labels['linnet.io/workload-ns'], 'shop');
    assert.equal(pod.metadata.annotations['linnet.io/proxy-version'], 'v-test');
    const env = Object.fromEntries(pod.spec.containers[0].env.map((e: Json) => [e.name, e.value]));
    assert.equal(env.LINNET_PROXY_LOG, 'warn', 'namespace config applies');
    assert.equal(env.LINNET_PROXY_IDENTITY_TRUST_ANCHORS, ANCHORS);
    // The kube-api-access volume the API server added is kept; ours are appended.
    assert.equal(pod.spec.volumes[0].name, 'kube-api-access-x7k2p');
    assert.deepEqual(describeProblems(pod, validateObject(withoutNulls(pod))), []);
  });
}

test('a Pod CREATE in an unannotated namespace is allowed unchanged', async () => {
  const { json } = await post(review('admission.k8s.io/v1', apiServerPod('plain')));
  assert.equal(json.response.allowed, true);
  assert.equal(json.response.patch, undefined);
  assert.equal(json.response.warnings, undefined);
});

test('a Pod overrides its namespace both ways', async () => {
  const optOut = await post(review('admission.k8s.io/v1', apiServerPod('shop', { 'linnet.io/inject': 'disabled' })));
  assert.equal(optOut.json.response.patch, undefined);
  const optInReq = review('admission.k8s.io/v1', apiServerPod('plain', { 'linnet.io/inject': 'enabled', 'config.linnet.io/skip-outbound-ports': '5432' }));
  const optIn = await post(optInReq);
  const pod = patched(optInReq, optIn.json);
  assert.ok(pod.spec.initContainers[0].args.join(' ').includes('--outbound-ports-to-ignore 5432'));
  // The linkerd alias on a namespace counts too.
  const aliasReq = review('admission.k8s.io/v1beta1', apiServerPod('legacy'));
  assert.equal(patched(aliasReq, (await post(aliasReq)).json).spec.containers[0].name, PROXY_CONTAINER);
});

test('a Pod to skip (hostNetwork) is allowed unchanged', async () => {
  const { json } = await post(review('admission.k8s.io/v1', apiServerPod('shop', undefined, { hostNetwork: true })));
  assert.equal(json.response.allowed, true);
  assert.equal(json.response.patch, undefined);
  assert.ok(logs.some((l) => l.includes('skipped: hostNetwork is enabled')));
});

test('requests it cannot handle get allowed: true, no patch and a warning, and the server lives on', async () => {
  const bad = review('admission.k8s.io/v1', apiServerPod('shop', { 'config.linnet.io/skip-inbound-ports': 'eighty' }));
  const r1 = await post(bad);
  assert.equal(r1.json.response.allowed, true);
  assert.equal(r1.json.response.uid, bad.request.uid);
  assert.equal(r1.json.response.patch, undefined);
  assert.match(r1.json.response.warnings[0], /skip-inbound-ports.*eighty.*admitted without the proxy/);

  const r2 = await post('{ not json');
  assert.equal(r2.status, 200);
  assert.equal(r2.json.response.allowed, true);
  assert.match(r2.json.response.warnings[0], /not an AdmissionReview/);

  const r3 = await post({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'shop', object: 'nonsense' } });
  assert.equal(r3.json.response.allowed, true);
  assert.equal(r3.json.response.uid, 'u1');

  const r4 = await post(review('admission.k8s.io/v1', { ...apiServerPod('shop'), spec: { containers: 'oops' } }));
  assert.equal(r4.json.response.allowed, true);
  assert.match(r4.json.response.warnings[0], /containers/);

  // A namespace the API does not know: a warning, and the pod's own annotation still counts.
  const gone = review('admission.k8s.io/v1', apiServerPod('vanished', { 'linnet.io/inject': 'enabled' }));
  const r5 = await post(gone);
  assert.equal(patched(gone, r5.json).spec.containers[0].name, PROXY_CONTAINER);
  assert.match(r5.json.response.warnings[0], /namespace vanished could not be read.*404/);

  // Not a pod, or not a CREATE: allowed, quietly.
  const upd = review('admission.k8s.io/v1', apiServerPod('shop'));
  upd.request.operation = 'UPDATE';
  assert.equal((await post(upd)).json.response.patch, undefined);

  // Still serving after all that.
  const ok = await post(review('admission.k8s.io/v1', apiServerPod('shop')));
  assert.equal(ok.json.response.patchType, 'JSONPatch');
});

test('the webhook speaks TLS 1.2 or newer only, and serves /live', async () => {
  const version = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: hookPort, ca: hookCerts.caPem, servername: 'linnet-proxy-injector.linnet.svc', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, () => {
      resolve(s.getProtocol() ?? '');
      s.end();
    });
    s.on('error', reject);
  });
  assert.equal(version, 'TLSv1.2');
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: hookPort, ca: hookCerts.caPem, servername: 'linnet-proxy-injector.linnet.svc', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }, () => {
        s.end();
        resolve();
      });
      s.on('error', reject);
    }),
  );
  const live = await new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port: hookPort, path: '/live', ca: hookCerts.caPem, servername: 'linnet-proxy-injector.linnet.svc' }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    })
      .on('error', reject)
      .end();
  });
  assert.equal(live, 200);
});

test('`linnet inject --serve` (the injector Deployment\'s command) serves reviews and stops on SIGTERM', async () => {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createServer: createTcp } = await import('node:net');
  const dir = mkdtempSync(join(tmpdir(), 'linnet-serve-'));
  try {
    writeFileSync(join(dir, 'tls.crt'), hookCerts.certPem);
    writeFileSync(join(dir, 'tls.key'), hookCerts.keyPem);
    writeFileSync(join(dir, 'ca.crt'), ANCHORS);
    const port = await new Promise<number>((resolve) => {
      const s = createTcp().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const bin = join(__dirname, '..', '..', '..', 'bin', 'linnet');
    const child = spawn(process.execPath, [bin, 'inject', '--serve', '--listen', `127.0.0.1:${port}`, '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--identity-trust-anchors-file', join(dir, 'ca.crt')], {
      env: { ...process.env, KUBERNETES_SERVICE_HOST: '' },
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString('utf8');
        if (stderr.includes('listening on')) resolve();
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const saved = hookPort;
    hookPort = port;
    try {
      // Outside a cluster the namespace cannot be read: a warning, and the pod's annotation counts.
      const req = review('admission.k8s.io/v1', apiServerPod('anywhere', { 'linnet.io/inject': 'enabled' }));
      const { json } = await post(req);
      assert.equal(patched(req, json).spec.containers[0].name, PROXY_CONTAINER);
      assert.match(json.response.warnings[0], /could not be read.*not running in a cluster/);
    } finally {
      hookPort = saved;
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /admission .*: injected/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the trust bundle is read per review: after an anchor rotation new pods get the new bundle', async () => {
  const rotated = ANCHORS + ANCHORS; // old + new, as ca-bundle.crt holds during a rotation
  currentAnchors = rotated;
  try {
    const req = review('admission.k8s.io/v1', apiServerPod('shop'));
    const env = Object.fromEntries(patched(req, (await post(req)).json).spec.containers[0].env.map((e: Json) => [e.name, e.value]));
    assert.equal(env.LINNET_PROXY_IDENTITY_TRUST_ANCHORS, rotated);
  } finally {
    currentAnchors = undefined;
  }
});
