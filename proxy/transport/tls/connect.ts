/**
 * The outbound half of mTLS between proxies: TLS 1.3 to a meshed endpoint with SNI = the
 * endpoint's identity, our own certificate as the client certificate, the trust anchors as the
 * only CAs, and the server's certificate required to prove exactly that identity.
 */
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { ConnectError, formatAddr } from '../connect';
import { DIRECT_READ, directSocket } from '../direct-read';
import { checkPeerIdentity } from './peer-identity';
import type { TlsStore } from './store';

/**
 * `alpn`: protocols to offer (the HTTP/2 pool offers `h2` so that the peer's inbound can hand the
 * TLS socket straight to its HTTP/2 session). None by default: opaque and HTTP/1 connections
 * offer nothing, as a peer that predates ALPN expects. A peer that ignores the offer still works:
 * the client then speaks and is detected on the clear stream as before. `directRead`: as for
 * connectTarget.
 */
export function connectMeshed(
  host: string,
  port: number,
  identity: string,
  store: TlsStore,
  timeoutMs: number,
  alpn?: readonly string[],
  directRead = false,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const target = formatAddr(host, port);
    const ctx = store.clientContext();
    if (!ctx) return reject(new ConnectError(target, 'ENOIDENTITY'));
    const options = {
      host,
      port,
      servername: identity,
      secureContext: ctx,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      rejectUnauthorized: true,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkPeerIdentity(identity, cert.subjectaltname),
      allowHalfOpen: true,
      noDelay: true,
      ...(alpn && alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}),
      ...(directRead ? { onread: DIRECT_READ } : {}),
    } as ConnectionOptions;
    const socket = tlsConnect(options);
    if (directRead) directSocket(socket);
    socket.pause();
    const fail = (errno: string, cause?: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectError(target, errno, cause));
    };
    const timer = setTimeout(() => fail('ETIMEDOUT'), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'EPROTO', err));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
