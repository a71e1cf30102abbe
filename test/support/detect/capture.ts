/**
 * Test support (not used by the proxy): capture the real first flight of real clients (Node's
 * tls, `openssl s_client`, `curl`, `nghttp`, `redis-cli`, `swaks`) with a loopback TCP server
 * that records the bytes a client sends before it gets any answer, then hangs up.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseClientHello } from '../../../proxy/accept/detect/client-hello';

const CAPTURE_TIMEOUT_MS = 10_000;
/** A client that waits for an answer goes quiet; this long without bytes ends a capture. */
const QUIET_MS = 150;

export interface CaptureOptions {
  /** Bytes the server sends on accept, for protocols where the server speaks first (SMTP). */
  greeting?: Buffer;
  /** Stop as soon as this holds for the bytes so far (else: after QUIET_MS without new bytes). */
  done?: (seen: Buffer) => boolean;
}

/** A complete ClientHello, or something that is definitely not one. */
export const helloDone = (seen: Buffer) => parseClientHello(seen).status !== 'need-more';

/**
 * Listen on 127.0.0.1, let `start(port)` connect a client, and resolve with the bytes it sent
 * before it got any answer (beyond the optional greeting). `start` returns a stop function,
 * called when the capture is over.
 */
export async function captureFirstFlight(start: (port: number, fail: (e: Error) => void) => () => void, options: CaptureOptions = {}): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  let stop: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let quiet: NodeJS.Timeout | undefined;
  let fail: (e: Error) => void = () => {};
  try {
    const captured = new Promise<Buffer>((resolve, reject) => {
      fail = reject;
      timer = setTimeout(() => reject(new Error(`nothing captured within ${CAPTURE_TIMEOUT_MS} ms`)), CAPTURE_TIMEOUT_MS);
      server.once('connection', (sock) => {
        let seen = Buffer.alloc(0);
        const finish = () => {
          resolve(seen);
          sock.destroy();
        };
        sock.on('error', () => {});
        if (options.greeting) sock.write(options.greeting);
        sock.on('data', (chunk: Buffer) => {
          seen = Buffer.concat([seen, chunk]);
          clearTimeout(quiet);
          if (options.done?.(seen)) finish();
          else quiet = setTimeout(finish, QUIET_MS);
        });
        sock.on('close', () => (seen.length > 0 ? resolve(seen) : reject(new Error('client closed without sending a byte'))));
      });
    });
    stop = start(port, fail);
    return await captured;
  } finally {
    clearTimeout(timer);
    clearTimeout(quiet);
    stop?.();
    server.close();
  }
}

/** The ClientHello of Node's own TLS client (OpenSSL inside Node). */
export function captureNodeHello(options: tls.ConnectionOptions): Promise<Buffer> {
  return captureFirstFlight(
    (port) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      s.on('error', () => {}); // the capture server hangs up before any ServerHello
      return () => s.destroy();
    },
    { done: helloDone },
  );
}

/** Run a command-line client; `args(port)` builds its arguments. */
export function captureCommand(command: string, args: (port: number) => string[], options: CaptureOptions = {}): Promise<Buffer> {
  return captureFirstFlight((port, fail) => {
    // stdin stays an open pipe so that s_client does not quit before it has sent its hello.
    const child = spawn(command, args(port), { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', (e) => fail(new Error(`cannot run ${command} (${e.message}); the detect tests need curl, openssl, nghttp2-client, redis-tools and swaks installed`)));
    return () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
  }, options);
}

export function captureOpensslHello(extra: string[]): Promise<Buffer> {
  return captureCommand('openssl', (port) => ['s_client', '-connect', `127.0.0.1:${port}`, ...extra], { done: helloDone });
}

/** curl to https://<host>:<port>/ with <host> resolved to 127.0.0.1, so it sends SNI <host>. */
export function captureCurlHello(host: string, extra: string[]): Promise<Buffer> {
  return captureCommand('curl', (port) => ['-sk', '--max-time', '10', '--resolve', `${host}:${port}:127.0.0.1`, ...extra, `https://${host}:${port}/`], {
    done: helloDone,
  });
}
