import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePort, PolicyIndex, type PodInfo } from '../control/policy/compile';
import { parsePolicyDocuments } from '../control/policy/documents';
import { decideRequest, DEFAULT_CLUSTER, type RequestView } from '../core/policy/model';
import { parseIp } from '../core/policy/net';
import { policyCostYaml, POLICY_IDENTITIES, POLICY_ROUTES } from './policy-cost';
import { port } from './topology';

const pod: PodInfo = { name: '10.1.2.11', namespace: 'bench', labels: {}, portNames: new Map(), probes: new Map(), opaquePorts: new Set() };
const settings = { defaultPolicy: 'all-unauthenticated' as const, clusterNetworks: DEFAULT_CLUSTER, identityDomain: 'identity.linnet.cluster.local' };
const get = (path: string): RequestView => ({ method: 'GET', path, query: '', host: '10.1.2.11', header: () => undefined });

test('the policy scenario\'s YAML reads as Linnet\'s reader reads a policy directory, and governs the policy port only', () => {
  const index = new PolicyIndex(parsePolicyDocuments(policyCostYaml('10.1.2.10'), 'inbound-cost.yaml'));
  const p = compilePort(index, pod, port('policy', 'http1'), settings);
  assert.deepEqual(p.server, { kind: 'server', name: 'policy-cost' });
  assert.equal(p.routes.length, POLICY_ROUTES);
  for (const r of p.routes) {
    assert.equal(r.authorizations.length, 2, `route ${r.name}: the identity list or the network`);
    const mesh = r.authorizations.find((a) => a.authn.kind === 'meshTLS');
    assert.equal(mesh?.authn.kind === 'meshTLS' ? mesh.authn.identities.length : 0, POLICY_IDENTITIES);
  }
  // The load tool (unmeshed, from the load pod) is allowed on `/` by the network; elsewhere it is not.
  const load = { ip: parseIp('10.1.2.10'), identity: undefined };
  const d = decideRequest(p, load, get('/'), false);
  assert.ok(d.allowed && d.route?.name === `r${POLICY_ROUTES - 1}` && d.authz.name === `r${POLICY_ROUTES - 1}-net`, `${d.allowed} ${d.route?.name} ${d.allowed ? `${d.authz.kind}/${d.authz.name}` : d.reason}`);
  assert.equal(decideRequest(p, { ip: parseIp('10.9.9.9'), identity: undefined }, get('/'), false).allowed, false, 'another address is not');
  assert.equal(decideRequest(p, { ip: parseIp('10.1.2.10'), identity: 'client-7.bench.serviceaccount.identity.linnet.cluster.local' }, get('/r3/healthz'), false).allowed, true, 'a listed identity is');
  // The linnet route's port: no Server, the default.
  assert.deepEqual(compilePort(index, pod, port('linnet', 'http1'), settings).server, { kind: 'default', name: 'all-unauthenticated' });
});
