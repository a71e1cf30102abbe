/**
 * One HTTP/2 connection to a control-plane service, made with our own engine (h2/connection.ts)
 * in place of grpc-js: dialled when a call needs it (plain TCP, or TLS checked against given
 * anchors and server name with ALPN h2), reused while it takes streams, PINGed while calls are
 * open so that a dead peer is noticed, and dialled again after it is gone. A failed dial fails the
 * calls that waited for it (UNAVAILABLE); retrying with backoff is the caller's, as with grpc-js.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from '../../../core/log';
import { H2Connection } from '../h2/connection';
import type { H2Settings } from '../h2/settings';

export interface ChannelOptions {
  /** HOST:PORT (a name is resolved at each dial). */
  address: string;
  /** TLS to the service, its certificate checked against `ca` for `servername`; absent: plaintext. */
  tls?: { ca: string | Buffer; servername: string };
  /** The :authority of calls (default: the server name with TLS, else the address). */
  authority?: string;
  settings: H2Settings;
  connectTimeoutMs?: number;
  /** While calls are open: a PING this often, and the connection dropped if none is answered in time. */
  keepAliveMs?: number;
  keepAliveTimeoutMs?: number;
  log?: Logger;
}

export class ChannelError extends Error {}

export class GrpcChannel {
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  private conn: H2Connection | undefined;
  private dialing: Promise<H2Connection> | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly host: string;
  private readonly port: number;

  constructor(private readonly opts: ChannelOptions) {
    const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(opts.address);
    if (!m) throw new ChannelError(`${opts.address} is not HOST:PORT`);
    this.host = m[1]!;
    this.port = Number(m[2]);
    this.scheme = opts.tls ? 'https' : 'http';
    this.authority = opts.authority ?? opts.tls?.servername ?? opts.address;
  }

  /** A connection that takes new streams: the current one, or a new dial. */
  connection(): Promise<H2Connection> {
    if (this.closed) return Promise.reject(new ChannelError('the channel is closed'));
    if (this.conn?.usable) return Promise.resolve(this.conn);
    this.dialing ??= this.dial().finally(() => (this.dialing = undefined));
    return this.dialing;
  }

  close(): void {
    this.closed = true;
    this.stopKeepAlive();
    this.conn?.close();
    this.conn = undefined;
  }

  private dial(): Promise<H2Connection> {
    const { tls, settings, log } = this.opts;
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    return new Promise<H2Connection>((resolve, reject) => {
      let socket: Socket;
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ChannelError(`connecting to ${this.opts.address}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      };
      const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      const ready = () => {
        clearTimeout(timer);
        socket.off('error', fail);
        if (this.closed) {
          socket.destroy();
          return reject(new ChannelError('the channel is closed'));
        }
        const conn = new H2Connection(socket, { role: 'client', settings, ...(log ? { log } : {}) }, {
          onClose: () => {
            if (this.conn === conn) {
              this.conn = undefined;
              this.stopKeepAlive();
            }
          },
        });
        this.conn = conn;
        this.startKeepAlive(conn);
        resolve(conn);
      };
      if (tls) {
        socket = tlsConnect({ host: this.host, port: this.port, ca: tls.ca, servername: tls.servername, ALPNProtocols: ['h2'] }, () => {
          const s = socket as import('node:tls').TLSSocket;
          if (s.alpnProtocol !== 'h2') return fail(new Error(`the server did not agree to h2 (ALPN ${String(s.alpnProtocol)})`));
          ready();
        });
      } else socket = netConnect({ host: this.host, port: this.port }, ready);
      socket.once('error', fail);
    });
  }

  private startKeepAlive(conn: H2Connection): void {
    this.stopKeepAlive();
    const every = this.opts.keepAliveMs ?? 30_000;
    const within = this.opts.keepAliveTimeoutMs ?? 10_000;
    if (every <= 0) return;
    this.keepAlive = setInterval(() => {
      if (conn.activeStreams === 0 || conn.destroyed) return;
      const t = setTimeout(() => conn.destroy(new ChannelError(`no PING answer within ${within} ms`)), within);
      conn.ping(() => clearTimeout(t));
    }, every);
    this.keepAlive.unref();
  }

  private stopKeepAlive(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}
