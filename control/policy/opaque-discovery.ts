/**
 * A Server's `proxyProtocol: opaque` told to discovery, as Linkerd's destination service does
 * with its protocol hint: an endpoint whose pod has a port governed by an opaque Server is given
 * that port among its opaque ports, so the Destination API marks it opaque (with opaque transport
 * to a meshed endpoint's proxy) and clients' proxies forward it as bytes, never detecting it.
 * A view over a discovery source and a policy source: its snapshot is the discovery snapshot with
 * those ports added, rebuilt only when either changes; without any opaque Server it is the
 * discovery snapshot itself.
 */
import { canonicalIp, DEFAULT_OPAQUE_PORTS, indexMesh, type MeshEndpoint, type MeshIndex, type MeshService } from '../destination/model';
import type { DiscoverySource } from '../destination/source';
import { serverFor, type PodInfo } from './compile';
import type { PolicySnapshot, PolicySource } from './source';

/** The pod an endpoint is: by its IP (the embedded mode's workloads), else `namespace:pod` (Kubernetes'). */
function podOf(policy: PolicySnapshot, e: MeshEndpoint, s: MeshService | undefined): PodInfo | undefined {
  const byIp = policy.pod(canonicalIp(e.ip));
  if (byIp) return byIp;
  const ns = e.labels['namespace'] ?? s?.labels['namespace'];
  const name = e.labels['pod'];
  return ns && name ? policy.pod(`${ns}:${name}`) : undefined;
}

/** The ports of `pod` that an opaque Server governs (the one serverFor picks, as the policy does). */
export function opaqueServerPorts(policy: PolicySnapshot, pod: PodInfo): Set<number> {
  const out = new Set<number>();
  for (const s of policy.index.in(pod.namespace, 'Server')) {
    if (s.protocol !== 'opaque') continue;
    const port = typeof s.port === 'number' ? s.port : pod.portNames.get(s.port);
    if (port !== undefined && serverFor(policy.index, pod, port)?.protocol === 'opaque') out.add(port);
  }
  return out;
}

/** `mesh` with every endpoint's opaque ports extended by its pod's opaque Servers' ports. */
export function withOpaqueServers(mesh: MeshIndex, policy: PolicySnapshot): MeshIndex {
  if (!policy.index.all.some((r) => r.kind === 'Server' && r.protocol === 'opaque')) return mesh;
  let changed = false;
  const extend = (e: MeshEndpoint, s: MeshService | undefined): MeshEndpoint => {
    const pod = podOf(policy, e, s);
    const extra = pod ? opaqueServerPorts(policy, pod) : undefined;
    if (!extra || extra.size === 0) return e;
    // Absent, a meshed endpoint's own list is the default one (model.ts describe()); kept.
    const own = e.opaquePorts ?? (e.identity !== undefined ? DEFAULT_OPAQUE_PORTS : new Set<number>());
    if ([...extra].every((p) => own.has(p))) return e;
    changed = true;
    return { ...e, opaquePorts: new Set([...own, ...extra]) };
  };
  const state = mesh.state;
  const services = state.services.map((s) => {
    const endpoints = s.endpoints.map((e) => extend(e, s));
    return endpoints.every((e, i) => e === s.endpoints[i]) ? s : { ...s, endpoints };
  });
  const standalone = state.standalone?.map((e) => extend(e, undefined));
  if (!changed) return mesh;
  return indexMesh({ ...state, services, ...(standalone ? { standalone } : {}) });
}

/** The discovery source the Destination API serves when a policy source is there too. */
export function discoveryWithOpaqueServers(discovery: DiscoverySource, policy: PolicySource): DiscoverySource {
  let cache: { mesh: MeshIndex; policy: PolicySnapshot; out: MeshIndex } | undefined;
  return {
    kind: discovery.kind,
    snapshot() {
      const mesh = discovery.snapshot();
      const p = policy.snapshot();
      if (cache?.mesh !== mesh || cache.policy !== p) cache = { mesh, policy: p, out: withOpaqueServers(mesh, p) };
      return cache.out;
    },
    subscribe(fn) {
      const a = discovery.subscribe(fn);
      const b = policy.subscribe(fn);
      return () => {
        a();
        b();
      };
    },
    // The two sources are closed by their owner.
    close: () => Promise.resolve(),
  };
}
