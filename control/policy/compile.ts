/**
 * From resources to the policy of one port of one pod, as Linkerd's policy controller computes
 * it: the oldest Server that selects the pod and names the port decides the protocol and the
 * default for traffic no policy names (accessPolicy); AuthorizationPolicies targeting that Server
 * (or its Namespace) authorize every route, those targeting a route only that route; without a
 * Server, the pod's default policy (its annotation, its namespace's, else the install's). Pure.
 */
import { ALL_NETWORKS, type IpNet } from '../../core/policy/net';
import {
  defaultAuthorizations,
  defaultRoute,
  probeRoute,
  type Authn,
  type Authz,
  type DefaultPolicy,
  type InboundPolicy,
  type InboundRoute,
  type NetworkMatch,
  type ProxyProtocol,
  type RateLimit,
} from '../../core/policy/model';
import { GATEWAY_GROUP, POLICY_GROUP, type AuthorizationPolicyRes, type PolicyResource, type RateLimitRes, type Ref, type RouteRes, type ServerRes } from './resources';
import { selects } from './selector';

/** What the compiler knows of a pod. */
export interface PodInfo {
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Container port names to numbers, for Servers that name their port. */
  portNames: ReadonlyMap<string, number>;
  /** The pod's (else its namespace's) default-inbound-policy annotation. */
  defaultPolicy?: DefaultPolicy;
  /** HTTP probe paths by port (liveness, readiness, startup). */
  probes: ReadonlyMap<number, readonly string[]>;
  /** Ports the pod marks opaque (annotation or mesh file). */
  opaquePorts: ReadonlySet<number>;
}

export interface CompileSettings {
  /** The install's default (`--default-inbound-policy`). */
  defaultPolicy: DefaultPolicy;
  clusterNetworks: readonly IpNet[];
  /** `identity.<control-ns>.<trust-domain>`: what ServiceAccount and Namespace references expand to. */
  identityDomain: string;
}

type OfKind<K extends PolicyResource['kind']> = PolicyResource extends infer R ? (R extends { kind: infer RK } ? (K extends RK ? R : never) : never) : never;

/** The resources, grouped once so that compiling a port is a few lookups. */
export class PolicyIndex {
  readonly all: readonly PolicyResource[];
  private readonly byNs = new Map<string, PolicyResource[]>();

  constructor(resources: readonly PolicyResource[]) {
    // Oldest first, then by name: Linkerd's order when several could apply.
    this.all = [...resources].sort((a, b) => (a.meta.created < b.meta.created ? -1 : a.meta.created > b.meta.created ? 1 : a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0));
    for (const r of this.all) {
      let l = this.byNs.get(r.meta.namespace);
      if (!l) this.byNs.set(r.meta.namespace, (l = []));
      l.push(r);
    }
  }

  in<K extends PolicyResource['kind']>(ns: string, kind: K): OfKind<K>[] {
    return (this.byNs.get(ns) ?? []).filter((r): r is OfKind<K> => r.kind === kind);
  }

  find<K extends PolicyResource['kind']>(ref: Ref, kind: K): OfKind<K> | undefined {
    return this.in(ref.namespace, kind).find((r) => r.meta.name === ref.name);
  }
}

/** The Server that governs this pod's port: the oldest that selects the pod and names the port. */
export function serverFor(index: PolicyIndex, pod: PodInfo, port: number): ServerRes | undefined {
  return index.in(pod.namespace, 'Server').find((s) => !s.external && selects(s.selector, pod.labels) && (typeof s.port === 'number' ? s.port === port : pod.portNames.get(s.port) === port));
}

