/**
 * For the orig-proto loopback tests: a listener that plays the inbound proxy, treating every
 * connection as HTTP/2 from a peer proxy over mTLS (its identity given) bound for `targetPort`,
 * through the real detection and the inbound stack's HTTP/2 server.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { readPrefix } from '../proxy/accept/read-prefix';
import { H2, type LoopbackProxy } from './support/stacks';

export async function listenInboundPeer(targetPort: number, lp: LoopbackProxy, clientId: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
    void readPrefix(sock, 1000).then((p) => lp.serve('inbound', sock, H2, targetPort, '127.0.0.1', { tls: 'true', client_id: clientId }, p.bytes));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}
