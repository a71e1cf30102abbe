/**
 * Outbound routes from Kubernetes: the policy source against a real HTTPS API server speaking the
 * real list and watch JSON (test/fake-kube-api.ts), served as OutboundPolicies over real gRPC and
 * read by the proxy's client. A Service (cluster IP, ports, route annotations) and an HTTPRoute
 * with it as parent become the policy for its cluster IP and for its name; a watch event (a new
 * annotation) reaches the client; a port the Service does not declare is no Service.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../core/log';
import { createKubernetesPolicySource } from '../control/policy/kubernetes-source';
import { createOutboundService } from '../control/policy/outbound-server';
import type { PolicySource } from '../control/policy/source';
import { OutboundPolicies } from '../proxy/outbound/route/policy-client';
import { startFakeKubeApi, type FakeKubeApi } from './fake-kube-api';

const NS = 'emojivoto';
const service = (annotations: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: NS, annotations },
  spec: { clusterIP: '10.96.5.5', clusterIPs: ['10.96.5.5'], ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
});
const route = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'web-split', namespace: NS, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    parentRefs: [{ group: 'core', kind: 'Service', name: 'web', port: 80 }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'web-v2', port: 80, weight: 1 }] }],
  },
};

describe('outbound routes from Kubernetes: list + watch → OutboundPolicies → proxy', () => {
  let api: FakeKubeApi;
  let dir: string;
  let source: PolicySource;
  let server: grpc.Server;
  let client: OutboundPolicies;

  before(async () => {
    api = await startFakeKubeApi();
    dir = await mkdtemp(join(tmpdir(), 'linnet-kroutes-'));
    api.apply('services', service({ 'retry.linkerd.io/http': '5xx' }));
    api.apply('gatewayhttproutes', route);
    const k8s = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(api.writeKubeconfig(dir));
    source = await createKubernetesPolicySource({ kubeConfig: kc, syncTimeoutMs: 5000, retryBaseMs: 100, log: createLogger('error', 'test') });
    server = new grpc.Server();
    const svc = createOutboundService({ source, clusterDomain: 'cluster.local' });
    server.addService(svc.service, svc.implementation);
    const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
    client = new OutboundPolicies({ addr: `127.0.0.1:${port}`, workload: `${NS}:client-0`, log: createLogger('error', 'test') });
  });
  after(async () => {
    client?.close();
    server?.forceShutdown();
    await source?.close();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the Service\'s cluster IP and its name both get its routes and annotations', async () => {
    for (const [key, kind] of [['10.96.5.5:80', 'addr'], ['web.emojivoto.svc.cluster.local:80', 'authority']] as const) {
      const p = (await client.ready(key, kind, 5000)).policy;
      assert.ok(p, key);
      assert.deepEqual(p.parent, { group: 'core', kind: 'Service', namespace: NS, name: 'web', port: 80 });
      assert.deepEqual(p.routes.map((r) => r.ref.name), ['web-split']);
      assert.equal(p.routes[0]!.rules[0]!.backends[0]!.authority, 'web-v2.emojivoto.svc.cluster.local:80');
      assert.deepEqual(p.routes[0]!.rules[0]!.retry?.statuses, [[500, 599]], 'the Service\'s retry annotation reaches the route');
    }
    const other = await client.ready('10.96.5.5:81', 'addr', 5000);
    assert.ok(other.answered);
    assert.equal(other.policy, undefined, 'a port the Service does not declare');
  });

  it('a watch event (a new annotation on the Service) reaches the client', async () => {
    api.apply('services', service({ 'retry.linkerd.io/http': '5xx', 'timeout.linkerd.io/request': '300ms' }));
    const t0 = Date.now();
    while (client.get('10.96.5.5:80', 'addr').policy?.defaults.timeouts.requestMs !== 300) {
      if (Date.now() - t0 > 5000) assert.fail('the new timeout did not arrive');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
