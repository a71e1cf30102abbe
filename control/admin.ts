/**
 * The control plane's admin listener (Linkerd's :9990): `/metrics` (Prometheus text of the
 * control plane's registry: the identity CA's gauges and counters), `/live`, `/ready`.
 * `linnet check --control ADDR` reads the identity figures from here; `GET /identity/proxies`
 * (JSON: the proxies this replica certified, which anchors each was given and which anchor its
 * leaf chains to) is what `linnet identity rotate-anchor` waits on.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ControlAdmin {
  port: number;
  close(): Promise<void>;
}

export async function startControlAdmin(addr: string, registry: Registry, ready: () => boolean, routes: Record<string, () => unknown> = {}): Promise<ControlAdmin> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/live') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('live\n');
    if (path === '/ready') {
      const ok = ready();
      return void res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    const route = routes[path ?? ''];
    if (route) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(route()) + '\n');
    res.writeHead(404).end();
  });
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(Number(addr.slice(i + 1)), host, () => ok());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
