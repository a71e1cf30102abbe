/**
 * Reads a namespace's annotations from the Kubernetes API (GET /api/v1/namespaces/NAME), for the
 * webhook. In a cluster it uses the pod's service account; the answers are cached briefly since a
 * rollout admits many pods of one namespace in a burst.
 */
import { kubeGet, type KubeApi } from './kube-api';
import type { NamespaceLookup } from './webhook';

export { inClusterApi, kubeGet, type KubeApi } from './kube-api';

export function kubeNamespaceLookup(api: KubeApi | (() => KubeApi), ttlMs = 10_000): NamespaceLookup {
  const cache = new Map<string, { at: number; value: Record<string, string> }>();
  return async (namespace) => {
    const hit = cache.get(namespace);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const a = typeof api === 'function' ? api() : api;
    const body = await kubeGet(a, `/api/v1/namespaces/${encodeURIComponent(namespace)}`);
    const ns = JSON.parse(body) as { metadata?: { annotations?: Record<string, string> } };
    const value = ns.metadata?.annotations ?? {};
    cache.set(namespace, { at: Date.now(), value });
    return value;
  };
}
