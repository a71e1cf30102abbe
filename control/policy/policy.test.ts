import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseIp } from '../../core/policy/net';
import { decideConnection, decideRequest, DEFAULT_CLUSTER, type RequestView } from '../../core/policy/model';
import { compilePort, PolicyIndex, type PodInfo } from './compile';
import { parsePolicyDocuments } from './documents';
import { PolicyResourceError } from './resources';
import { parseSelector, selects } from './selector';

const SETTINGS = { defaultPolicy: 'all-unauthenticated' as const, clusterNetworks: DEFAULT_CLUSTER, identityDomain: 'identity.linnet.cluster.local' };
const id = (sa: string, ns = 'emojivoto') => `${sa}.${ns}.serviceaccount.identity.linnet.cluster.local`;
const pod = (over: Partial<PodInfo> = {}): PodInfo => ({
  name: 'web-0',
  namespace: 'emojivoto',
  labels: { app: 'web-svc', version: 'v11' },
  portNames: new Map([['http', 8080], ['grpc', 8081], ['redis', 6379]]),
  probes: new Map([[8080, ['/healthz']]]),
  opaquePorts: new Set([6379]),
  ...over,
});
const req = (path: string, method = 'GET'): RequestView => ({ method, path, query: '', host: 'web', header: () => undefined });
const client = (addr: string, identity?: string) => ({ ip: parseIp(addr)!, identity });

// The shapes of Linkerd's documentation (emojivoto), unchanged apart from identities' domain.
const LINKERD_DOCS = `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata:
  namespace: emojivoto
  name: web-http
  labels: { app.kubernetes.io/part-of: emojivoto }
spec:
  podSelector:
    matchLabels:
      app: web-svc
    matchExpressions:
      - { key: version, operator: In, values: [v11, v12] }
      - { key: canary, operator: DoesNotExist }
  port: http
  proxyProtocol: HTTP/1
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata:
  namespace: emojivoto
  name: web-authn
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: web-api
  requiredAuthenticationRefs:
    - name: vote-bot
      kind: MeshTLSAuthentication
      group: policy.linkerd.io
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata:
  namespace: emojivoto
  name: vote-bot
spec:
  identities:
    - "vote-bot.emojivoto.serviceaccount.identity.linnet.cluster.local"
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  namespace: emojivoto
  name: web-api
spec:
  parentRefs:
    - name: web-http
      kind: Server
      group: policy.linkerd.io
  rules:
    - matches:
        - path: { type: PathPrefix, value: /api }
---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata:
  namespace: emojivoto
  name: web-health
spec:
  parentRefs:
    - { name: web-http, kind: Server, group: policy.linkerd.io }
  rules:
    - matches:
        - { path: { type: Exact, value: /healthz }, method: GET }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: emojivoto, name: health-everyone }
spec:
  targetRef: { group: policy.linkerd.io, kind: HTTPRoute, name: web-health }
  requiredAuthenticationRefs: []
---
apiVersion: policy.linkerd.io/v1beta1
kind: Server
metadata: { namespace: emojivoto, name: redis }
spec:
  podSelector: { matchLabels: { app: web-svc } }
  port: 6379
  proxyProtocol: opaque
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: emojivoto, name: redis-from-cache-net }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: redis }
  requiredAuthenticationRefs:
    - { group: policy.linkerd.io, kind: NetworkAuthentication, name: cache-net }
    - { group: policy.linkerd.io, kind: MeshTLSAuthentication, name: all-in-ns }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: { namespace: emojivoto, name: cache-net }
spec:
  networks:
    - cidr: 10.0.0.0/8
      except: [10.66.0.0/16]
    - cidr: fd00::/8
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { namespace: emojivoto, name: all-in-ns }
spec:
  identityRefs:
    - { kind: Namespace, name: emojivoto }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: not-policy }
data: { a: b }
`;

