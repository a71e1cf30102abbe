/**
 * One accepted connection's way into the proxy, the same for both directions:
 * original destination → protocol detection (unless the port is opaque) → the protocol's handler
 * (proxy/stack/dispatch.ts). Everything that differs between inbound and outbound is in `Side`.
 */
import type { Socket } from 'node:net';
import { socketOriginalDst } from '../native';
import { formatAddr } from '../tcp/connect';
import type { ConnContext, Side, Target } from './context';
import { handlerFor } from './dispatch';
import { forwardOpaque } from './forward-opaque';
import { readPrefix } from './read-prefix';
import { acceptMeshed, inboundVerdict } from '../mesh/inbound';
import { acceptOpaqueTransport } from '../mesh/opaque-transport';
import type { Detected } from '../detect/detect';

const H2_BY_ALPN: Detected = Object.freeze({ kind: 'h2' });
const EMPTY = Buffer.alloc(0);

export async function handleConnection(client: Socket, base: Omit<ConnContext, 'target'>): Promise<void> {
  const { side, open } = base;
  open.track(client);
  // Errors before a handler takes over (during detection or a connect) must not go unhandled;
  // handlers attach their own listeners.
  client.on('error', () => {});

  const resolved = resolveTarget(client, side, base);
  if (!resolved) return;
  const ctx: ConnContext = { ...base, target: resolved.target };
  // Straight to our inbound port from a peer proxy: opaque transport (mTLS, then a header).
  if (resolved.direct) return acceptOpaqueTransport(client, ctx);
  const { target, mesh } = ctx;

  if (side.opaquePorts.has(target.port)) {
    // Meshed peers reach an opaque port through opaque transport, never here, so nothing on it
    // is detected: plaintext is forwarded at once, or refused where the port requires mTLS.
    if (side.direction === 'inbound' && mesh?.tls && mesh.requireTlsPorts.has(target.port)) {
      mesh.metrics.plaintextRefused.inc({ target_addr: target.addr, reason: 'opaque' });
      base.log.info('port requires mTLS; closing a connection without it', { target: target.addr, peer: client.remoteAddress });
      client.resetAndDestroy();
      return;
    }
    return forwardOpaque(client, ctx);
  }
  // A destination discovery marks opaque (every endpoint's port) is not detected either.
  if (side.direction === 'outbound' && mesh?.balancers) {
    const route = await mesh.balancers.route(target.host, target.port);
    if (route.kind === 'balanced' && route.opaque) return forwardOpaque(client, ctx);
  }
  return detectAndDispatch(client, ctx);
}

/** Detection, then the handler; runs a second time on the clear stream of a terminated mTLS connection. */
async function detectAndDispatch(client: Socket, ctx: ConnContext): Promise<void> {
  const { side, target, log, mesh } = ctx;
  const prefix = await readPrefix(client, side.detectTimeoutMs);
  const o = prefix.outcome;
  if (o.kind === 'gone') {
    log.debug('client left during detection', { target: target.addr, errno: o.errno });
    client.destroy();
    return;
  }
  if (side.direction === 'inbound' && mesh && !ctx.srcTls) {
    const verdict = inboundVerdict(o, target.port, mesh.tls?.localName, mesh.requireTlsPorts);
    if (verdict === 'refuse') {
      mesh.metrics.plaintextRefused.inc({ target_addr: target.addr, reason: o.kind === 'detected' ? o.detected.kind : o.kind });
      log.info('port requires mTLS; closing a connection without it', { target: target.addr, peer: client.remoteAddress });
      client.resetAndDestroy();
      return;
    }
    if (verdict === 'terminate') {
      const offered = o.kind === 'detected' && o.detected.kind === 'tls' ? o.detected.alpn : [];
      const t = await acceptMeshed(client, prefix.bytes, mesh, target.addr, side.detectTimeoutMs + side.connectTimeoutMs, offered);
      if (!t) return;
      ctx.open.track(t.socket);
      t.socket.on('error', () => {});
      const tctx: ConnContext = { ...ctx, srcTls: { tls: 'true', client_id: t.clientId } };
      // The peer's HTTP/2 pool agreed on h2: no second detection, and nothing read off the clear
      // stream, so the HTTP/2 session reads the TLS socket itself (serve.ts).
      if (t.alpn === 'h2') {
        log.debug('detected', { direction: side.direction, target: target.addr, protocol: 'h2', alpn: 'h2' });
        return handlerFor(H2_BY_ALPN)(t.socket, EMPTY, H2_BY_ALPN, tctx);
      }
      return detectAndDispatch(t.socket, tctx);
    }
  }
  if (o.kind !== 'detected') {
    // Silent client (the server speaks first) or a FIN before any decision: opaque, nothing lost.
    log.debug('opaque', { direction: side.direction, target: target.addr, why: o.kind, prefix_bytes: prefix.bytes.length });
    return forwardOpaque(client, ctx, { initial: prefix.bytes });
  }
  log.debug('detected', { direction: side.direction, target: target.addr, protocol: o.detected.kind, prefix_bytes: prefix.bytes.length });
  return handlerFor(o.detected)(client, prefix.bytes, o.detected, ctx);
}

/**
 * The connection's original destination, or undefined (client reset) when it has none usable.
 * `direct`: an inbound connection made to our own port from outside the pod (opaque transport).
 */
function resolveTarget(client: Socket, side: Side, base: Omit<ConnContext, 'target'>): { target: Target; direct: boolean } | undefined {
  let dst;
  try {
    dst = socketOriginalDst(client);
  } catch (err) {
    base.log.warn('connection has no original destination; closing', { peer: client.remoteAddress, error: (err as Error).message });
    client.resetAndDestroy();
    return undefined;
  }
  // A connection made straight to the proxy's own port was not redirected; following its
  // "original destination" would connect the proxy to itself.
  const addr = formatAddr(dst.host, dst.port);
  if (dst.port === side.listenPort && side.direction === 'inbound' && base.mesh?.tls && !isLoopback(dst.host) && !isLoopback(client.remoteAddress ?? '')) {
    return { target: { host: dst.host, port: dst.port, addr }, direct: true };
  }
  if (dst.port === side.listenPort && (dst.host === client.localAddress || dst.host.startsWith('127.'))) {
    base.log.warn('connection was not redirected by iptables; closing', { peer: client.remoteAddress, target: formatAddr(dst.host, dst.port) });
    client.resetAndDestroy();
    return undefined;
  }
  return { target: { host: dst.host, port: dst.port, addr }, direct: false };
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}
