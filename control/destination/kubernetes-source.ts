/**
 * The Kubernetes discovery source: Services, EndpointSlices and Pods watched through
 * @kubernetes/client-node informers (list, then watch from the list's resourceVersion; a 410 Gone
 * makes the informer relist). Any change rebuilds the snapshot (debounced), which the
 * Destination server diffs per stream. The client package is ESM-only and loaded with
 * require(esm) only when this source is used.
 */
import type * as K8s from '@kubernetes/client-node';
import { LinnetError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { DEFAULT_NAMING, meshFromKubernetes, type KubernetesNaming } from './kubernetes-model';
import { EMPTY_INDEX, indexMesh } from './model';
import { SnapshotHolder, type DiscoverySource } from './source';
import { startInformers } from '../informer-set';

export interface KubernetesSourceOptions {
  /** A kubeconfig file; default: KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
  kubeconfig?: string;
  /** Or a ready KubeConfig (tests). */
  kubeConfig?: K8s.KubeConfig;
  naming?: Partial<KubernetesNaming>;
  log?: Logger;
  /** Coalesces bursts of watch events into one rebuild. */
  debounceMs?: number;
  /** How long start() waits for the first complete list of all three kinds. */
  syncTimeoutMs?: number;
  /** Delay before restarting an informer that stopped on an error (doubles up to 30 s). */
  retryBaseMs?: number;
}

export interface KubernetesSource extends DiscoverySource {}

function loadClient(): typeof K8s {
  try {
    return require('@kubernetes/client-node') as typeof K8s;
  } catch (err) {
    throw new LinnetError('LINNET_KUBERNETES_CLIENT_UNAVAILABLE', `cannot load @kubernetes/client-node: ${(err as Error).message}`, {
      hint: 'install dependencies (npm ci) and use Node 20.19+ (the package is ESM-only, loaded through require(esm))',
      cause: err,
    });
  }
}

export async function createKubernetesSource(opts: KubernetesSourceOptions = {}): Promise<KubernetesSource> {
  const k8s = loadClient();
  const log = opts.log;
  const naming: KubernetesNaming = { ...DEFAULT_NAMING, ...opts.naming };
  let kc = opts.kubeConfig;
  if (!kc) {
    kc = new k8s.KubeConfig();
    try {
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
    } catch (err) {
      throw new LinnetError('LINNET_KUBERNETES_CONFIG', `cannot load the Kubernetes configuration: ${(err as Error).message}`, {
        hint: 'pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a service account',
        cause: err,
      });
    }
  }
  if (!kc.getCurrentCluster()) {
    throw new LinnetError('LINNET_KUBERNETES_CONFIG', 'the Kubernetes configuration has no current cluster', {
      hint: 'check the kubeconfig\'s current-context',
    });
  }
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);

  const informers = {
    services: k8s.makeInformer<K8s.V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces()),
    slices: k8s.makeInformer<K8s.V1EndpointSlice>(kc, '/apis/discovery.k8s.io/v1/endpointslices', () =>
      discovery.listEndpointSliceForAllNamespaces(),
    ),
    pods: k8s.makeInformer<K8s.V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces()),
  };

  const holder = new SnapshotHolder(EMPTY_INDEX);
  const warned = new Set<string>();
  const rebuild = () => {
    const state = meshFromKubernetes(informers.services.list(), informers.slices.list(), informers.pods.list(), naming, (msg) => {
      if (!warned.has(msg)) {
        warned.add(msg);
        log?.warn(msg);
      }
    });
    holder.set(indexMesh(state));
    log?.debug('kubernetes snapshot rebuilt', { services: state.services.length, standalone: state.standalone?.length ?? 0 });
  };
  const syncTimeout = opts.syncTimeoutMs ?? 30_000;
  const set = await startInformers(Object.entries(informers) as [string, K8s.Informer<K8s.KubernetesObject>][], rebuild, { ...opts, syncTimeoutMs: syncTimeout });
  if (!set) {
    throw new LinnetError('LINNET_KUBERNETES_SYNC_TIMEOUT', `could not list Services, EndpointSlices and Pods within ${syncTimeout} ms`, {
      hint: 'check the API server address, credentials and RBAC (list/watch on services, endpointslices, pods)',
    });
  }
  return {
    kind: 'kubernetes',
    snapshot: () => holder.get(),
    subscribe: (fn) => holder.subscribe(fn),
    close: () => set.close(),
  };
}
