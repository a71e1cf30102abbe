/**
 * The inbound policy's cost (issue #17's figure): one-hop HTTP/1.1 from the unmeshed load tool
 * through the app pod's Linnet proxy, which watches the control plane's policy service. Two ports
 * of the same proxy, in the same run: the `policy` route's port is governed by a Server with
 * POLICY_ROUTES HTTPRoutes, each authorized by a MeshTLSAuthentication of POLICY_IDENTITIES
 * identities or (the load tool has no identity) a NetworkAuthentication of the load pod's address;
 * the `linnet` route's port has no Server, so the default policy (all-unauthenticated) applies.
 *
 * What it measures: per request, the route match over all the Server's routes (the load's `/`
 * matches only the catch-all; the others are looked at and fail on their path) and the
 * connection's cached decision for the route; per connection and route, the authorization
 * itself (the identity list, then the network with its exceptions). Against a port where the
 * same walk is one empty route and one authorization.
 */
import { port } from './topology';

export const POLICY_ROUTES = 20;
export const POLICY_IDENTITIES = 100;

/** The Server and everything attached to it, as one multi-document YAML for the policy directory. */
export function policyCostYaml(loadIp: string): string {
  const p = port('policy', 'http1');
  const meta = (name: string) => `metadata: { namespace: bench, name: ${name} }`;
  const docs: string[] = [
    ['apiVersion: policy.linkerd.io/v1beta3', 'kind: Server', meta('policy-cost'), `spec: { podSelector: {}, port: ${p}, proxyProtocol: HTTP/1, accessPolicy: deny }`].join('\n'),
    [
      'apiVersion: policy.linkerd.io/v1alpha1',
      'kind: MeshTLSAuthentication',
      meta('clients'),
      'spec:',
      '  identities:',
      ...Array.from({ length: POLICY_IDENTITIES }, (_, i) => `    - client-${i}.bench.serviceaccount.identity.linnet.cluster.local`),
    ].join('\n'),
    [
      'apiVersion: policy.linkerd.io/v1alpha1',
      'kind: NetworkAuthentication',
      meta('load-pod'),
      // The exceptions are looked at too: none holds the load pod's address.
      `spec: { networks: [{ cidr: ${loadIp}/32 }, { cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10] }] }`,
    ].join('\n'),
  ];
  for (let i = 0; i < POLICY_ROUTES; i++) {
    // 19 routes for paths the load never asks for (with method and header conditions), one catch-all.
    const last = i === POLICY_ROUTES - 1;
    const matches = last ? '[{ path: { type: PathPrefix, value: / } }]' : `[{ path: { type: PathPrefix, value: /api/r${i} }, method: GET, headers: [{ name: x-tenant, value: t${i} }] }, { path: { type: Exact, value: /r${i}/healthz } }]`;
    docs.push(
      ['apiVersion: policy.linkerd.io/v1beta3', 'kind: HTTPRoute', meta(`r${i}`), 'spec:', '  parentRefs: [{ group: policy.linkerd.io, kind: Server, name: policy-cost }]', `  rules: [{ matches: ${matches} }]`].join('\n'),
    );
    for (const [name, kind, authn] of [
      [`r${i}-mesh`, 'MeshTLSAuthentication', 'clients'],
      [`r${i}-net`, 'NetworkAuthentication', 'load-pod'],
    ] as const) {
      docs.push(
        [
          'apiVersion: policy.linkerd.io/v1alpha1',
          'kind: AuthorizationPolicy',
          meta(name),
          'spec:',
          `  targetRef: { group: policy.linkerd.io, kind: HTTPRoute, name: r${i} }`,
          `  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: ${kind}, name: ${authn} }]`,
        ].join('\n'),
      );
    }
  }
  return docs.join('\n---\n') + '\n';
}
