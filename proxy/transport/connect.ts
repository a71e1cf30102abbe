/**
 * Opens the proxy's connection to a target with a deadline. Failures come back as a typed error
 * carrying the errno (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...) for metrics and logs.
 */
import { connect, type Socket, type TcpNetConnectOpts } from 'node:net';
import { LinnetError } from '../../core/errors';
import { DIRECT_READ, directSocket } from './direct-read';

export class ConnectError extends LinnetError {
  constructor(
    readonly target: string,
    readonly errno: string,
    cause?: unknown,
  ) {
    super('LINNET_CONNECT_FAILED', `could not connect to ${target}: ${errno}`, {
      hint: 'check that the target is listening and reachable from the proxy',
      cause,
    });
    this.name = 'ConnectError';
  }
}

export function formatAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `directRead`: the socket's owner will take its bytes with takeBytes (direct-read.ts); a socket for a relay is not. */
export function connectTarget(host: string, port: number, timeoutMs: number, directRead = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const options: TcpNetConnectOpts = { host, port, allowHalfOpen: true, noDelay: true };
    if (directRead) options.onread = DIRECT_READ;
    const socket = connect(options);
    if (directRead) directSocket(socket);
    socket.pause();
    const fail = (errno: string, cause?: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectError(formatAddr(host, port), errno, cause));
    };
    const timer = setTimeout(() => fail('ETIMEDOUT'), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'EIO', err));
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
