/**
 * Test support (not used by the proxy): capture the real first flight of real TLS clients
 * (Node's tls, `openssl s_client`, `curl`) with a loopback TCP server that records the bytes the
 * client sends before it gets any answer, then hangs up.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseClientHello } from '../client-hello';

const CAPTURE_TIMEOUT_MS = 10_000;

/**
 * Listen on 127.0.0.1, let `start(port)` connect a client, and resolve with the bytes received
 * once they hold a complete ClientHello (or something that is definitely not one). `start`
 * returns a stop function, called when the capture is over.
 */
export async function captureFirstFlight(start: (port: number) => () => void): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  let stop: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const captured = new Promise<Buffer>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no ClientHello captured within ${CAPTURE_TIMEOUT_MS} ms`)), CAPTURE_TIMEOUT_MS);
      server.once('connection', (sock) => {
        let seen = Buffer.alloc(0);
        sock.on('error', () => {});
        sock.on('data', (chunk: Buffer) => {
          seen = Buffer.concat([seen, chunk]);
          if (parseClientHello(seen).status !== 'need-more') {
            resolve(seen);
            sock.destroy();
          }
        });
        sock.on('close', () => reject(new Error(`client closed after ${seen.length} bytes without a complete ClientHello`)));
      });
    });
    stop = start(port);
    return await captured;
  } finally {
    clearTimeout(timer);
    stop?.();
    server.close();
  }
}

/** The ClientHello of Node's own TLS client (OpenSSL inside Node). */
export function captureNodeHello(options: tls.ConnectionOptions): Promise<Buffer> {
  return captureFirstFlight((port) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    s.on('error', () => {}); // the capture server hangs up before any ServerHello
    return () => s.destroy();
  });
}

/** Run a command-line client; `args(port)` builds its arguments. */
export function captureCommandHello(command: string, args: (port: number) => string[]): Promise<Buffer> {
  return captureFirstFlight((port) => {
    // stdin stays an open pipe so that s_client does not quit before it has sent its hello.
    const child = spawn(command, args(port), { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {});
    return () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
  });
}

export function captureOpensslHello(extra: string[]): Promise<Buffer> {
  return captureCommandHello('openssl', (port) => ['s_client', '-connect', `127.0.0.1:${port}`, ...extra]);
}

/** curl to https://<host>:<port>/ with <host> resolved to 127.0.0.1, so it sends SNI <host>. */
export function captureCurlHello(host: string, extra: string[]): Promise<Buffer> {
  return captureCommandHello('curl', (port) => ['-sk', '--max-time', '10', '--resolve', `${host}:${port}:127.0.0.1`, ...extra, `https://${host}:${port}/`]);
}
