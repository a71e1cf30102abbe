/**
 * Talking to a pod's proxy admin server from the test process, which stays in the root network
 * namespace. A socat inside the pod listens on a filesystem unix socket (those are not tied to a
 * network namespace) and connects to 127.0.0.1:<admin port> inside the pod; we speak HTTP over it.
 */
import { request } from 'node:http';
import { PodError } from './errors';

export interface AdminResponse {
  readonly status: number;
  readonly body: string;
}

export function adminRequest(socketPath: string, method: string, path: string, timeoutMs = 5000): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { host: 'localhost' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on('error', (e) =>
      reject(new PodError('LINNET_POD_ADMIN_UNREACHABLE', `${method} ${path} via ${socketPath}: ${e.message}`, 'is the proxy running and its admin server listening?', e)),
    );
    req.end();
  });
}
