/**
 * One accepted connection's first steps, the same for both directions: track it, learn its
 * original destination, and hand it to the side's stack (proxy/inbound, proxy/outbound), which
 * decides detection, mTLS and the protocol. Accept knows no protocol: the stack brings its table.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../core/log';
import { noTls } from '../metrics/labels';
import { formatAddr } from '../transport/connect';
import { socketOriginalDst } from '../transport/native';
import type { Conn, OpenConnections, Side, Target } from './context';

/** What a side does with its connections once accept knows where they were going. */
export interface Stack {
  readonly side: Side;
  /**
   * Whether this side takes connections made straight to its listener from outside the pod (the
   * inbound side with mTLS: a peer proxy's opaque transport). Otherwise such a connection was not
   * redirected by iptables and is refused.
   */
  readonly acceptsDirect: boolean;
  accept(client: Socket, conn: Conn, direct: boolean): Promise<void>;
}

export async function acceptConnection(client: Socket, stack: Stack, open: OpenConnections, log: Logger): Promise<void> {
  open.track(client);
  // Errors before a protocol takes over (during detection or a connect) must not go unhandled;
  // protocols attach their own listeners. One function for every socket, not a closure each.
  client.on('error', ignoreError);
  const r = resolveTarget(client, stack, log);
  if (!r) return;
  // Every field from the start: the context keeps one shape as the stack fills it in.
  const conn: Conn = { side: stack.side, target: r.target, srcTls: noTls(stack.side.srcNoTlsReason), open, log, src: undefined, clientAddr: undefined, clientPort: undefined, metricsSite: undefined };
  return stack.accept(client, conn, r.direct);
}

function ignoreError(): void {}

/**
 * The connection's original destination, or undefined (client reset) when it has none usable.
 * `direct`: made to our own port from outside the pod, for a side that takes those.
 */
function resolveTarget(client: Socket, stack: Stack, log: Logger): { target: Target; direct: boolean } | undefined {
  const { side } = stack;
  let dst;
  try {
    dst = socketOriginalDst(client);
  } catch (err) {
    log.warn('connection has no original destination; closing', { peer: client.remoteAddress, error: (err as Error).message });
    client.resetAndDestroy();
    return undefined;
  }
  // A connection made straight to the proxy's own port was not redirected; following its
  // "original destination" would connect the proxy to itself.
  const addr = formatAddr(dst.host, dst.port);
  if (dst.port === side.listenPort && stack.acceptsDirect && !isLoopback(dst.host) && !isLoopback(client.remoteAddress ?? '')) {
    return { target: { host: dst.host, port: dst.port, addr }, direct: true };
  }
  if (dst.port === side.listenPort && (dst.host === client.localAddress || dst.host.startsWith('127.'))) {
    log.warn('connection was not redirected by iptables; closing', { peer: client.remoteAddress, target: addr });
    client.resetAndDestroy();
    return undefined;
  }
  return { target: { host: dst.host, port: dst.port, addr }, direct: false };
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}
