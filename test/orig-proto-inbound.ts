/**
 * For the orig-proto loopback tests: a listener that plays the inbound proxy, treating every
 * connection as HTTP/2 from a peer proxy over mTLS (srcTls set) bound for `targetPort`, through
 * the real detection and HTTP/2 handler.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { ConnContext } from '../proxy/stack/context';
import { serveH2 } from '../proxy/http/h2/serve';
import { readPrefix } from '../proxy/stack/read-prefix';

export type InboundBase = Pick<ConnContext, 'tcp' | 'http' | 'open' | 'log'>;

export async function listenInboundPeer(targetPort: number, base: InboundBase, clientId: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
    base.open.track(sock);
    const ctx: ConnContext = {
      ...base,
      side: {
        direction: 'inbound',
        opaquePorts: new Set(),
        listenPort: 0,
        detectTimeoutMs: 250,
        connectTimeoutMs: 1000,
        srcNoTlsReason: 'no_tls_from_remote',
        dstNoTlsReason: 'loopback',
      },
      target: { host: '127.0.0.1', port: targetPort, addr: `127.0.0.1:${targetPort}` },
      srcTls: { tls: 'true', client_id: clientId },
    };
    void readPrefix(sock, 1000).then((p) => serveH2(sock, p.bytes, { kind: 'h2' }, ctx));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}
