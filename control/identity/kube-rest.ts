/**
 * A few REST calls against the Kubernetes API server (get, create, replace, JSON patch) for the
 * identity's Secrets and ConfigMap. The kubeconfig and its credentials come from
 * @kubernetes/client-node (loaded only here, as the discovery source does); the requests are
 * plain HTTPS so that a conflict (409) is a status to act on, not an exception to decode.
 */
import { request } from 'node:https';
import type * as K8s from '@kubernetes/client-node';
import { IdentityError } from './errors';

export interface KubeResponse {
  status: number;
  body: Record<string, unknown> & { metadata?: { resourceVersion?: string; name?: string; annotations?: Record<string, string> } };
}

export interface KubeRest {
  readonly server: string;
  call(method: 'GET' | 'POST' | 'PUT' | 'PATCH', path: string, body?: unknown, contentType?: string): Promise<KubeResponse>;
}

export function loadKubeConfig(opts: { kubeconfig?: string; kubeConfig?: K8s.KubeConfig }): K8s.KubeConfig {
  if (opts.kubeConfig) return opts.kubeConfig;
  let k8s: typeof K8s;
  try {
    k8s = require('@kubernetes/client-node') as typeof K8s;
  } catch (err) {
    throw new IdentityError('LINNET_IDENTITY_STORE_FAILED', `cannot load @kubernetes/client-node: ${(err as Error).message}`, { hint: 'npm ci, Node 20.19+', cause: err });
  }
  const kc = new k8s.KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new IdentityError('LINNET_IDENTITY_STORE_FAILED', `cannot load the Kubernetes configuration: ${(err as Error).message}`, { hint: 'pass --kubeconfig FILE or run in a pod', cause: err });
  }
  if (!kc.getCurrentCluster()) throw new IdentityError('LINNET_IDENTITY_STORE_FAILED', 'the Kubernetes configuration has no current cluster', { hint: "check the kubeconfig's current-context" });
  return kc;
}

export function kubeRest(kc: K8s.KubeConfig, timeoutMs = 10_000): KubeRest {
  const server = kc.getCurrentCluster()!.server.replace(/\/$/, '');
  return {
    server,
    async call(method, path, body, contentType = 'application/json') {
      const url = new URL(server + path);
      const opts: import('node:https').RequestOptions = { method, headers: { accept: 'application/json' } };
      await kc.applyToHTTPSOptions(opts);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      if (payload) opts.headers = { ...opts.headers, 'content-type': contentType, 'content-length': String(payload.length) };
      return new Promise<KubeResponse>((resolve, reject) => {
        const req = request(url, { ...opts, timeout: timeoutMs }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: KubeResponse['body'] = {};
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              parsed = { message: text.slice(0, 200) };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs}ms`)));
        req.on('error', (err) =>
          reject(new IdentityError('LINNET_IDENTITY_STORE_FAILED', `${method} ${server}${path}: ${err.message}`, { hint: 'check that the API server is reachable', cause: err })),
        );
        req.end(payload);
      });
    },
  };
}

/** An error for an answer that is neither what we wanted nor a conflict. */
export function unexpected(what: string, r: KubeResponse): IdentityError {
  const msg = typeof r.body['message'] === 'string' ? r.body['message'] : JSON.stringify(r.body).slice(0, 200);
  const hint = r.status === 403 ? 'the control plane\'s RBAC must allow get/create/update on its Secrets and ConfigMap (linnet install renders it)' : 'check the API server';
  return new IdentityError('LINNET_IDENTITY_STORE_FAILED', `${what}: HTTP ${r.status}: ${msg}`, { hint });
}
