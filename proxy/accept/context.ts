/**
 * What the accept layer knows of a connection once it has its original destination, handed to
 * the side's stack (proxy/inbound, proxy/outbound) and on to the protocol that serves it.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../core/log';
import type { TlsLabels } from '../metrics/labels';
import type { Direction, TrackedSide } from '../metrics/tcp-metrics';

/** Everything that differs between the inbound and the outbound listener. */
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

/** One accepted connection: where it was going and who sent it. */
export interface Conn {
  side: Side;
  target: Target;
  /** The accepted side's TLS: a peer proxy's identity once its mTLS is terminated, else why not. */
  srcTls: TlsLabels;
  /** The worker's open connections: every socket a connection opens is tracked here. */
  open: OpenConnections;
  log: Logger;
  /** The accepted side's TCP metrics, once a protocol serves the connection (accept/serve.ts). */
  src?: TrackedSide;
  /** The client's address (inbound: what authorization's networks match against). */
  clientAddr?: string;
  /** The client's port (tap's source). */
  clientPort?: number;
  /**
   * Inbound: what fixes this connection's request metrics but the authority (the port's Server),
   * as the object HttpMetrics.startAt finds their series by; made at the first request.
   */
  metricsSite?: { srv: { kind: string; name: string } | undefined };
}

/** The set of open sockets a socket is tracked in, for the close listener they share. */
const OPEN = Symbol('linnet.open');
type OpenSocket = Socket & { [OPEN]?: Set<Socket> };

function forgetOnClose(this: OpenSocket): void {
  this[OPEN]!.delete(this);
}

/** The sockets a worker has open, so a drain can wait for them and a grace period end them. */
export class OpenConnections {
  private readonly sockets = new Set<Socket>();
  track(socket: Socket): void {
    this.sockets.add(socket);
    const s = socket as OpenSocket;
    if (s[OPEN] === this.sockets) return;
    if (s[OPEN] === undefined) {
      // One listener shared by every tracked socket: no closure per connection.
      s[OPEN] = this.sockets;
      socket.on('close', forgetOnClose);
    } else socket.on('close', () => this.sockets.delete(socket));
  }
  get size(): number {
    return this.sockets.size;
  }
  /** Grace period over: close what is left. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