describe('selectors', () => {
  const sel = (v: unknown) => {
    const problems: string[] = [];
    const s = parseSelector(v, 'sel', problems);
    assert.deepEqual(problems, []);
    return s;
  };
  it('matchLabels and every operator', () => {
    const s = sel({ matchLabels: { app: 'a' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }, { key: 'env', operator: 'Exists' }, { key: 'x', operator: 'DoesNotExist' }] });
    assert.ok(selects(s, { app: 'a', env: '' }));
    assert.ok(selects(s, { app: 'a', env: 'p', tier: 'web' }));
    assert.ok(!selects(s, { app: 'a', env: 'p', tier: 'db' }));
    assert.ok(!selects(s, { app: 'a' }));
    assert.ok(!selects(s, { app: 'a', env: 'p', x: '1' }));
    assert.ok(!selects(s, { app: 'b', env: 'p' }));
    assert.ok(selects(sel({}), { anything: 'x' }), 'an empty selector selects everything');
  });
  it('refuses bad expressions with their path', () => {
    const problems: string[] = [];
    parseSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }, { key: 'b', operator: 'Exists', values: ['x'] }, { key: 'c', operator: 'Near' }] }, 'spec.podSelector', problems);
    assert.deepEqual(problems, [
      'spec.podSelector.matchExpressions[0].values: In needs at least one value',
      'spec.podSelector.matchExpressions[1].values: Exists takes no values',
      'spec.podSelector.matchExpressions[2].operator: "Near" is not one of In, NotIn, Exists, DoesNotExist',
    ]);
  });
});

