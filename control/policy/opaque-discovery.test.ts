import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshFile } from '../destination/mesh-file';
import { indexMesh, PROXY_INBOUND_PORT, resolve, type MeshIndex } from '../destination/model';
import type { DiscoverySource } from '../destination/source';
import { PolicyIndex } from './compile';
import { parsePolicyDocuments } from './documents';
import { podsFromMesh } from './mesh-pods';
import { discoveryWithOpaqueServers, withOpaqueServers } from './opaque-discovery';
import type { PolicySnapshot, PolicySource } from './source';

const WEB = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const MESH = indexMesh(
  parseMeshFile(`services:
  - name: web.demo.svc.cluster.local
    endpoints:
      - { address: 10.0.0.11, identity: ${WEB}, labels: { app: web, pod: web-0 } }
      - { address: 10.0.0.12, labels: { app: web, pod: web-1 } }
  - name: db.demo.svc.cluster.local
    endpoints:
      - { address: 10.0.0.21, identity: db.demo.serviceaccount.identity.linnet.cluster.local, labels: { app: db } }
workloads: []
`),
);

const server = (name: string, port: number | string, protocol: string, app = 'web', created = '') => `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: demo, name: ${name}${created ? `, creationTimestamp: "${created}"` : ''} }
spec: { podSelector: { matchLabels: { app: ${app} } }, port: ${port}, proxyProtocol: ${protocol} }`;

function policyOf(yaml: string, mesh: MeshIndex = MESH): PolicySnapshot {
  const pods = podsFromMesh(mesh);
  return { index: new PolicyIndex(parsePolicyDocuments(yaml, 'p.yaml')), pod: (w) => pods.get(w), service: () => undefined };
}

const at = (m: MeshIndex, ip: string, port: number) => resolve(m, { kind: 'ip', ip, port }).single;

test('a port an opaque Server governs is resolved opaque, with opaque transport to a meshed endpoint; others keep their hints', () => {
  const policy = policyOf([server('web-raw', 8005, 'opaque'), server('web-http', 8000, 'HTTP/1')].join('\n---\n'));
  const m = withOpaqueServers(MESH, policy);
  const before = at(MESH, '10.0.0.11', 8005)!;
  assert.equal(before.hint, 'h2', 'before: detected (h2 between proxies)');
  assert.equal(before.opaqueTransportPort, undefined);
  const e = at(m, '10.0.0.11', 8005)!;
  assert.equal(e.hint, 'opaque');
  assert.equal(e.opaqueTransportPort, PROXY_INBOUND_PORT);
  assert.equal(resolve(m, { kind: 'name', name: 'web.demo.svc.cluster.local', port: 8005 }).endpoints.get('10.0.0.11:8005')?.hint, 'opaque', 'by the service name too');
  // An unmeshed pod the Server selects: opaque, but no transport (there is no proxy to receive it).
  const plain = at(m, '10.0.0.12', 8005)!;
  assert.equal(plain.hint, 'opaque');
  assert.equal(plain.opaqueTransportPort, undefined);
  // The HTTP Server's port, a port with no Server, another workload: as before.
  assert.equal(at(m, '10.0.0.11', 8000)?.hint, 'h2');
  assert.equal(at(m, '10.0.0.11', 9000)?.hint, 'h2');
  assert.equal(at(m, '10.0.0.21', 8005)?.hint, 'h2');
  // The default opaque ports stay opaque.
  assert.equal(at(m, '10.0.0.11', 6379)?.hint, 'opaque');
});

test('the Server that governs a port decides: an older HTTP Server on the same port wins over a newer opaque one', () => {
  const policy = policyOf([server('older-http', 8005, 'HTTP/1', 'web', '2024-01-01T00:00:00Z'), server('newer-raw', 8005, 'opaque', 'web', '2025-01-01T00:00:00Z')].join('\n---\n'));
  assert.equal(at(withOpaqueServers(MESH, policy), '10.0.0.11', 8005)?.hint, 'h2');
});

test('no opaque Server: the discovery snapshot itself, untouched', () => {
  assert.equal(withOpaqueServers(MESH, policyOf(server('web-http', 8000, 'HTTP/1'))), MESH);
  assert.equal(withOpaqueServers(MESH, policyOf(server('nobody', 8005, 'opaque', 'none'))), MESH);
});

test('the source view: rebuilt when either source changes, the same snapshot otherwise, both subscribed', () => {
  let mesh = MESH;
  let policy = policyOf('');
  const listeners = { mesh: new Set<() => void>(), policy: new Set<() => void>() };
  const discovery: DiscoverySource = { kind: 'file', snapshot: () => mesh, subscribe: (fn) => (listeners.mesh.add(fn), () => listeners.mesh.delete(fn)), close: async () => {} };
  const ps: PolicySource = { kind: 'dir', snapshot: () => policy, subscribe: (fn) => (listeners.policy.add(fn), () => listeners.policy.delete(fn)), close: async () => {} };
  const view = discoveryWithOpaqueServers(discovery, ps);
  let calls = 0;
  const off = view.subscribe(() => calls++);
  assert.equal(view.snapshot(), MESH);
  policy = policyOf(server('web-raw', 8005, 'opaque'));
  for (const fn of listeners.policy) fn();
  assert.equal(calls, 1);
  const a = view.snapshot();
  assert.equal(at(a, '10.0.0.11', 8005)?.hint, 'opaque');
  assert.equal(view.snapshot(), a, 'cached until a source changes');
  mesh = indexMesh({ ...MESH.state });
  for (const fn of listeners.mesh) fn();
  assert.equal(calls, 2);
  assert.notEqual(view.snapshot(), a);
  assert.equal(at(view.snapshot(), '10.0.0.11', 8005)?.hint, 'opaque');
  off();
  assert.equal(listeners.mesh.size + listeners.policy.size, 0);
});
