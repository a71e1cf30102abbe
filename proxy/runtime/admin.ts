/**
 * The admin server (port 4191): liveness, readiness, merged metrics, and an opt-in shutdown
 * endpoint that only localhost may call (as linkerd2-proxy's, for Jobs whose main container
 * exits).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SocketAddr } from '../../core/parse';
import type { Logger } from '../../core/log';

export interface AdminHooks {
  ready(): boolean;
  metrics(): Promise<string>;
  /**
   * Exact latency per "direction authority", merged across workers: percentiles (µs), or with
   * `buckets` the HDR buckets themselves (cumulative counts a viewer can subtract to cut windows).
   */
  latency(buckets: boolean): Promise<unknown>;
  shutdownEnabled: boolean;
  shutdown(): void;
}

function isLoopback(addr: string | undefined): boolean {
  return addr !== undefined && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
}

function reply(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function startAdmin(addr: SocketAddr, hooks: AdminHooks, log: Logger): Promise<Server> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const [path, query = ''] = (req.url ?? '/').split('?');
    if (path === '/live' && (req.method === 'GET' || req.method === 'HEAD')) return reply(res, 200, 'live\n');
    if (path === '/ready' && (req.method === 'GET' || req.method === 'HEAD')) {
      return hooks.ready() ? reply(res, 200, 'ready\n') : reply(res, 503, 'not ready\n');
    }
    if (path === '/metrics' && req.method === 'GET') {
      return reply(res, 200, await hooks.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
    }
    if (path === '/latency' && req.method === 'GET') {
      const buckets = new URLSearchParams(query).get('buckets') === '1';
      return reply(res, 200, JSON.stringify(await hooks.latency(buckets)) + '\n', 'application/json');
    }
    if (path === '/shutdown') {
      if (req.method !== 'POST') return reply(res, 405, 'use POST\n');
      if (!hooks.shutdownEnabled) return reply(res, 404, 'shutdown endpoint is disabled (LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED)\n');
      if (!isLoopback(req.socket.remoteAddress)) return reply(res, 403, 'shutdown is only accepted from localhost\n');
      reply(res, 202, 'shutting down\n');
      hooks.shutdown();
      return;
    }
    reply(res, 404, 'not found: try /live, /ready, /metrics, /latency or POST /shutdown\n');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      log.error('admin request failed', { path: req.url, error: String(err) });
      if (!res.headersSent) reply(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
