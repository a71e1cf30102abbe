/**
 * Kubernetes objects → the discovery model. Pure: Services, EndpointSlices and Pods in (as the
 * API server's JSON, or the client's typed objects, which have the same field names), MeshState
 * out. Rules, as Linkerd's destination controller:
 *  - each Service is `<name>.<namespace>.svc.<cluster-domain>`, its virtual IPs are its
 *    clusterIPs; ExternalName services are left out (they have no endpoints to balance);
 *  - its endpoints come from the EndpointSlices labelled `kubernetes.io/service-name=<name>` in
 *    its namespace; a Service port maps to the slice port of the same name;
 *  - an endpoint with `conditions.ready: false` is left out;
 *  - an endpoint whose Pod runs a Linnet (or Linkerd) proxy gets the identity
 *    `<serviceAccount>.<ns>.serviceaccount.identity.<control-ns>.<trust-domain>`;
 *  - opaque ports: the Service's `config.linnet.io/opaque-ports` (or `config.linkerd.io/...`)
 *    annotation, in Service ports; the Pod's, in container ports.
 */
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import { appProtocolKind, declaredHttp } from './app-protocol';
import { DEFAULT_WEIGHT, parsePortList, type MeshEndpoint, type MeshService, type MeshState } from './model';

export interface KubernetesNaming {
  clusterDomain: string;
  trustDomain: string;
  controlNamespace: string;
}

export const DEFAULT_NAMING: KubernetesNaming = { clusterDomain: 'cluster.local', trustDomain: 'cluster.local', controlNamespace: 'linnet' };

export const OPAQUE_PORTS_ANNOTATIONS = ['config.linnet.io/opaque-ports', 'config.linkerd.io/opaque-ports'] as const;
const PROXY_CONTAINERS = ['linnet-proxy', 'linkerd-proxy'];
const PROXY_VERSION_ANNOTATIONS = ['linnet.io/proxy-version', 'linkerd.io/proxy-version'];
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function identityFor(serviceAccount: string, namespace: string, n: KubernetesNaming): string {
  return `${serviceAccount}.${namespace}.serviceaccount.identity.${n.controlNamespace}.${n.trustDomain}`;
}

export function isMeshed(pod: V1Pod): boolean {
  const ann = pod.metadata?.annotations ?? {};
  if (PROXY_VERSION_ANNOTATIONS.some((a) => ann[a] !== undefined)) return true;
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return containers.some((c) => PROXY_CONTAINERS.includes(c.name));
}

/** The opaque ports an object's annotations declare (the Linnet key wins over Linkerd's). */
export function opaquePortsOf(annotations: Record<string, string> | undefined, warn?: (msg: string) => void): Set<number> {
  for (const key of OPAQUE_PORTS_ANNOTATIONS) {
    const v = annotations?.[key];
    if (v === undefined) continue;
    const { ports, bad } = parsePortList(v);
    if (bad.length > 0) warn?.(`annotation ${key}=${JSON.stringify(v)}: ignoring ${bad.join(', ')}`);
    return ports;
  }
  return new Set();
}

/**
 * The ports a pod's own proxy treats as opaque: its proxy container's
 * LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION (what the injector wrote: the annotation or
 * the default list, plus the server-speaks-first ports the pod exposes), else the pod's annotation;
 * undefined when neither says (the model then applies the default list to a meshed pod). Peers
 * must agree with the proxy here: they reach its opaque ports only through opaque transport.
 */
export function podOpaquePorts(pod: V1Pod, warn?: (msg: string) => void): Set<number> | undefined {
  // A native sidecar is among the init containers.
  const proxy = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => PROXY_CONTAINERS.includes(c.name));
  const env = proxy?.env?.find((e) => e.name === PROXY_OPAQUE_ENV && typeof e.value === 'string');
  if (env?.value !== undefined) {
    const { ports, bad } = parsePortList(env.value);
    if (bad.length > 0) warn?.(`pod ${pod.metadata?.namespace}/${pod.metadata?.name}: ${PROXY_OPAQUE_ENV}=${JSON.stringify(env.value)}: ignoring ${bad.join(', ')}`);
    return ports;
  }
  return OPAQUE_PORTS_ANNOTATIONS.some((k) => pod.metadata?.annotations?.[k] !== undefined) ? opaquePortsOf(pod.metadata?.annotations, warn) : undefined;
}

const PROXY_OPAQUE_ENV = 'LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION';

/**
 * The pod's owner as Linkerd's destination labels it (`deployment`, `statefulset`, `daemonset`,
 * `job`, `replicaset`, ...: the kind lower-cased, the name). A ReplicaSet a Deployment made is
 * named `<deployment>-<pod-template-hash>`, and the pod carries that hash: its deployment is the
 * name without it (the ReplicaSet itself is not fetched; a bare ReplicaSet stays `replicaset`).
 */
