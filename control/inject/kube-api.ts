/**
 * The webhook's way to the Kubernetes API: the in-cluster address and service-account token, and
 * one GET. Shared by the namespace and version lookups; imports nothing of the webhook.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { InjectError } from './errors';

export interface KubeApi {
  server: string; // https://host:port
  token: string;
  ca: string | Buffer;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function inClusterApi(env: NodeJS.ProcessEnv = process.env): KubeApi {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) {
    throw new InjectError('LINNET_INJECT_INPUT', 'KUBERNETES_SERVICE_HOST is not set: not running in a cluster', {
      hint: 'run the webhook in Kubernetes, or give namespace annotations another way',
    });
  }
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    token: readFileSync(`${SA_DIR}/token`, 'utf8').trim(),
    ca: readFileSync(`${SA_DIR}/ca.crt`),
  };
}

/** GET `path` from the API server with the service account's token; the body as text, or an error naming the path. */
export function kubeGet(a: KubeApi, path: string, timeoutMs = 5000): Promise<string> {
  const url = new URL(path, a.server);
  return new Promise<string>((resolve, reject) => {
    const req = request(url, { method: 'GET', ca: a.ca, headers: { authorization: `Bearer ${a.token}`, accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}