describe('resources from Linkerd manifests', () => {
  const resources = parsePolicyDocuments(LINKERD_DOCS, 'emojivoto.yaml');
  const index = new PolicyIndex(resources);
  it('reads every policy document and skips the others', () => {
    assert.deepEqual(resources.map((r) => `${r.kind}/${r.meta.name}`).sort(), [
      'AuthorizationPolicy/health-everyone',
      'AuthorizationPolicy/redis-from-cache-net',
      'AuthorizationPolicy/web-authn',
      'HTTPRoute/web-api',
      'HTTPRoute/web-health',
      'MeshTLSAuthentication/all-in-ns',
      'MeshTLSAuthentication/vote-bot',
      'NetworkAuthentication/cache-net',
      'Server/redis',
      'Server/web-http',
    ]);
  });
  it("names of Object.prototype's members are refused as kinds and protocols, not crashed on or passed", () => {
    for (const kind of ['constructor', 'toString', '__proto__']) {
      assert.throws(() => parsePolicyDocuments(`apiVersion: policy.linkerd.io/v1alpha1\nkind: ${kind}\nmetadata: {name: x}\nspec: {}\n`, 'f.yaml'), (e: unknown) => e instanceof PolicyResourceError && /is not a policy kind/.test(e.message));
    }
    for (const p of ['valueOf', 'constructor', 'hasOwnProperty']) {
      assert.throws(() => parsePolicyDocuments(`apiVersion: policy.linkerd.io/v1beta3\nkind: Server\nmetadata: {name: x}\nspec: {podSelector: {}, port: 80, proxyProtocol: ${p}}\n`, 'f.yaml'), (e: unknown) => e instanceof PolicyResourceError && /spec\.proxyProtocol/.test(e.message));
    }
  });

  it('a named port: /healthz for everyone, /api for vote-bot only, the rest route-not-found', () => {
    const p = compilePort(index, pod(), 8080, SETTINGS);
    assert.equal(p.protocol, 'http1');
    assert.deepEqual(p.server, { kind: 'server', name: 'web-http' });
    const anon = client('10.1.0.9');
    const bot = client('10.1.0.9', id('vote-bot'));
    const other = client('10.1.0.9', id('web'));
    const d = (c: typeof anon, path: string) => {
      const x = decideRequest(p, c, req(path), false);
      return x.allowed ? `allow ${x.route?.name}/${x.authz.name}` : `deny ${x.reason}`;
    };
    assert.equal(d(anon, '/healthz'), 'allow web-health/health-everyone');
    assert.equal(d(bot, '/api/vote'), 'allow web-api/web-authn');
    assert.equal(d(other, '/api/vote'), 'deny unauthorized');
    assert.equal(d(anon, '/api/vote'), 'deny unauthorized');
    assert.equal(d(bot, '/'), 'deny route-not-found');
  });
  it('the selector decides: a canary pod or another version gets the default policy', () => {
    for (const labels of [{ app: 'web-svc', version: 'v11', canary: 'y' }, { app: 'web-svc', version: 'v10' }] as Record<string, string>[]) {
      const p = compilePort(index, pod({ labels }), 8080, SETTINGS);
      assert.deepEqual(p.server, { kind: 'default', name: 'all-unauthenticated' }, JSON.stringify(labels));
      assert.equal(p.routes[0]!.name, 'probe', 'probe paths are routed first');
    }
  });
  it('opaque Server: network AND identity must hold (except carved out, IPv6 too)', () => {
    const p = compilePort(index, pod(), 6379, SETTINGS);
    assert.equal(p.protocol, 'opaque');
    const ok = (c: ReturnType<typeof client>) => decideConnection(p, c).allowed;
    assert.ok(ok(client('10.3.0.1', id('cache'))));
    assert.ok(ok(client('fd00::5', id('cache'))));
    assert.ok(!ok(client('10.66.0.1', id('cache'))), 'except');
    assert.ok(!ok(client('192.168.0.1', id('cache'))), 'outside the cidr');
    assert.ok(!ok(client('10.3.0.1', id('cache', 'other'))), 'another namespace');
    assert.ok(!ok(client('10.3.0.1')), 'no identity');
  });
  it('no Server: the pod annotation, else the install default; opaque ports stay opaque', () => {
    const other = pod({ labels: { app: 'x' } });
    assert.equal(compilePort(index, other, 9000, SETTINGS).server.name, 'all-unauthenticated');
    assert.equal(compilePort(index, { ...other, defaultPolicy: 'deny' }, 9000, SETTINGS).server.name, 'deny');
    assert.equal(compilePort(index, other, 6379, SETTINGS).protocol, 'opaque');
    assert.equal(compilePort(index, other, 9000, { ...SETTINGS, defaultPolicy: 'cluster-authenticated' }).server.name, 'cluster-authenticated');
  });
  it('accessPolicy is the default for what no policy names; a dangling reference authorizes nobody', () => {
    const docs = `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: emojivoto, name: s }
spec: { podSelector: {}, port: 8080, accessPolicy: all-authenticated }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: emojivoto, name: dangling }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: s }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: NetworkAuthentication, name: missing }]
`;
    const p = compilePort(new PolicyIndex(parsePolicyDocuments(docs, 'x.yaml')), pod(), 8080, SETTINGS);
    assert.equal(decideRequest(p, client('8.8.8.8'), req('/'), false).allowed, false);
    const d = decideRequest(p, client('8.8.8.8', id('any')), req('/'), false);
    assert.ok(d.allowed && d.authz.name === 'all-authenticated');
    assert.equal(decideRequest(p, client('8.8.8.8'), req('/healthz'), false).allowed, true, 'probes still open');
  });
  it('a Namespace target covers every Server there; ServiceAccount refs expand to identities', () => {
    const docs = `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: emojivoto, name: s }
spec: { podSelector: { matchLabels: { app: web-svc } }, port: 8080 }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: emojivoto, name: ns-wide }
spec:
  targetRef: { kind: Namespace, name: emojivoto, group: "" }
  requiredAuthenticationRefs: [{ kind: ServiceAccount, name: emoji, group: "" }]
`;
    const p = compilePort(new PolicyIndex(parsePolicyDocuments(docs, 'x.yaml')), pod(), 8080, SETTINGS);
    assert.ok(decideRequest(p, client('10.0.0.1', id('emoji')), req('/x'), false).allowed);
    assert.ok(!decideRequest(p, client('10.0.0.1', id('voting')), req('/x'), false).allowed);
  });
  it('identityRefs without a name (Linkerd\'s CRD requires only kind): every ServiceAccount of the namespace', () => {
    const docs = (refs: string) => `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: emojivoto, name: s }
spec: { podSelector: { matchLabels: { app: web-svc } }, port: 8080, accessPolicy: deny }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: emojivoto, name: a }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: s }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: MeshTLSAuthentication, name: m }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { namespace: emojivoto, name: m }
spec: { identityRefs: ${refs} }
`;
    const allowed = (refs: string, who: string) => decideRequest(compilePort(new PolicyIndex(parsePolicyDocuments(docs(refs), 'x.yaml')), pod(), 8080, SETTINGS), client('10.0.0.1', who), req('/x'), false).allowed;
    // A ServiceAccount with no name: every one of the authentication's namespace, or of the ref's.
    assert.ok(allowed('[{ kind: ServiceAccount }]', id('emoji')));
    assert.ok(allowed('[{ kind: ServiceAccount }]', id('voting')));
    assert.ok(!allowed('[{ kind: ServiceAccount }]', id('emoji', 'other')));
    assert.ok(allowed('[{ kind: ServiceAccount, namespace: other }]', id('emoji', 'other')));
    assert.ok(!allowed('[{ kind: ServiceAccount, namespace: other }]', id('emoji')));
    // Named, as before: that one only.
    assert.ok(allowed('[{ kind: ServiceAccount, name: emoji }]', id('emoji')) && !allowed('[{ kind: ServiceAccount, name: emoji }]', id('voting')));
    // A Namespace with no name: the ref's namespace (the local one by default).
    assert.ok(allowed('[{ kind: Namespace }]', id('voting')) && !allowed('[{ kind: Namespace }]', id('voting', 'other')));
    assert.ok(allowed('[{ kind: Namespace, name: other }]', id('voting', 'other')));
  });
  it('GRPCRoute on a gRPC Server, by service and method', () => {
    const docs = `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: emojivoto, name: g }
spec: { podSelector: {}, port: grpc, proxyProtocol: gRPC, accessPolicy: deny }
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { namespace: emojivoto, name: list }
spec:
  parentRefs: [{ name: g, kind: Server, group: policy.linkerd.io }]
  rules: [{ matches: [{ method: { service: emojivoto.v1.EmojiService, method: ListAll } }] }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: emojivoto, name: list-all }
spec:
  targetRef: { group: gateway.networking.k8s.io, kind: GRPCRoute, name: list }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: MeshTLSAuthentication, name: any }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { namespace: emojivoto, name: any }
spec: { identities: ["*"] }
`;
    const p = compilePort(new PolicyIndex(parsePolicyDocuments(docs, 'x.yaml')), pod(), 8081, SETTINGS);
    assert.equal(p.protocol, 'grpc');
    const m = client('10.0.0.1', id('web'));
    assert.ok(decideRequest(p, m, req('/emojivoto.v1.EmojiService/ListAll', 'POST'), true).allowed);
    assert.deepEqual(decideRequest(p, m, req('/emojivoto.v1.EmojiService/FindByShortcode', 'POST'), true), { allowed: false, reason: 'route-not-found' });
    assert.ok(!decideRequest(p, client('10.0.0.1'), req('/emojivoto.v1.EmojiService/ListAll', 'POST'), true).allowed);
  });
  it('rate limits compile with ServiceAccount overrides', () => {
    const docs = `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: emojivoto, name: s }
spec: { podSelector: {}, port: 8080 }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: { namespace: emojivoto, name: rl }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: s }
  total: { requestsPerSecond: 100 }
  identity: { requestsPerSecond: 20 }
  overrides:
    - requestsPerSecond: 50
      clientRefs: [{ kind: ServiceAccount, name: web }]
`;
    const p = compilePort(new PolicyIndex(parsePolicyDocuments(docs, 'x.yaml')), pod(), 8080, SETTINGS);
    assert.deepEqual(p.rateLimit, { name: 'rl', total: 100, identity: 20, overrides: [{ requestsPerSecond: 50, identities: [id('web')] }] });
  });
});

