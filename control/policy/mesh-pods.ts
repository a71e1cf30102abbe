/**
 * The embedded mode's pods, out of the mesh file: a pod is an endpoint address (the workload a
 * proxy names is its IP), its labels are the labels the mesh file gives that endpoint, its
 * namespace the one in its identity (`sa.ns.serviceaccount.…`), else in its service's name
 * (`svc.ns.svc.…`), else "default". Pure.
 */
import { DEFAULT_OPAQUE_PORTS, canonicalIp, type MeshIndex } from '../destination/model';
import type { PodInfo } from './compile';
import { serviceOfHost, type ServiceParent } from './outbound';
import type { OutboundTarget } from './source';

/**
 * The embedded mode's Services: a mesh-file service named `name.ns.svc.<domain>` is the Service
 * `ns/name`; a target is its virtual IP and port, or its name and port. Other names are not
 * Services (no routes attach to them).
 */
export function meshServiceParent(index: MeshIndex, target: OutboundTarget): ServiceParent | undefined {
  const text = 'addr' in target ? target.addr : target.authority;
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const svc = 'addr' in target ? index.byVip.get(canonicalIp(host)) : index.byName.get(host.toLowerCase());
  if (!svc || (svc.ports.length > 0 && !svc.ports.includes(port))) return undefined;
  const s = serviceOfHost(svc.name);
  return s ? { ...s, port } : undefined;
}

export function podsFromMesh(index: MeshIndex): Map<string, PodInfo> {
  const pods = new Map<string, PodInfo>();
  for (const [ip, entries] of index.byEndpointIp) {
    const labels: Record<string, string> = {};
    let namespace: string | undefined;
    const opaque = new Set<number>();
    for (const { service, endpoint } of entries) {
      Object.assign(labels, endpoint.labels);
      const fromId = endpoint.identity?.split('.');
      if (!namespace && fromId && fromId[2] === 'serviceaccount') namespace = fromId[1];
      const fromSvc = service?.name.split('.');
      if (!namespace && fromSvc && fromSvc[2] === 'svc') namespace = fromSvc[1];
      for (const p of endpoint.opaquePorts ?? DEFAULT_OPAQUE_PORTS) opaque.add(p);
    }
    pods.set(canonicalIp(ip), { name: labels['pod'] ?? ip, namespace: namespace ?? 'default', labels, portNames: new Map(), probes: new Map(), opaquePorts: opaque });
  }
  return pods;
}
