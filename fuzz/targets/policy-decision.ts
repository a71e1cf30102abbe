/**
 * Fuzz target for authorization policy (control/policy, core/policy). An input whose first byte
 * is odd is policy YAML (the rest, as text) for the manifest reader; otherwise the bytes are a
 * stream of choices that build a small world of resources in namespace "a", a pod, a client and
 * a request, and the decision is checked against worlds with something added.
 */
import { parseIp } from '../../core/policy/net';
import { decideConnection, decideRequest, DEFAULT_CLUSTER, DEFAULT_POLICIES, type Decision, type RequestView } from '../../core/policy/model';
import { compilePort, PolicyIndex, type PodInfo } from '../../control/policy/compile';
import { parsePolicyDocuments } from '../../control/policy/documents';
import { parsePolicyResource, type PolicyResource } from '../../control/policy/resources';
import { refusalOrValue, violations, type Fail } from '../target';

export const name = 'policy-decision';
export const properties = [
  'typed-errors: the manifest reader returns resources or throws LINNET_POLICY_RESOURCE_INVALID; compiling and deciding never throw',
  'unrelated-rule: a denied request or connection stays denied when a resource in another namespace, a policy or route for a Server that does not exist, or an unreferenced authentication is added',
  'more-policy-more-access: adding an AuthorizationPolicy never turns an allowed request or connection into a denied one',
  'deterministic: compiling twice gives the same decision',
];
const fail: Fail = violations(name);

const SETTINGS = { defaultPolicy: 'all-unauthenticated' as const, clusterNetworks: DEFAULT_CLUSTER, identityDomain: 'identity.linnet.cluster.local' };
const IDS = ['web.a.serviceaccount.identity.linnet.cluster.local', 'api.a.serviceaccount.identity.linnet.cluster.local', 'web.b.serviceaccount.identity.linnet.cluster.local', '*', '*.a.serviceaccount.identity.linnet.cluster.local', 'x'];
const IPS = ['10.1.0.1', '10.66.0.1', '192.168.1.1', '8.8.8.8', 'fd00::1', '2001:db8::1'];
const CIDRS = ['10.0.0.0/8', '10.66.0.0/16', '0.0.0.0/0', '::/0', 'fd00::/8', '192.168.0.0/16', '10.1.0.1/32'];
const PATHS = ['/', '/api', '/api/x', '/healthz', '/apix', '/pkg.S/M'];
const PORTS: (number | string)[] = [8080, 'http', 6379, 9000];
const PROTOCOLS = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'];

class Choices {
  private i = 0;
  constructor(private readonly b: Buffer) {}
  next(n: number): number {
    const v = this.i < this.b.length ? this.b[this.i]! : 0;
    this.i++;
    return v % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.next(xs.length)]!;
  }
  get done(): boolean {
    return this.i >= this.b.length;
  }
}

type Kinds = 'Server' | 'AuthorizationPolicy' | 'MeshTLSAuthentication' | 'NetworkAuthentication' | 'HTTPRoute' | 'GRPCRoute';