describe('bad manifests are refused with the file, document, path and reason', () => {
  const refused = (text: string): string[] => {
    try {
      parsePolicyDocuments(text, 'p.yaml');
    } catch (e) {
      assert.ok(e instanceof PolicyResourceError);
      assert.equal(e.code, 'LINNET_POLICY_RESOURCE_INVALID');
      assert.match(e.message, /^p\.yaml is not a valid policy resource/);
      return [...e.problems];
    }
    assert.fail('accepted');
  };
  it('each mistake named', () => {
    assert.deepEqual(
      refused(`
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { name: s }
spec: { podSelector: { matchLabels: { a: b } }, port: 70000, proxyProtocol: HTTP/3, accessPolicy: maybe, colour: red }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: { name: n }
spec: { networks: [{ cidr: 10.0.0.0/33 }, { cidr: 10.0.0.0/8, except: [11.0.0.0/16] }] }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: a }
spec:
  targetRef: { group: apps, kind: Deployment, name: web }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: NetworkAuthentication, name: x }, { group: policy.linkerd.io, kind: NetworkAuthentication, name: y }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { name: m }
spec: { identities: ["Not An Identity"] }
---
apiVersion: policy.linkerd.io/v9
kind: Server
metadata: { name: old }
spec: {}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ name: s, kind: Server, group: policy.linkerd.io }]
  rules: [{ matches: [{ path: { type: RegularExpression, value: "([" } }] }]
`),
      [
        'document 1 (Server s): spec.colour: unknown field (allowed: podSelector, externalWorkloadSelector, port, proxyProtocol, accessPolicy)',
        'document 1 (Server s): spec.port: 70000 is not a port number (1-65535) or a port name (IANA_SVC_NAME, at most 15 characters)',
        'document 1 (Server s): spec.proxyProtocol: "HTTP/3" is not one of unknown, HTTP/1, HTTP/2, gRPC, opaque, TLS',
        'document 1 (Server s): spec.accessPolicy: "maybe" is not one of all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit',
        'document 2 (NetworkAuthentication n): spec.networks[0].cidr: "10.0.0.0/33" is not a network: prefix "33" is not 0-32',
        'document 2 (NetworkAuthentication n): spec.networks[1].except[0]: must lie inside the cidr',
        'document 3 (AuthorizationPolicy a): spec.targetRef: apps/Deployment is not a target (Server, HTTPRoute, GRPCRoute of policy.linkerd.io or gateway.networking.k8s.io, or Namespace with group "")',
        'document 3 (AuthorizationPolicy a): spec.requiredAuthenticationRefs[1]: at most one NetworkAuthentication may be required',
        'document 4 (MeshTLSAuthentication m): spec.identities[0]: "Not An Identity" is not an identity (a DNS-like name, "*", or "*.suffix")',
        'document 5 (Server old): apiVersion: "policy.linkerd.io/v9" is not served for Server (policy.linkerd.io/v1alpha1, policy.linkerd.io/v1beta1, policy.linkerd.io/v1beta2, policy.linkerd.io/v1beta3)',
        'document 6 (HTTPRoute r): spec.rules[0].matches[0].path.value: not a valid regular expression',
      ],
    );
  });
  it('HTTPRoute versions by group, as the CRDs serve them: no policy.linkerd.io/v1, no gateway.networking.k8s.io/v1beta3', () => {
    const route = (apiVersion: string) => `apiVersion: ${apiVersion}
kind: HTTPRoute
metadata: { name: r }
spec: { parentRefs: [{ name: s, kind: Server, group: policy.linkerd.io }] }
`;
    const served =
      '(policy.linkerd.io/v1alpha1, policy.linkerd.io/v1beta1, policy.linkerd.io/v1beta2, policy.linkerd.io/v1beta3, gateway.networking.k8s.io/v1alpha2, gateway.networking.k8s.io/v1beta1, gateway.networking.k8s.io/v1)';
    assert.deepEqual(refused(route('policy.linkerd.io/v1')), [`document 1 (HTTPRoute r): apiVersion: "policy.linkerd.io/v1" is not served for HTTPRoute ${served}`]);
    assert.deepEqual(refused(route('gateway.networking.k8s.io/v1beta3')), [`document 1 (HTTPRoute r): apiVersion: "gateway.networking.k8s.io/v1beta3" is not served for HTTPRoute ${served}`]);
    assert.deepEqual(refused(route('gateway.networking.k8s.io/v1alpha1')).length, 1);
    for (const v of ['policy.linkerd.io/v1alpha1', 'policy.linkerd.io/v1beta3', 'gateway.networking.k8s.io/v1alpha2', 'gateway.networking.k8s.io/v1beta1', 'gateway.networking.k8s.io/v1']) {
      assert.equal(parsePolicyDocuments(route(v), 'p.yaml').length, 1, v);
    }
  });
  it('identityRefs: kind is required, a name is not', () => {
    const m = (refs: string) => `apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { name: m }
spec: { identityRefs: ${refs} }
`;
    assert.deepEqual(refused(m('[{ name: web }]')), ['document 1 (MeshTLSAuthentication m): spec.identityRefs[0].kind: required']);
    assert.deepEqual(refused(m('[{ kind: ServiceAccount, name: "" }]')), ['document 1 (MeshTLSAuthentication m): spec.identityRefs[0].name: "" is not a non-empty string']);
    assert.equal(parsePolicyDocuments(m('[{ kind: ServiceAccount }]'), 'p.yaml').length, 1);
  });
  it('YAML errors are refused too, an alias to a missing anchor included (found by the fuzzer)', () => {
    assert.match(refused('kind: [unclosed')[0]!, /^document 1: YAML: /);
    assert.deepEqual(refused('a: 1\n---\nkind: *missing\n'), ['document 2: YAML: Unresolved alias (the anchor must be set before the alias): missing']);
  });
});
