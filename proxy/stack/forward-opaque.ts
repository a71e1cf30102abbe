/**
 * The opaque TCP handler: connect to the target and relay bytes both ways, recording the TCP
 * metrics of both sides. Bytes read during detection are sent first.
 */
import type { Socket } from 'node:net';
import { TcpStats } from '../metrics/tcp-metrics';
import { ConnectError } from '../tcp/connect';
import { openEndpoint } from '../mesh/open-endpoint';
import { relay } from '../tcp/relay';
import type { ConnContext } from './context';

export interface OpaqueOptions {
  /** Bytes already read from the client (during detection). */
  initial?: Buffer;
}

export async function forwardOpaque(client: Socket, ctx: ConnContext, opts: OpaqueOptions = {}): Promise<void> {
  const { side, target, tcp, open, log } = ctx;
  const srcStats = new TcpStats(
    tcp,
    { direction: side.direction, peer: 'src', target_addr: target.addr, ...(ctx.srcTls ?? { tls: 'no_identity', no_tls_reason: side.srcNoTlsReason }) },
    client,
  );
  open.add(srcStats);

  let server: Socket;
  let opened;
  try {
    // The original destination, or a balanced endpoint (over mTLS when it is meshed).
    opened = await openEndpoint(ctx);
    server = opened.socket;
  } catch (err) {
    const errno = err instanceof ConnectError ? err.errno : 'EIO';
    tcp.connectErrors.inc({ direction: side.direction, target_addr: target.addr, errno });
    log.info('target refused or unreachable; resetting client', { direction: side.direction, target: target.addr, errno });
    // The client already has a connection to "the target": a reset is the closest we can get
    // to the refusal it would have seen without the proxy.
    client.resetAndDestroy();
    srcStats.close(errno);
    open.remove(srcStats);
    return;
  }
  if (client.destroyed) {
    server.destroy();
    srcStats.close('ECONNABORTED');
    open.remove(srcStats);
    return;
  }
  open.track(server);
  const dstStats = new TcpStats(
    tcp,
    { direction: side.direction, peer: 'dst', target_addr: opened.addr, ...opened.tls },
    server,
  );
  open.add(dstStats);
  relay(client, server, {
    initial: opts.initial,
    onClose: (srcErrno, dstErrno) => {
      srcStats.close(srcErrno);
      dstStats.close(dstErrno);
      open.remove(srcStats);
      open.remove(dstStats);
    },
  });
}
