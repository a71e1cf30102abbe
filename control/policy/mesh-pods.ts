/**
 * The embedded mode's pods, out of the mesh file: a pod is an endpoint address (the workload a
 * proxy names is its IP), its labels are the labels the mesh file gives that endpoint, its
 * namespace the one in its identity (`sa.ns.serviceaccount.…`), else in its service's name
 * (`svc.ns.svc.…`), else "default". Pure.
 */
import { DEFAULT_OPAQUE_PORTS, canonicalIp, type MeshIndex } from '../destination/model';
import type { PodInfo } from './compile';

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
