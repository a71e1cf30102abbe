import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CLUSTER } from '../../core/policy/model';
import { compilePort, PolicyIndex } from './compile';
import { parsePolicyDocuments } from './documents';
import { authzRows, describePolicy, policyWarnings } from './report';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DOCS = `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: demo, name: locked }
spec: { podSelector: {}, port: 8080 }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: demo, name: stray }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: gone }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: MeshTLSAuthentication, name: missing }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { namespace: demo, name: ids }
spec: { identities: ["web.demo.serviceaccount.identity.linnet.cluster.local", "*.nowhere.serviceaccount.identity.linnet.cluster.local"] }
`;

describe('linnet authz reports', () => {
  const index = new PolicyIndex(parsePolicyDocuments(DOCS, 'x.yaml'));
  it('warns of a Server nothing authorizes, a dangling target and authentication, identities matching no workload', () => {
    assert.deepEqual(policyWarnings(index, ['web.demo.serviceaccount.identity.linnet.cluster.local']), [
      'Server demo/locked denies everything: no AuthorizationPolicy targets it, its routes or its namespace, and its accessPolicy is deny',
      'AuthorizationPolicy demo/stray targets Server demo/gone, which does not exist',
      'AuthorizationPolicy demo/stray requires MeshTLSAuthentication demo/missing, which does not exist: it authorizes nobody',
      'MeshTLSAuthentication demo/ids: identity *.nowhere.serviceaccount.identity.linnet.cluster.local matches no workload',
    ]);
  });
  it('describes a port: nobody may use the locked Server\'s route', () => {
    const pod = { name: 'p', namespace: 'demo', labels: {}, portNames: new Map(), probes: new Map(), opaquePorts: new Set<number>() };
    const lines = describePolicy('10.0.0.1', 8080, compilePort(index, pod, 8080, { defaultPolicy: 'all-unauthenticated', clusterNetworks: DEFAULT_CLUSTER, identityDomain: 'identity.linnet.cluster.local' }));
    assert.deepEqual(lines, ['10.0.0.1:8080  server/locked  protocol detect', '  route default/default', '    nobody (403)']);
  });
  it('a proxy\'s counters as rows', () => {
    const text = [
      '# TYPE inbound_http_authz_allow_total counter',
      'inbound_http_authz_allow_total{target_addr="10.0.0.1:80",srv_kind="server",srv_name="web",route_kind="HTTPRoute",route_name="rest",authz_kind="authorizationpolicy",authz_name="a",tls="true",client_id="x"} 7',
      'inbound_http_authz_deny_total{target_addr="10.0.0.1:80",srv_kind="server",srv_name="web",route_kind="HTTPRoute",route_name="rest",tls="no_identity"} 2',
      'inbound_tcp_authz_deny_total{target_addr="10.0.0.1:6379",srv_kind="server",srv_name="redis",tls="no_identity"} 1',
    ].join('\n');
    assert.deepEqual(authzRows(text), [
      { server: 'server/redis', route: '(connections)', authz: '-', allow: 0, deny: 1 },
      { server: 'server/web', route: 'HTTPRoute/rest', authz: '-', allow: 0, deny: 2 },
      { server: 'server/web', route: 'HTTPRoute/rest', authz: 'authorizationpolicy/a', allow: 7, deny: 0 },
    ]);
  });
});

describe('linnet check --policy-dir', () => {
  it('a file that does not read fails the check; the warnings are ‼', () => {
    const dir = mkdtempSync(join(tmpdir(), 'linnet-check-policy-'));
    try {
      writeFileSync(join(dir, 'a.yaml'), DOCS);
      writeFileSync(join(dir, 'b.yaml'), 'apiVersion: policy.linkerd.io/v1beta3\nkind: Server\nmetadata: { name: s }\nspec: { podSelector: {}, port: 0 }\n');
      const r = spawnSync(process.execPath, [join(__dirname, '..', '..', '..', 'bin', 'linnet'), 'check', '--policy-dir', dir], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /× b\.yaml reads/);
      assert.match(r.stdout, /spec\.port: 0 is not a port number/);
      assert.match(r.stdout, /‼ policy resources are consistent\n\s+Server demo\/locked denies everything/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
