/**
 * The inbound half of mTLS between proxies: a connection whose ClientHello names our own identity
 * is terminated here (TLS 1.3 only, a client certificate required and verified against the trust
 * anchors), and the client's identity is read from its certificate.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { identityOf } from './peer-identity';
import type { TlsStore } from './store';

export interface Terminated {
  socket: TLSSocket;
  /** The client proxy's identity (its certificate's one DNS SAN). */
  clientId: string;
  /** The ALPN protocol agreed on, or false when none was (the client offered none, or `alpn` was not given). */
  alpn: string | false;
}

export class TlsAcceptError extends Error {
  constructor(
    message: string,
    readonly errno: string,
  ) {
    super(message);
  }
}

/**
 * `prefix`: the ClientHello bytes detection already read; they are put back first. `alpn`: the
 * protocols we accept, each of which the ClientHello must already offer (the caller intersects):
 * Node answers a client whose offer shares nothing with ours with a fatal alert, whereas a server
 * that sets none just ignores the offer, as before ALPN was used between proxies.
 */
export function terminateMeshed(client: Socket, prefix: Buffer, store: TlsStore, timeoutMs: number, alpn?: readonly string[]): Promise<Terminated> {
  return new Promise((resolve, reject) => {
    const ctx = store.serverContext();
    if (!ctx) return reject(new TlsAcceptError('no certificate yet', 'ENOIDENTITY'));
    if (prefix.length > 0) client.unshift(prefix);
    const socket = new TLSSocket(client, {
      isServer: true,
      secureContext: ctx,
      requestCert: true,
      rejectUnauthorized: true,
      ...(alpn && alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}),
    });
    const fail = (err: Error & { code?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new TlsAcceptError(err.message, err.code ?? 'EPROTO'));
    };
    const timer = setTimeout(() => fail(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('error', fail);
    socket.once('secure', () => {
      clearTimeout(timer);
      socket.removeListener('error', fail);
      socket.pause();
      // A TLSSocket made without a tls.Server does not act on rejectUnauthorized: OpenSSL verified
      // the chain against the anchors, but the result must be read and enforced here (the
      // handle's verifyError is what tls.Server itself checks). No handle: nothing proven.
      const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
      const verifyError: (Error & { code?: string }) | null = handle?.verifyError ? handle.verifyError() : new Error('cannot read the verification result');
      if (verifyError) {
        socket.destroy();
        return reject(new TlsAcceptError(`client certificate not trusted: ${verifyError.code ?? verifyError.message}`, 'ECERTUNTRUSTED'));
      }
      const clientId = identityOf(socket.getPeerCertificate().subjectaltname);
      if (!clientId || socket.getProtocol() !== 'TLSv1.3') {
        socket.destroy();
        return reject(new TlsAcceptError(`client certificate proves no single identity`, 'EBADIDENTITY'));
      }
      resolve({ socket, clientId, alpn: socket.alpnProtocol ?? false });
    });
  });
}
