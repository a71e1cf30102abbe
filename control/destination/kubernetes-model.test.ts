import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import { identityFor, isMeshed, meshFromKubernetes, opaquePortsOf, ownerLabels, podOpaquePorts } from './kubernetes-model';
import { indexMesh, resolve } from './model';

const services: V1Service[] = [
  {
    metadata: { name: 'web', namespace: 'demo', annotations: { 'config.linkerd.io/opaque-ports': '6379', 'config.linnet.io/opaque-ports': '3306' } },
    spec: { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80 }, { name: 'db', port: 3306 }, { name: 'dns', port: 53, protocol: 'UDP' }] },
  },
  { metadata: { name: 'ext', namespace: 'demo' }, spec: { type: 'ExternalName', externalName: 'example.com' } },
  { metadata: { name: 'headless', namespace: 'demo' }, spec: { clusterIP: 'None', ports: [{ port: 9000 }] } },
];
const slices: V1EndpointSlice[] = [
  {
    metadata: { name: 'web-1', namespace: 'demo', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }, { name: 'db', port: 3306 }],
    endpoints: [
      { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'web-a', namespace: 'demo' } },
      { addresses: ['10.0.0.2'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'web-b', namespace: 'demo' } },
      { addresses: ['10.0.0.3'], targetRef: { kind: 'Pod', name: 'web-c', namespace: 'demo' } },
    ],
  },
  {
    metadata: { name: 'headless-1', namespace: 'demo', labels: { 'kubernetes.io/service-name': 'headless' } },
    addressType: 'IPv4',
    ports: [{ port: 9000 }],
    endpoints: [{ addresses: ['10.0.0.4'] }],
  },
  // Another namespace's slice for a service of the same name is not ours.
  { metadata: { name: 'web-x', namespace: 'other', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.9.9.9'] }] },
];
const pods: V1Pod[] = [
  { metadata: { name: 'web-a', namespace: 'demo', annotations: { 'linnet.io/proxy-version': 'v1' } }, spec: { serviceAccountName: 'web', containers: [{ name: 'app' }] }, status: { phase: 'Running', podIP: '10.0.0.1' } },
  { metadata: { name: 'web-c', namespace: 'demo' }, spec: { containers: [{ name: 'app' }, { name: 'linkerd-proxy' }] }, status: { phase: 'Running', podIP: '10.0.0.3' } },
  { metadata: { name: 'job', namespace: 'demo' }, spec: { serviceAccountName: 'batch', containers: [{ name: 'app' }, { name: 'linnet-proxy' }] }, status: { phase: 'Running', podIP: '10.0.0.7' } },
  { metadata: { name: 'done', namespace: 'demo' }, spec: { containers: [{ name: 'app' }] }, status: { phase: 'Succeeded', podIP: '10.0.0.8' } },
];

describe('meshFromKubernetes', () => {
  const state = meshFromKubernetes(services, slices, pods);
  const index = indexMesh(state);

  it('one service per non-ExternalName Service, with cluster IPs and TCP ports', () => {
    assert.deepEqual(state.services.map((s) => [s.name, s.addresses, s.ports]), [
      ['web.demo.svc.cluster.local', ['10.96.0.10'], [80, 3306]],
      ['headless.demo.svc.cluster.local', [], [9000]],
    ]);
  });

  it('ready endpoints only, ports mapped by name, identity from the service account of meshed pods', () => {
    const r = resolve(index, { kind: 'name', name: 'web.demo.svc.cluster.local', port: 80 });
    assert.deepEqual([...r.endpoints.keys()], ['10.0.0.1:8080', '10.0.0.3:8080']);
    assert.equal(r.endpoints.get('10.0.0.1:8080')!.identity, 'web.demo.serviceaccount.identity.linnet.cluster.local');
    // No serviceAccountName → "default".
    assert.equal(r.endpoints.get('10.0.0.3:8080')!.identity, 'default.demo.serviceaccount.identity.linnet.cluster.local');
    assert.deepEqual(r.setLabels, { namespace: 'demo', service: 'web' });
  });

  it('the Linnet opaque-ports annotation wins over the Linkerd one', () => {
    assert.equal(resolve(index, { kind: 'name', name: 'web.demo.svc.cluster.local', port: 3306 }).opaque, true);
    assert.deepEqual([...opaquePortsOf(services[0]!.metadata!.annotations)], [3306]);
    assert.deepEqual([...opaquePortsOf({ 'config.linkerd.io/opaque-ports': '6379' })], [6379]);
    const warnings: string[] = [];
    opaquePortsOf({ 'config.linnet.io/opaque-ports': '1,zz' }, (m) => warnings.push(m));
    assert.match(warnings[0]!, /ignoring zz/);
  });

  it('running pods outside every service are reachable by IP, others are not', () => {
    assert.equal(resolve(index, { kind: 'ip', ip: '10.0.0.7', port: 5000 }).single?.identity, 'batch.demo.serviceaccount.identity.linnet.cluster.local');
    assert.equal(resolve(index, { kind: 'ip', ip: '10.0.0.8', port: 5000 }).exists, false);
    assert.equal(resolve(index, { kind: 'ip', ip: '10.0.0.2', port: 8080 }).exists, false);
  });

  it('naming follows the trust domain, control namespace and cluster domain', () => {
    const n = { clusterDomain: 'k.internal', trustDomain: 'example.org', controlNamespace: 'mesh' };
    assert.equal(identityFor('sa', 'ns', n), 'sa.ns.serviceaccount.identity.mesh.example.org');
    assert.equal(meshFromKubernetes(services, slices, pods, n).services[0]!.name, 'web.demo.svc.k.internal');
    assert.equal(isMeshed(pods[0]!), true);
    assert.equal(isMeshed(pods[3]!), false);
  });
});

describe('podOpaquePorts', () => {
  const pod = (env?: string, annotation?: string): V1Pod => ({
    metadata: { name: 'db-0', namespace: 'demo', ...(annotation !== undefined ? { annotations: { 'config.linnet.io/opaque-ports': annotation } } : {}) },
    spec: { containers: [{ name: 'db' }, { name: 'linnet-proxy', ...(env !== undefined ? { env: [{ name: 'LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', value: env }] } : {}) }] },
  });
  it("reads the pod's proxy configuration first: what its proxy really does", () => {
    assert.deepEqual([...podOpaquePorts(pod('25,3306,22', '9999'))!].sort((a, b) => a - b), [22, 25, 3306]);
  });
  it('then the annotation; an empty one means no opaque ports', () => {
    assert.deepEqual([...podOpaquePorts(pod(undefined, '9999'))!], [9999]);
    assert.deepEqual([...podOpaquePorts(pod(undefined, ''))!], []);
  });
  it('says nothing when neither does (the model applies the default list)', () => {
    assert.equal(podOpaquePorts(pod()), undefined);
  });
});

describe('appProtocol on Service ports', () => {
  const svc: V1Service = {
    metadata: { name: 'mail', namespace: 'demo' },
    spec: {
      clusterIP: '10.96.0.25',
      ports: [
        { name: 'smtp', port: 2525, appProtocol: 'linkerd.io/opaque' },
        { name: 'web', port: 80, appProtocol: 'http' },
        { name: 'grpc', port: 9090, appProtocol: 'kubernetes.io/h2c' },
        { name: 'ws', port: 8081, appProtocol: 'kubernetes.io/ws' },
        { name: 'db', port: 5000, appProtocol: 'mysql' },
        { name: 'plain', port: 7000 },
      ],
    },
  };
  const slice: V1EndpointSlice = {
    metadata: { name: 'mail-1', namespace: 'demo', labels: { 'kubernetes.io/service-name': 'mail' } },
    addressType: 'IPv4',
    ports: svc.spec!.ports!.map((p) => ({ name: p.name, port: p.port })),
    endpoints: [{ addresses: ['10.0.1.1'], targetRef: { kind: 'Pod', name: 'mail-a', namespace: 'demo' } }],
  };
  const pod: V1Pod = { metadata: { name: 'mail-a', namespace: 'demo' }, spec: { initContainers: [{ name: 'linnet-init' }, { name: 'linnet-proxy' }], containers: [{ name: 'app' }] }, status: { phase: 'Running', podIP: '10.0.1.1' } };
  const state = meshFromKubernetes([svc], [slice], [pod]);

  it('linkerd.io/opaque and unknown values make the port opaque; http, h2c and ws do not', () => {
    assert.deepEqual([...state.services[0]!.opaquePorts].sort((a, b) => a - b), [2525, 5000]);
    const index = indexMesh(state);
    assert.equal(resolve(index, { kind: 'name', name: 'mail.demo.svc.cluster.local', port: 2525 }).opaque, true);
    assert.equal(resolve(index, { kind: 'name', name: 'mail.demo.svc.cluster.local', port: 80 }).opaque, false);
    assert.equal(resolve(index, { kind: 'name', name: 'mail.demo.svc.cluster.local', port: 7000 }).opaque, false);
  });

  it('http and ws declare HTTP/1, h2c HTTP/2: the resolution says so (clients skip detection); undeclared and opaque ports say nothing', () => {
    const index = indexMesh(state);
    const protocolOf = (port: number) => resolve(index, { kind: 'name', name: 'mail.demo.svc.cluster.local', port }).protocol;
    assert.deepEqual([80, 9090, 8081, 2525, 5000, 7000].map(protocolOf), ['http1', 'h2', 'http1', undefined, undefined, undefined]);
    // By the service's virtual IP too.
    assert.equal(resolve(index, { kind: 'ip', ip: '10.96.0.25', port: 9090 }).protocol, 'h2');
  });

  it('a native-sidecar pod (proxy among the init containers) is meshed, and its opaque transport is offered', () => {
    assert.equal(isMeshed(pod), true);
    const r = resolve(indexMesh(state), { kind: 'name', name: 'mail.demo.svc.cluster.local', port: 2525 });
    const ep = r.endpoints.get('10.0.1.1:2525')!;
    assert.equal(ep.identity, 'default.demo.serviceaccount.identity.linnet.cluster.local');
    assert.equal(ep.opaqueTransportPort, 4143);
  });
});

describe('ownerLabels: the destination labels of a pod\'s owner, as Linkerd names them', () => {
  const pod = (kind: string | undefined, name: string, hash?: string): V1Pod => ({
    metadata: {
      name: 'p',
      namespace: 'demo',
      ...(hash ? { labels: { 'pod-template-hash': hash } } : {}),
      ...(kind ? { ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: 'u', controller: true }] } : {}),
    },
  });
  it('a Deployment through its ReplicaSet, the other kinds as they are, none without an owner', () => {
    assert.deepEqual(ownerLabels(pod('ReplicaSet', 'web-5d8f7c9b6', '5d8f7c9b6')), { deployment: 'web', pod_template_hash: '5d8f7c9b6' });
    assert.deepEqual(ownerLabels(pod('ReplicaSet', 'bare-rs')), { replicaset: 'bare-rs' });
    assert.deepEqual(ownerLabels(pod('StatefulSet', 'db')), { statefulset: 'db' });
    assert.deepEqual(ownerLabels(pod('DaemonSet', 'agent')), { daemonset: 'agent' });
    assert.deepEqual(ownerLabels(pod('Job', 'migrate-28001')), { job: 'migrate-28001' });
    assert.deepEqual(ownerLabels(pod(undefined, '')), {});
  });
  it('reaches the endpoints discovery serves', () => {
    const p: V1Pod = { ...pod('ReplicaSet', 'web-abc12', 'abc12'), metadata: { ...pod('ReplicaSet', 'web-abc12', 'abc12').metadata, name: 'web-a' }, spec: { serviceAccountName: 'web', containers: [{ name: 'app' }] }, status: { phase: 'Running', podIP: '10.0.0.1' } };
    const r = resolve(indexMesh(meshFromKubernetes(services, slices, [p])), { kind: 'name', name: 'web.demo.svc.cluster.local', port: 80 });
    assert.deepEqual(r.endpoints.get('10.0.0.1:8080')!.labels, { pod: 'web-a', serviceaccount: 'web', deployment: 'web', pod_template_hash: 'abc12' });
  });
});