export function ownerLabels(pod: V1Pod): Record<string, string> {
  const refs = pod.metadata?.ownerReferences ?? [];
  const owner = refs.find((r) => r.controller) ?? refs[0];
  if (!owner?.kind || !owner.name) return {};
  const kind = owner.kind.toLowerCase();
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (kind === 'replicaset' && hash && owner.name.endsWith(`-${hash}`)) {
    return { deployment: owner.name.slice(0, -hash.length - 1), pod_template_hash: hash };
  }
  return { [kind]: owner.name };
}

export function meshFromKubernetes(
  services: readonly V1Service[],
  slices: readonly V1EndpointSlice[],
  pods: readonly V1Pod[],
  naming: KubernetesNaming = DEFAULT_NAMING,
  warn?: (msg: string) => void,
): MeshState {
  const podsByKey = new Map<string, V1Pod>();
  for (const p of pods) podsByKey.set(`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`, p);
  const slicesByService = new Map<string, V1EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${s.metadata?.namespace ?? ''}/${svc}`;
    const list = slicesByService.get(key);
    if (list) list.push(s);
    else slicesByService.set(key, [s]);
  }

  const podInfo = (ns: string, name: string | undefined) => {
    const pod = name ? podsByKey.get(`${ns}/${name}`) : undefined;
    if (!pod) return { labels: {} as Record<string, string> };
    const sa = pod.spec?.serviceAccountName || 'default';
    const labels: Record<string, string> = { pod: name!, serviceaccount: sa, ...ownerLabels(pod) };
    return {
      labels,
      identity: isMeshed(pod) ? identityFor(sa, ns, naming) : undefined,
      opaquePorts: podOpaquePorts(pod, warn),
    };
  };

  const out: MeshService[] = [];
  const endpointIpsInServices = new Set<string>();
  for (const svc of services) {
    const ns = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name;
    if (!name || svc.spec?.type === 'ExternalName') continue;
    const addresses = (svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : [])).filter((ip) => ip && ip !== 'None');
    const svcPorts = (svc.spec?.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
    const endpoints: MeshEndpoint[] = [];
    for (const slice of slicesByService.get(`${ns}/${name}`) ?? []) {
      if (slice.addressType === 'FQDN') continue;
      // Service port → this slice's port of the same name (names are '' for a single port).
      const portMap = new Map<number, number>();
      for (const sp of svcPorts) {
        const match = (slice.ports ?? []).find((p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === 'TCP');
        if (match?.port !== undefined && match.port !== null) portMap.set(sp.port, match.port);
      }
      for (const ep of slice.endpoints ?? []) {
        if (ep.conditions?.ready === false) continue;
        const podName = ep.targetRef?.kind === 'Pod' ? ep.targetRef.name : undefined;
        const info = podInfo(ep.targetRef?.namespace ?? ns, podName);
        for (const ip of ep.addresses ?? []) {
          endpointIpsInServices.add(ip);
          endpoints.push({
            ip,
            portMap,
            labels: info.labels,
            weight: DEFAULT_WEIGHT,
            ...(info.identity ? { identity: info.identity } : {}),
            ...(info.opaquePorts ? { opaquePorts: info.opaquePorts } : {}),
          });
        }
      }
    }
    out.push({
      name: `${name}.${ns}.svc.${naming.clusterDomain}`,
      addresses,
      ports: svcPorts.map((p) => p.port),
      // The annotation's ports, plus every port whose appProtocol says it is not HTTP.
      opaquePorts: new Set([...opaquePortsOf(svc.metadata?.annotations, warn), ...svcPorts.filter((p) => appProtocolKind(p.appProtocol) === 'opaque').map((p) => p.port)]),
      httpPorts: new Map(svcPorts.flatMap((p) => {
        const http = declaredHttp(appProtocolKind(p.appProtocol));
        return http ? [[p.port, http] as const] : [];
      })),
      labels: { namespace: ns, service: name },
      endpoints,
    });
  }

  // Meshed pods that are in no Service can still be reached by IP; list them for lookups by IP.
  const standalone: MeshEndpoint[] = [];
  for (const pod of pods) {
    const ip = pod.status?.podIP;
    const ns = pod.metadata?.namespace ?? 'default';
    if (!ip || endpointIpsInServices.has(ip) || pod.spec?.hostNetwork || pod.status?.phase !== 'Running') continue;
    const info = podInfo(ns, pod.metadata?.name);
    standalone.push({
      ip,
      labels: { ...info.labels, namespace: ns },
      weight: DEFAULT_WEIGHT,
      ...(info.identity ? { identity: info.identity } : {}),
      ...(info.opaquePorts ? { opaquePorts: info.opaquePorts } : {}),
    });
  }
  return { services: out, standalone, workloads: [] };
}
