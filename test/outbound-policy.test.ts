/**
 * OutboundPolicies end to end on loopback, without root: `linnet control`'s pieces (the mesh
 * file source, the watched policy directory, the gRPC service) and the proxy's client. Proves:
 * a Service's routes arrive for its virtual IP; an edit arrives as a new answer; a file that does
 * not read is refused with its path and the last good routes stay; a target that is no Service
 * is `found: false`; with the control plane gone the client keeps its last answer.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../core/log';
import { createFileSource } from '../control/destination/file-source';
import { bindServer } from '../control/destination/server';
import { createPolicyDirSource } from '../control/policy/dir-source';
import { createOutboundService } from '../control/policy/outbound-server';
import { OutboundPolicies } from '../proxy/outbound/route/policy-client';

const MESH = 'services:\n  - name: web.demo.svc.cluster.local\n    address: 10.96.0.10\n    ports: [80]\n    endpoints: [{ address: 10.1.0.1:8080 }]\n';
const route = (w1: number, w2: number) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { namespace: demo, name: split }
spec:
  parentRefs: [{ group: core, kind: Service, name: web, port: 80 }]
  rules: [{ backendRefs: [{ name: v1, port: 80, weight: ${w1} }, { name: v2, port: 80, weight: ${w2} }] }]
`;

async function until<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('OutboundPolicies over a watched policy directory', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('serves, follows edits, refuses a bad file keeping the last good, and the client keeps its answer without the control plane', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'linnet-outbound-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'mesh.yaml'), MESH);
    await mkdir(join(dir, 'policy'));
    await writeFile(join(dir, 'policy', 'routes.yaml'), route(90, 10));
    const lines: string[] = [];
    const log = createLogger('debug', 'test', (l) => void lines.push(l));
    const discovery = await createFileSource({ file: join(dir, 'mesh.yaml'), debounceMs: 20 });
    cleanups.push(() => discovery.close());
    const source = await createPolicyDirSource({ dir: join(dir, 'policy'), discovery, log, debounceMs: 20, pollMs: 200 });
    cleanups.push(() => source.close());
    const server = new grpc.Server();
    const svc = createOutboundService({ source, clusterDomain: 'cluster.local', log });
    server.addService(svc.service, svc.implementation);
    const port = await bindServer(server, '127.0.0.1:0');
    let serverUp = true;
    cleanups.push(() => {
      if (serverUp) server.forceShutdown();
    });

    const client = new OutboundPolicies({ addr: `127.0.0.1:${port}`, workload: '10.1.0.9', log: createLogger('error', 'client', () => {}) });
    cleanups.push(() => client.close());
    const weights = () => client.get('10.96.0.10:80', 'addr').policy?.routes[0]?.rules[0]?.backends.map((b) => `${b.authority}=${b.weight}`).join(',');

    const first = await client.ready('10.96.0.10:80', 'addr', 5000);
    assert.ok(first.answered);
    assert.equal(first.policy?.parent.name, 'web');
    assert.equal(weights(), 'v1.demo.svc.cluster.local:80=90,v2.demo.svc.cluster.local:80=10');
    // By name as well (ingress mode's authority), and nothing for what is no Service.
    assert.equal((await client.ready('web.demo.svc.cluster.local:80', 'authority', 5000)).policy?.parent.name, 'web');
    const none = await client.ready('10.96.0.99:80', 'addr', 5000);
    assert.ok(none.answered);
    assert.equal(none.policy, undefined);

    await writeFile(join(dir, 'policy', 'routes.yaml'), route(0, 100));
    await until(() => (weights()?.endsWith('v2.demo.svc.cluster.local:80=100') ? true : undefined), 5000, 'the edit to reach the client');

    await writeFile(join(dir, 'policy', 'routes.yaml'), route(0, 100).replace('weight: 100', 'weight: lots'));
    const refused = await until(() => lines.find((l) => l.includes('policy file rejected')), 5000, 'the bad file to be refused');
    assert.match(refused, /routes\.yaml/);
    assert.match(refused, /spec\.rules\[0\]\.backendRefs\[1\]\.weight: "lots" is not an integer/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(weights(), 'v1.demo.svc.cluster.local:80=0,v2.demo.svc.cluster.local:80=100', 'the last good routes stay');

    server.forceShutdown();
    serverUp = false;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(weights(), 'v1.demo.svc.cluster.local:80=0,v2.demo.svc.cluster.local:80=100', 'kept without the control plane');
  });
});

describe('OutboundPolicies client against a control plane without the service', () => {
  it('answers "no routes" at once instead of waiting out its first-request timeout', async () => {
    const server = new grpc.Server();
    const port = await bindServer(server, '127.0.0.1:0');
    const client = new OutboundPolicies({ addr: `127.0.0.1:${port}`, workload: 'w', log: createLogger('error', 'client', () => {}) });
    try {
      const t0 = Date.now();
      const tp = await client.ready('10.96.0.10:80', 'addr', 5000);
      assert.ok(tp.answered);
      assert.equal(tp.policy, undefined);
      assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
