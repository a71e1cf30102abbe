/**
 * The Kubernetes policy source: Pods, Namespaces and Linkerd's policy resources (Servers,
 * AuthorizationPolicies, MeshTLS/NetworkAuthentications, HTTPLocalRateLimitPolicies, and
 * HTTPRoutes/GRPCRoutes of policy.linkerd.io and gateway.networking.k8s.io) through informers:
 * list, then watch, relist on 410 Gone, restart with backoff after an error, as discovery's
 * source does. A resource the API server accepted but Linnet cannot read is logged (with its
 * path and reason) and left out; a resource kind whose CRD is not installed (404) counts as empty.
 */
import type * as K8s from '@kubernetes/client-node';
import { LinnetError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { PolicyIndex } from './compile';
import { podInfo, workloadOf } from './kubernetes-pods';
import { parsePolicyResource, PolicyResourceError, type PolicyResource } from './resources';
import { serviceOfHost, type ServiceParent } from './outbound';
import { PolicyHolder, type OutboundTarget, type PolicySource } from './source';
import { startInformers } from '../informer-set';

export interface KubernetesPolicySourceOptions {
  kubeConfig: K8s.KubeConfig;
  log?: Logger;
  debounceMs?: number;
  syncTimeoutMs?: number;
  retryBaseMs?: number;
}

/** The custom resources watched: group, version, plural. */
export const POLICY_CRDS = [
  ['policy.linkerd.io', 'v1beta3', 'servers'],
  ['policy.linkerd.io', 'v1alpha1', 'authorizationpolicies'],
  ['policy.linkerd.io', 'v1alpha1', 'meshtlsauthentications'],
  ['policy.linkerd.io', 'v1alpha1', 'networkauthentications'],
  ['policy.linkerd.io', 'v1alpha1', 'httplocalratelimitpolicies'],
  ['policy.linkerd.io', 'v1beta3', 'httproutes'],
  ['gateway.networking.k8s.io', 'v1', 'httproutes'],
  ['gateway.networking.k8s.io', 'v1', 'grpcroutes'],
] as const;

/** Cluster IP:port and name.ns.svc.*:port → the Service port (a port the Service declares). */
function servicesByTarget(list: readonly K8s.V1Service[]): (t: OutboundTarget) => ServiceParent | undefined {
  const byIp = new Map<string, { namespace: string; name: string; ports: number[] }>();
  const byName = new Map<string, { namespace: string; name: string; ports: number[] }>();
  for (const s of list) {
    const entry = { namespace: s.metadata?.namespace ?? 'default', name: s.metadata?.name ?? '', ports: (s.spec?.ports ?? []).map((p) => p.port) };
    byName.set(`${entry.name}.${entry.namespace}`, entry);
    for (const ip of s.spec?.clusterIPs ?? (s.spec?.clusterIP ? [s.spec.clusterIP] : [])) if (ip !== 'None') byIp.set(ip, entry);
  }
  return (t) => {
    const text = 'addr' in t ? t.addr : t.authority;
    const colon = text.lastIndexOf(':');
    const port = Number(text.slice(colon + 1));
    const host = text.slice(0, colon).replace(/^\[|\]$/g, '');
    const named = 'authority' in t ? serviceOfHost(host) : undefined;
    const e = 'addr' in t ? byIp.get(host) : named && byName.get(`${named.name}.${named.namespace}`);
    return e && e.ports.includes(port) ? { namespace: e.namespace, name: e.name, port } : undefined;
  };
}

export async function createKubernetesPolicySource(opts: KubernetesPolicySourceOptions): Promise<PolicySource> {
  const k8s = require('@kubernetes/client-node') as typeof K8s;
  const kc = opts.kubeConfig;
  const log = opts.log;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  type Inf = K8s.Informer<K8s.KubernetesObject> & K8s.ObjectCache<K8s.KubernetesObject>;
  const informers: [string, Inf][] = [
    ['pods', k8s.makeInformer<K8s.V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces()) as unknown as Inf],
    ['namespaces', k8s.makeInformer<K8s.V1Namespace>(kc, '/api/v1/namespaces', () => core.listNamespace()) as unknown as Inf],
    // Services: the parents of outbound routes (their cluster IPs) and their route annotations.
    ['services', k8s.makeInformer<K8s.V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces()) as unknown as Inf],
    ...POLICY_CRDS.map(([group, version, plural]): [string, Inf] => [
      `${group}/${plural}`,
      k8s.makeInformer<K8s.KubernetesObject>(kc, `/apis/${group}/${version}/${plural}`, () => custom.listClusterCustomObject({ group, version, plural }) as Promise<K8s.KubernetesListObject<K8s.KubernetesObject>>),
    ]),
  ];
  const byName = new Map(informers);
  const holder = new PolicyHolder();
  const warned = new Set<string>();
  const warn = (m: string) => {
    if (warned.has(m)) return;
    if (warned.size > 1000) warned.clear();
    warned.add(m);
    log?.warn(m);
  };

  const rebuild = () => {
    const resources: PolicyResource[] = [];
    for (const [name, inf] of informers) {
      if (name === 'pods' || name === 'namespaces') continue;
      for (const item of inf.list()) {
        // Items of a core list carry no kind of their own.
        const o = name === 'services' ? { ...item, apiVersion: 'v1', kind: 'Service' } : item;
        const where = `${o.kind ?? name} ${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
        try {
          resources.push(parsePolicyResource(o, where));
        } catch (err) {
          if (err instanceof PolicyResourceError) warn(`policy resource ignored: ${err.message.replace(/\n\s*/g, '; ')}`);
          else throw err;
        }
      }
    }
    const namespaces = new Map((byName.get('namespaces')!.list() as K8s.V1Namespace[]).map((n) => [n.metadata?.name ?? '', n]));
    const pods = new Map<string, K8s.V1Pod>();
    for (const p of byName.get('pods')!.list() as K8s.V1Pod[]) pods.set(workloadOf(p.metadata?.namespace ?? 'default', p.metadata?.name ?? ''), p);
    const infos = new Map<string, ReturnType<typeof podInfo>>();
    const services = servicesByTarget(byName.get('services')!.list() as K8s.V1Service[]);
    holder.set({
      index: new PolicyIndex(resources),
      pod: (w) => {
        let i = infos.get(w);
        if (!i) {
          const p = pods.get(w);
          if (!p) return undefined;
          i = podInfo(p, namespaces.get(p.metadata?.namespace ?? 'default'), warn);
          infos.set(w, i);
        }
        return i;
      },
      service: (t) => services(t),
    });
    log?.debug('kubernetes policy rebuilt', { resources: resources.length, pods: pods.size });
  };
  const syncTimeout = opts.syncTimeoutMs ?? 30_000;
  // A kind whose CRD is not installed (404), or that RBAC hides (403): nothing of it is known;
  // looked at again later rather than holding the control plane's start.
  const set = await startInformers(informers, rebuild, { ...opts, syncTimeoutMs: syncTimeout, emptyOn: [404, 403] });
  if (!set) {
    throw new LinnetError('LINNET_KUBERNETES_SYNC_TIMEOUT', `could not list Pods, Namespaces and the policy resources within ${syncTimeout} ms`, {
      hint: 'check the API server, credentials and RBAC (list/watch on pods, namespaces and policy.linkerd.io / gateway.networking.k8s.io resources)',
    });
  }
  return { kind: 'kubernetes', snapshot: () => holder.get(), subscribe: (fn) => holder.subscribe(fn), close: () => set.close() };
}