function object(c: Choices, kind: Kinds, ns: string, n: number, servers: string[]): unknown {
  const meta = { name: `${kind.toLowerCase()}-${n}`, namespace: ns };
  const refName = (prefix: string) => `${prefix}-${c.next(3)}`;
  switch (kind) {
    case 'Server':
      return {
        apiVersion: 'policy.linkerd.io/v1beta3',
        kind,
        metadata: meta,
        spec: {
          podSelector: c.next(2) ? { matchLabels: { app: c.pick(['web', 'api']) } } : { matchExpressions: [{ key: 'tier', operator: c.pick(['In', 'NotIn']), values: ['front'] }] },
          port: c.pick(PORTS),
          proxyProtocol: c.pick(PROTOCOLS),
          accessPolicy: c.pick(DEFAULT_POLICIES),
        },
      };
    case 'AuthorizationPolicy': {
      const target = c.pick([
        { group: 'policy.linkerd.io', kind: 'Server', name: c.pick([...servers, 'nope']) },
        { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: refName('httproute') },
        { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', name: refName('grpcroute') },
        { group: '', kind: 'Namespace', name: ns },
      ]);
      const refs = [];
      if (c.next(2)) refs.push({ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: refName('meshtlsauthentication') });
      else if (c.next(2)) refs.push({ group: '', kind: 'ServiceAccount', name: c.pick(['web', 'api']) });
      if (c.next(2)) refs.push({ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: refName('networkauthentication') });
      return { apiVersion: 'policy.linkerd.io/v1alpha1', kind, metadata: meta, spec: { targetRef: target, requiredAuthenticationRefs: refs } };
    }
    case 'MeshTLSAuthentication':
      return c.next(2)
        ? { apiVersion: 'policy.linkerd.io/v1alpha1', kind, metadata: meta, spec: { identities: [c.pick(IDS), ...(c.next(2) ? [c.pick(IDS)] : [])] } }
        : { apiVersion: 'policy.linkerd.io/v1alpha1', kind, metadata: meta, spec: { identityRefs: [c.pick([{ kind: 'ServiceAccount', name: 'web' }, { kind: 'Namespace', name: c.pick(['a', 'b']) }])] } };
    case 'NetworkAuthentication': {
      const cidr = c.pick(CIDRS);
      const except = cidr === '10.0.0.0/8' && c.next(2) ? ['10.66.0.0/16'] : [];
      return { apiVersion: 'policy.linkerd.io/v1alpha1', kind, metadata: meta, spec: { networks: [{ cidr, except }] } };
    }
    case 'HTTPRoute':
    case 'GRPCRoute': {
      const parentRefs = [{ group: 'policy.linkerd.io', kind: 'Server', name: c.pick([...servers, 'nope']) }];
      const match =
        kind === 'HTTPRoute'
          ? { path: { type: c.pick(['Exact', 'PathPrefix', 'RegularExpression']), value: c.pick(PATHS) }, ...(c.next(2) ? { method: c.pick(['GET', 'POST']) } : {}) }
          : { method: { service: 'pkg.S', ...(c.next(2) ? { method: 'M' } : {}) } };
      return { apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: meta, spec: { parentRefs, rules: [{ matches: [match] }] } };
    }
  }
}

const KINDS: Kinds[] = ['Server', 'AuthorizationPolicy', 'MeshTLSAuthentication', 'NetworkAuthentication', 'HTTPRoute', 'GRPCRoute'];

function parse(o: unknown, n: number): PolicyResource | undefined {
  const r = refusalOrValue(fail, 'parsePolicyResource', ['LINNET_POLICY_RESOURCE_INVALID'], () => parsePolicyResource(o, `generated ${n}`, String(n).padStart(4, '0')));
  return r.ok ? r.value : undefined;
}

function verdict(resources: PolicyResource[], pod: PodInfo, port: number, cl: { ip: ReturnType<typeof parseIp>; identity: string | undefined }, r: RequestView, grpc: boolean): { conn: Decision; req: Decision } {
  const p = compilePort(new PolicyIndex(resources), pod, port, SETTINGS);
  return { conn: decideConnection(p, cl), req: decideRequest(p, cl, r, grpc) };
}

const show = (d: Decision) => (d.allowed ? `allow ${d.route?.name ?? ''}/${d.authz.name}` : `deny ${d.reason}`);

export function run(input: Buffer): void {
  if (input.length > 0 && input[0]! % 2 === 1) {
    refusalOrValue(fail, 'parsePolicyDocuments', ['LINNET_POLICY_RESOURCE_INVALID'], () => parsePolicyDocuments(input.subarray(1).toString('utf8'), 'fuzz.yaml'));
    return;
  }
  const c = new Choices(input.subarray(1));
  const resources: PolicyResource[] = [];
  const servers: string[] = [];
  const count = 1 + c.next(8);
  for (let n = 0; n < count; n++) {
    const kind = c.pick(KINDS);
    const r = parse(object(c, kind, 'a', n, servers), n);
    if (r) {
      resources.push(r);
      if (r.kind === 'Server') servers.push(r.meta.name);
    }
  }
  const pod: PodInfo = {
    name: 'p',
    namespace: 'a',
    labels: c.next(2) ? { app: c.pick(['web', 'api']), tier: c.pick(['front', 'back']) } : {},
    portNames: new Map([['http', 8080]]),
    defaultPolicy: c.next(2) ? c.pick(DEFAULT_POLICIES) : undefined,
    probes: new Map(c.next(2) ? [[8080, ['/healthz']]] : []),
    opaquePorts: new Set([6379]),
  };
  const port = c.pick([8080, 6379, 9000]);
  const cl = { ip: parseIp(c.pick(IPS)), identity: c.next(3) ? c.pick(IDS.filter((i) => !i.includes('*'))) : undefined };
  const path = c.pick(PATHS);
  const grpc = c.next(2) === 1;
  const r: RequestView = { method: grpc ? 'POST' : c.pick(['GET', 'POST']), path, query: '', host: 'web', header: () => undefined };

  const base = verdict(resources, pod, port, cl, r, grpc);
  const again = verdict(resources, pod, port, cl, r, grpc);
  if (show(base.conn) !== show(again.conn) || show(base.req) !== show(again.req)) fail('deterministic', `${show(base.req)} then ${show(again.req)}`);

  // Something unrelated: any kind in namespace b, or a policy/route for a Server nobody declared,
  // or an authentication nothing references.
  const n = 100 + c.next(50);
  const how = c.next(3);
  const extraKind = c.pick(KINDS);
  const extra =
    how === 0
      ? parse(object(c, extraKind, 'b', n, servers), n)
      : how === 1
        ? parse(object(c, c.pick(['AuthorizationPolicy', 'HTTPRoute', 'GRPCRoute'] as const), 'a', n, ['ghost']), n)
        : parse(object(c, c.pick(['MeshTLSAuthentication', 'NetworkAuthentication'] as const), 'a', n + 1000, servers), n);
  // An AuthorizationPolicy for a ghost Server may still target the Namespace or a route by name:
  // only the ones that cannot reach this world count as unrelated.
  const unrelated = extra && !(extra.kind === 'AuthorizationPolicy' && extra.meta.namespace === 'a' && extra.target.kind !== 'Server');
  if (extra && unrelated) {
    const after = verdict([...resources, extra], pod, port, cl, r, grpc);
    if (!base.conn.allowed && after.conn.allowed) fail('unrelated-rule', `connection: ${show(base.conn)} became ${show(after.conn)} after adding ${extra.kind} ${extra.meta.namespace}/${extra.meta.name}`);
    if (!base.req.allowed && after.req.allowed) fail('unrelated-rule', `request: ${show(base.req)} became ${show(after.req)} after adding ${extra.kind} ${extra.meta.namespace}/${extra.meta.name}`);
  }

  const policy = parse(object(c, 'AuthorizationPolicy', 'a', 200 + c.next(50), servers), 200);
  if (policy) {
    const after = verdict([...resources, policy], pod, port, cl, r, grpc);
    if (base.conn.allowed && !after.conn.allowed) fail('more-policy-more-access', `connection: ${show(base.conn)} became ${show(after.conn)}`);
    if (base.req.allowed && !after.req.allowed) fail('more-policy-more-access', `request: ${show(base.req)} became ${show(after.req)}`);
  }
}

export const dictionary = ['apiVersion: policy.linkerd.io/v1beta3\nkind: Server\n', 'apiVersion: policy.linkerd.io/v1alpha1\n', 'kind: AuthorizationPolicy\n', 'spec:\n', '---\n', 'cidr: 10.0.0.0/8\n', 'except: [', 'matchExpressions:', 'requiredAuthenticationRefs:', 'identities: ["*"]'];

const target = { name, properties, run, dictionary, maxInputBytes: 4096 };
export default target;
