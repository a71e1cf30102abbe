/**
 * The Kubernetes policy source against a real HTTPS API server speaking the real list and watch
 * JSON (test/fake-kube-api.ts), served over real gRPC and read by the proxy's policy client:
 * Linkerd's resources and a pod (labels, named port, probes, the namespace's default-policy
 * annotation) become the port's policy; a watch event changes it at the proxy; a 410 Gone makes
 * the source relist and catch up; a resource Linnet cannot read is left out, the rest served.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../core/log';
import { decideRequest, DEFAULT_CLUSTER, type RequestView } from '../core/policy/model';
import { parseIp } from '../core/policy/net';
import { createKubernetesPolicySource } from '../control/policy/kubernetes-source';
import { createPolicyService } from '../control/policy/server';
import type { PolicySource } from '../control/policy/source';
import { InboundPolicies } from '../proxy/inbound/policy/client';
import { startFakeKubeApi, type FakeKubeApi } from './fake-kube-api';

const NS = 'emojivoto';
const ID = (sa: string) => `${sa}.${NS}.serviceaccount.identity.linnet.cluster.local`;
const req = (path: string): RequestView => ({ method: 'GET', path, query: '', host: 'web', header: () => undefined });

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-0', namespace: NS, labels: { app: 'web' } },
  spec: {
    serviceAccountName: 'web',
    containers: [
      { name: 'app', image: 'app', ports: [{ name: 'http', containerPort: 8080 }], livenessProbe: { httpGet: { path: '/live', port: 'http' } }, readinessProbe: { httpGet: { path: '/ready', port: 8080 } } },
      { name: 'linnet-proxy', image: 'linnet' },
    ],
  },
  status: { phase: 'Running', podIP: '10.1.0.5' },
};
const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, annotations: { 'config.linkerd.io/default-inbound-policy': 'cluster-authenticated' } } };
const serverRes = { apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: { name: 'web-http', namespace: NS, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { podSelector: { matchLabels: { app: 'web' } }, port: 'http', proxyProtocol: 'HTTP/1' } };
const policy = (name: string, mtls: string) => ({
  apiVersion: 'policy.linkerd.io/v1alpha1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace: NS },
  spec: { targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'web-http' }, requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: mtls }] },
});
const mtls = (name: string, sa: string) => ({ apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'MeshTLSAuthentication', metadata: { name, namespace: NS }, spec: { identityRefs: [{ kind: 'ServiceAccount', name: sa }] } });

describe('policy from Kubernetes: list + watch → InboundServerPolicies → proxy', () => {
  let api: FakeKubeApi;
  let dir: string;
  let source: PolicySource;
  let server: grpc.Server;
  let client: InboundPolicies;
  const allowed = (sa: string | undefined, path = '/x') => decideRequest(client.get(8080).policy, { ip: parseIp('10.1.0.9'), identity: sa && ID(sa) }, req(path), false).allowed;
  const until = async (what: string, f: () => boolean, ms = 3000) => {
    const t0 = Date.now();
    while (!f()) {
      if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return Date.now() - t0;
  };

  before(async () => {
    api = await startFakeKubeApi();
    dir = await mkdtemp(join(tmpdir(), 'linnet-kpolicy-'));
    api.apply('namespaces', namespace);
    api.apply('pods', pod);
    api.apply('servers', serverRes);
    api.apply('authorizationpolicies', policy('emoji', 'emoji-sa'));
    api.apply('meshtlsauthentications', mtls('emoji-sa', 'emoji'));
    const k8s = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(api.writeKubeconfig(dir));
    source = await createKubernetesPolicySource({ kubeConfig: kc, syncTimeoutMs: 5000, retryBaseMs: 100, log: createLogger('error', 'test') });
    server = new grpc.Server();
    const svc = createPolicyService({ source, settings: { defaultPolicy: 'all-unauthenticated', clusterNetworks: DEFAULT_CLUSTER, identityDomain: 'identity.linnet.cluster.local' } });
    server.addService(svc.service, svc.implementation);
    const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
    client = new InboundPolicies({ addr: `127.0.0.1:${port}`, workload: `${NS}:web-0`, defaultPolicy: 'deny', clusterNetworks: DEFAULT_CLUSTER, ports: [8080, 9090] }, createLogger('error', 'test'));
    assert.ok(await client.ready(8080, 5000));
    assert.ok(await client.ready(9090, 5000));
  });
  after(async () => {
    client?.close();
    server?.forceShutdown();
    await source?.close();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the named port\'s Server, its policy by ServiceAccount, and the pod\'s probes', () => {
    assert.deepEqual(client.get(8080).policy.server, { kind: 'server', name: 'web-http' });
    assert.ok(allowed('emoji'));
    assert.ok(!allowed('voting'));
    assert.ok(!allowed(undefined));
    assert.ok(allowed(undefined, '/live') && allowed(undefined, '/ready'), 'kubelet probes stay open');
  });

  it('a port no Server names gets the namespace\'s default-inbound-policy annotation', () => {
    assert.deepEqual(client.get(9090).policy.server, { kind: 'default', name: 'cluster-authenticated' });
  });

  it('watch events reach the proxy: a new policy allows, a deleted one no longer does', async () => {
    api.apply('authorizationpolicies', policy('voting', 'voting-sa'));
    api.apply('meshtlsauthentications', mtls('voting-sa', 'voting'));
    const ms = await until('voting allowed', () => allowed('voting'), 1000);
    process.stdout.write(`# watch event applied at the proxy in ${ms} ms\n`);
    api.remove('authorizationpolicies', NS, 'emoji');
    await until('emoji no longer allowed', () => !allowed('emoji'), 1000);
  });

  it('a 410 Gone: the source relists and catches up with what it missed', async () => {
    api.applySilently('authorizationpolicies', policy('emoji', 'emoji-sa'));
    api.compact();
    api.dropWatches();
    await until('relisted: emoji allowed again', () => allowed('emoji'), 5000);
    assert.ok(api.requests.authorizationpolicies.list >= 2);
  });

  it('a resource Linnet cannot read is left out; the rest is served', async () => {
    api.apply('servers', { ...serverRes, metadata: { ...serverRes.metadata, name: 'broken', creationTimestamp: '2025-01-01T00:00:00Z' }, spec: { ...serverRes.spec, proxyProtocol: 'HTTP/9' } });
    api.apply('authorizationpolicies', policy('late', 'emoji-sa'));
    await until('late policy applied', () => client.get(8080).policy.routes.some((r) => r.authorizations.some((a) => a.name === 'late')));
    assert.deepEqual(client.get(8080).policy.server, { kind: 'server', name: 'web-http' }, 'the older but broken Server is not used');
  });
});