export function compilePort(index: PolicyIndex, pod: PodInfo, port: number, settings: CompileSettings): InboundPolicy {
  const probes = pod.probes.get(port) ?? [];
  const server = serverFor(index, pod, port);
  if (!server) {
    const policy = pod.defaultPolicy ?? settings.defaultPolicy;
    const authorizations = defaultAuthorizations(policy, settings.clusterNetworks);
    const routes = [...(probes.length > 0 ? [probeRoute(probes)] : []), defaultRoute(authorizations)];
    const protocol: ProxyProtocol = pod.opaquePorts.has(port) ? 'opaque' : 'detect';
    return { protocol, server: { kind: 'default', name: policy }, authorizations, routes };
  }
  const ns = pod.namespace;
  const policies = index.in(ns, 'AuthorizationPolicy');
  const serverPolicies = policies.filter((p) => (p.target.kind === 'Server' && p.target.name === server.meta.name) || (p.target.kind === 'Namespace' && p.target.name === ns));
  const authorizations = [...serverPolicies.flatMap((p) => compileAuthz(index, p, settings)), ...defaultAuthorizations(server.accessPolicy, settings.clusterNetworks)];
  const attached = (r: RouteRes) => r.parents.some((p) => p.kind === 'Server' && p.group === POLICY_GROUP && p.name === server.meta.name && p.namespace === ns);
  const grpcOnly = server.protocol === 'grpc';
  const routeRes = [...index.in(ns, 'HTTPRoute').filter((r) => !grpcOnly && attached(r)), ...index.in(ns, 'GRPCRoute').filter(attached)];
  let routes: InboundRoute[];
  if (routeRes.length === 0) {
    routes = [...(probes.length > 0 ? [probeRoute(probes)] : []), defaultRoute(authorizations)];
  } else {
    routes = routeRes.map((r) => {
      const own = policies.filter((p) => p.target.kind === r.kind && p.target.name === r.meta.name && (p.target.group === r.group || (r.group === GATEWAY_GROUP && p.target.group === GATEWAY_GROUP)));
      return {
        kind: r.kind,
        name: r.meta.name,
        hosts: r.hostnames,
        http: r.kind === 'HTTPRoute' ? r.http : [],
        grpc: r.kind === 'GRPCRoute' ? r.grpc : [],
        authorizations: [...own.flatMap((p) => compileAuthz(index, p, settings)), ...authorizations],
      };
    });
  }
  const limit = index.in(ns, 'HTTPLocalRateLimitPolicy').find((l) => l.target.name === server.meta.name);
  return {
    protocol: server.protocol,
    server: { kind: 'server', name: server.meta.name },
    authorizations,
    routes,
    ...(limit ? { rateLimit: compileRateLimit(limit, settings) } : {}),
  };
}

export const saIdentity = (name: string, ns: string, settings: CompileSettings) => `${name}.${ns}.serviceaccount.${settings.identityDomain}`;

/**
 * One AuthorizationPolicy as an authorization: every required authentication must hold. A
 * reference that does not resolve makes the policy authorize nobody (Linkerd ignores it), so a
 * typo never opens a door.
 */
export function compileAuthz(index: PolicyIndex, p: AuthorizationPolicyRes, settings: CompileSettings): Authz[] {
  let networks: NetworkMatch[] = ALL_NETWORKS.map((net) => ({ net, except: [] }));
  let authn: Authn = { kind: 'unauthenticated' };
  for (const ref of p.required) {
    if (ref.kind === 'NetworkAuthentication') {
      const na = index.find(ref, 'NetworkAuthentication');
      if (!na) return [];
      networks = na.networks;
    } else if (ref.kind === 'ServiceAccount') {
      authn = { kind: 'meshTLS', identities: [saIdentity(ref.name, ref.namespace, settings)], suffixes: [] };
    } else {
      const m = index.find(ref, 'MeshTLSAuthentication');
      if (!m) return [];
      const identities: string[] = [];
      const suffixes: string[][] = [];
      for (const id of m.identities) {
        if (id === '*') suffixes.push([]);
        else if (id.startsWith('*.')) suffixes.push(id.slice(2).split('.'));
        else identities.push(id);
      }
      for (const r of m.identityRefs) {
        // No name (Linkerd's CRD allows it): every ServiceAccount of the namespace (the ref's, else the authentication's).
        if (r.kind === 'ServiceAccount' && r.name !== '') identities.push(saIdentity(r.name, r.namespace, settings));
        else if (r.name === '*') suffixes.push([]);
        else suffixes.push([r.kind === 'ServiceAccount' || r.name === '' ? r.namespace : r.name, 'serviceaccount', ...settings.identityDomain.split('.')]);
      }
      authn = { kind: 'meshTLS', identities, suffixes };
    }
  }
  return [{ kind: 'authorizationpolicy', name: p.meta.name, networks, authn }];
}

function compileRateLimit(l: RateLimitRes, settings: CompileSettings): RateLimit {
  return {
    name: l.meta.name,
    total: l.total,
    identity: l.identity,
    overrides: l.overrides.map((o) => ({ requestsPerSecond: o.requestsPerSecond, identities: o.clientRefs.map((c) => saIdentity(c.name, c.namespace, settings)) })),
  };
}
