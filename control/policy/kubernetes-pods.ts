/**
 * A Kubernetes pod as the policy compiler sees it: labels, container port names, HTTP probe
 * paths by port (kubelet's probes stay authorized, as Linkerd authorizes them), the default
 * inbound policy from the pod's annotation else its namespace's (config.linnet.io/ and Linkerd's
 * config.linkerd.io/ keys), and its opaque ports. Pure.
 */
import type { V1Namespace, V1Pod, V1Probe } from '@kubernetes/client-node';
import { isDefaultPolicy, type DefaultPolicy } from '../../core/policy/model';
import { DEFAULT_OPAQUE_PORTS } from '../destination/model';
import { opaquePortsOf, podOpaquePorts } from '../destination/kubernetes-model';
import type { PodInfo } from './compile';

export const DEFAULT_POLICY_ANNOTATIONS = ['config.linnet.io/default-inbound-policy', 'config.linkerd.io/default-inbound-policy'] as const;

function annotatedPolicy(annotations: Record<string, string> | undefined, warn?: (m: string) => void): DefaultPolicy | undefined {
  for (const k of DEFAULT_POLICY_ANNOTATIONS) {
    const v = annotations?.[k];
    if (v === undefined) continue;
    if (isDefaultPolicy(v)) return v;
    warn?.(`annotation ${k}=${JSON.stringify(v)} is not a default policy; ignored`);
  }
  return undefined;
}

/** The workload name a proxy sends in Kubernetes (Linkerd's LINKERD2_PROXY_POLICY_WORKLOAD): "<ns>:<pod>". */
export const workloadOf = (namespace: string, name: string) => `${namespace}:${name}`;

export function podInfo(pod: V1Pod, ns: V1Namespace | undefined, warn?: (m: string) => void): PodInfo {
  const namespace = pod.metadata?.namespace ?? 'default';
  const portNames = new Map<string, number>();
  const containers = pod.spec?.containers ?? [];
  for (const c of containers) for (const p of c.ports ?? []) if (p.name) portNames.set(p.name, p.containerPort);
  const probes = new Map<number, string[]>();
  const addProbe = (probe: V1Probe | undefined) => {
    const g = probe?.httpGet;
    if (!g) return;
    const port = typeof g.port === 'number' ? g.port : /^\d+$/.test(String(g.port)) ? Number(g.port) : portNames.get(String(g.port));
    if (port === undefined) return;
    const path = g.path || '/';
    const list = probes.get(port) ?? [];
    if (!list.includes(path)) list.push(path);
    probes.set(port, list);
  };
  for (const c of containers) {
    addProbe(c.livenessProbe);
    addProbe(c.readinessProbe);
    addProbe(c.startupProbe);
  }
  const opaque = podOpaquePorts(pod, warn) ?? (ns?.metadata?.annotations && opaquePortsOf(ns.metadata.annotations, warn).size > 0 ? opaquePortsOf(ns.metadata.annotations) : DEFAULT_OPAQUE_PORTS);
  const defaultPolicy = annotatedPolicy(pod.metadata?.annotations, warn) ?? annotatedPolicy(ns?.metadata?.annotations, warn);
  return {
    name: pod.metadata?.name ?? '',
    namespace,
    labels: { ...(pod.metadata?.labels ?? {}) },
    portNames,
    probes,
    opaquePorts: opaque,
    ...(defaultPolicy ? { defaultPolicy } : {}),
  };
}
