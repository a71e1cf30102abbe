/**
 * The API server's version, for the webhook's choice of sidecar form. An AdmissionReview does not
 * carry it, so the webhook asks `GET /version` (allowed to every authenticated client by the
 * system:public-info-viewer role) and caches the answer: a cluster upgrade is rare, a rollout
 * admits hundreds of pods. A failed lookup is cached briefly too, and the form falls back to the
 * install default or the classic sidecar.
 */
import { parseKubeVersion, type KubeVersion } from './form';
import { kubeGet, type KubeApi } from './kube-api';

export type VersionLookup = () => Promise<KubeVersion | undefined>;

export interface VersionLookupOptions {
  /** How long a good answer is kept (default 10 min: an upgrade is seen within that). */
  ttlMs?: number;
  /** How long a failure is kept before asking again (default 30 s). */
  failureTtlMs?: number;
  /** Told once per failed lookup (the webhook logs it). */
  onError?: (err: Error) => void;
}

export function kubeVersionLookup(api: KubeApi | (() => KubeApi), o: VersionLookupOptions = {}): VersionLookup {
  const ttl = o.ttlMs ?? 600_000;
  const failureTtl = o.failureTtlMs ?? 30_000;
  let cached: { at: number; value: KubeVersion | undefined; ok: boolean } | undefined;
  let inFlight: Promise<KubeVersion | undefined> | undefined;
  const ask = async (): Promise<KubeVersion | undefined> => {
    try {
      const a = typeof api === 'function' ? api() : api;
      const body = JSON.parse(await kubeGet(a, '/version')) as unknown;
      const value = parseKubeVersion(body);
      if (!value) throw new Error(`GET /version: no major/minor in ${JSON.stringify(body).slice(0, 120)}`);
      cached = { at: Date.now(), value, ok: true };
    } catch (err) {
      o.onError?.(err instanceof Error ? err : new Error(String(err)));
      cached = { at: Date.now(), value: undefined, ok: false };
    }
    return cached.value;
  };
  return () => {
    if (cached && Date.now() - cached.at < (cached.ok ? ttl : failureTtl)) return Promise.resolve(cached.value);
    // Concurrent reviews share one request.
    if (!inFlight) {
      inFlight = ask().finally(() => {
        inFlight = undefined;
      });
    }
    return inFlight;
  };
}
