/**
 * One accepted connection's way through the proxy, the same for both directions:
 * original destination → protocol detection (unless the port is opaque) → connect → relay.
 * Everything that differs between inbound and outbound is in the `Side` description.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log';
import { originalDst, socketFd } from '../native';
import { connectTarget, ConnectError, formatAddr } from '../tcp/connect';
import { relay } from '../tcp/relay';
import { TcpStats, type Direction, type TcpMetrics } from '../metrics/tcp-metrics';
import { readPrefix } from './read-prefix';

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

export async function handleConnection(client: Socket, side: Side, metrics: TcpMetrics, open: OpenConnections, log: Logger): Promise<void> {
  open.track(client);
  let clientErrno = '';
  // Errors before the relay takes over (during detection or the connect) must not go unhandled.
  client.on('error', (err: NodeJS.ErrnoException) => {
    clientErrno = err.code ?? 'EIO';
  });

  let dst;
  try {
    dst = originalDst(socketFd(client), client.remoteFamily === 'IPv6' ? 6 : 4);
  } catch (err) {
    log.warn('connection has no original destination; closing', { peer: client.remoteAddress, error: (err as Error).message });
    client.resetAndDestroy();
    return;
  }
  // A connection made straight to the proxy's own port was not redirected; following its
  // "original destination" would connect the proxy to itself.
  if (dst.port === side.listenPort && (dst.host === client.localAddress || dst.host.startsWith('127.'))) {
    log.warn('connection was not redirected by iptables; closing', { peer: client.remoteAddress, target: formatAddr(dst.host, dst.port) });
    client.resetAndDestroy();
    return;
  }
  const target = formatAddr(dst.host, dst.port);

  let initial: Buffer | undefined;
  let srcEnded = false;
  if (!side.opaquePorts.has(dst.port)) {
    const prefix = await readPrefix(client, side.detectTimeoutMs);
    const o = prefix.outcome;
    if (o.kind === 'gone') {
      log.debug('client left during detection', { target, errno: o.errno || clientErrno });
      client.destroy();
      return;
    }
    initial = prefix.bytes;
    srcEnded = o.kind === 'eof';
    if (log.enabled('debug')) {
      const protocol = o.kind === 'detected' ? o.detected.kind : o.kind === 'timeout' ? 'opaque (client silent)' : 'opaque (client ended)';
      log.debug('detected', { direction: side.direction, target, protocol, prefix_bytes: prefix.bytes.length });
    }
  }

  const srcStats = new TcpStats(
    metrics,
    { direction: side.direction, peer: 'src', target_addr: target, tls: 'no_identity', no_tls_reason: side.srcNoTlsReason },
    client,
  );
  open.add(srcStats);

  let server: Socket;
  try {
    server = await connectTarget(dst.host, dst.port, side.connectTimeoutMs);
  } catch (err) {
    const errno = err instanceof ConnectError ? err.errno : 'EIO';
    metrics.connectErrors.inc({ direction: side.direction, target_addr: target, errno });
    log.info('target refused or unreachable; resetting client', { direction: side.direction, target, errno });
    // The client already has a connection to "the target": a reset is the closest we can get
    // to the refusal it would have seen without the proxy.
    client.resetAndDestroy();
    srcStats.close(errno);
    open.remove(srcStats);
    return;
  }
  if (client.destroyed) {
    server.destroy();
    srcStats.close(clientErrno || 'ECONNABORTED');
    open.remove(srcStats);
    return;
  }
  open.track(server);
  const dstStats = new TcpStats(
    metrics,
    { direction: side.direction, peer: 'dst', target_addr: target, tls: 'no_identity', no_tls_reason: side.dstNoTlsReason },
    server,
  );
  open.add(dstStats);
  relay(client, server, {
    initial,
    srcEnded,
    onClose: (srcErrno, dstErrno) => {
      srcStats.close(srcErrno);
      dstStats.close(dstErrno);
      open.remove(srcStats);
      open.remove(dstStats);
    },
  });
}
