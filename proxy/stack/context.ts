/**
 * What a protocol handler gets for one accepted connection: which side it came in on, where it
 * was going (the original destination), and the worker's metrics, connection set and logger.
 */
import type { Logger } from '../log';
import type { HttpMetrics } from '../metrics/http-metrics';
import type { Direction, TcpMetrics } from '../metrics/tcp-metrics';
import type { MeshContext, TlsLabels } from '../mesh/context';

export interface Side {
  direction: Direction;
  /** Ports forwarded with no detection. */
  opaquePorts: ReadonlySet<number>;
  /** The port this side listens on, to refuse connections that were not redirected to it. */
  listenPort: number;
  detectTimeoutMs: number;
  connectTimeoutMs: number;
  /** `no_tls_reason` for the accepted side and for the side the proxy dials. */
  srcNoTlsReason: string;
  dstNoTlsReason: string;
}

/** The original destination of a redirected connection. */
export interface Target {
  host: string;
  port: number;
  /** `ip:port` (`[ip]:port` for IPv6), the `target_addr` label. */
  addr: string;
}

export interface ConnContext {
  side: Side;
  target: Target;
  tcp: TcpMetrics;
  http: HttpMetrics;
  open: OpenConnections;
  log: Logger;
  /** The worker's mesh state (TLS material, discovery balancers, require-TLS ports). */
  mesh?: MeshContext;
  /** Set when the inbound side terminated a peer proxy's mTLS: the accepted side's TLS labels. */
  srcTls?: TlsLabels;
}

import type { Socket } from 'node:net';
import type { TcpStats } from '../metrics/tcp-metrics';

/** The set of connections a worker has open, so a scrape can bring their byte counts up to date. */
export class OpenConnections {
  private readonly live = new Set<TcpStats>();
  private readonly sockets = new Set<Socket>();
  add(stats: TcpStats): void {
    this.live.add(stats);
  }
  remove(stats: TcpStats): void {
    this.live.delete(stats);
  }
  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
  flush(): void {
    for (const s of this.live) s.flush();
  }
  get size(): number {
    return this.sockets.size;
  }
  /** Grace period over: close what is left. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
