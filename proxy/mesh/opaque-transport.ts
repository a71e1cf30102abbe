/**
 * Opaque transport between proxies, as Linkerd does it. A port marked opaque gets no protocol
 * detection, so a peer proxy's mTLS cannot be recognised there; instead, for a meshed endpoint on
 * an opaque port (discovery's `opaque_transport.inbound_port`), the client proxy connects to the
 * peer's inbound port 4143 itself, completes mTLS, and names the real port in a transport header
 * (transport-header.ts). The inbound side forwards the rest of the stream to that port untouched.
 * Unmeshed clients of an opaque port are then forwarded at once, with no detect timeout.
 * This module is the inbound half; the outbound half is in open-endpoint.ts.
 */
import type { Socket } from 'node:net';
import { formatAddr } from '../tcp/connect';
import { readPrefix } from '../stack/read-prefix';
import type { ConnContext } from '../stack/context';
import { forwardOpaque } from '../stack/forward-opaque';
import { acceptMeshed, inboundVerdict } from './inbound';
import { decodeTransportHeader, TransportHeaderError, type TransportHeader } from './transport-header';

const NO_PORTS: ReadonlySet<number> = new Set();

/** Reads the header off a terminated stream; resolves with it and the payload bytes read past it. */
export function readTransportHeader(socket: Socket, timeoutMs: number): Promise<{ header: TransportHeader; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (err?: Error, value?: { header: TransportHeader; rest: Buffer }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        const r = decodeTransportHeader(buf);
        if (r.kind === 'ok') finish(undefined, { header: r.header, rest: buf.subarray(r.length) });
      } catch (e) {
        finish(e as Error);
      }
    };
    const onEnd = () => finish(new TransportHeaderError(`stream ended after ${buf.length} bytes, before a complete header`));
    const timer = setTimeout(() => finish(new TransportHeaderError(`no complete header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/**
 * Inbound: a connection made straight to our inbound port from outside the pod. Only a peer
 * proxy's mTLS for our identity followed by a transport header is accepted; anything else is
 * reset and counted (it could only be a scan or a misdirected client).
 */
export async function acceptOpaqueTransport(client: Socket, ctx: ConnContext): Promise<void> {
  const { side, target, log, mesh } = ctx;
  const refuse = (reason: string) => {
    mesh!.metrics.plaintextRefused.inc({ target_addr: target.addr, reason });
    log.info('direct connection to the inbound port without a peer proxy\'s mTLS and header; closing', { peer: client.remoteAddress, reason });
    client.resetAndDestroy();
  };
  const prefix = await readPrefix(client, side.detectTimeoutMs);
  if (prefix.outcome.kind === 'gone') return void client.destroy();
  if (inboundVerdict(prefix.outcome, target.port, mesh!.tls!.localName, NO_PORTS) !== 'terminate') {
    return refuse(prefix.outcome.kind === 'detected' ? `opaque-transport-${prefix.outcome.detected.kind}` : `opaque-transport-${prefix.outcome.kind}`);
  }
  const t = await acceptMeshed(client, prefix.bytes, mesh!, target.addr, side.detectTimeoutMs + side.connectTimeoutMs);
  if (!t) return;
  ctx.open.track(t.socket);
  t.socket.on('error', () => {});
  let got;
  try {
    got = await readTransportHeader(t.socket, side.detectTimeoutMs + side.connectTimeoutMs);
  } catch (err) {
    log.info('peer proxy sent no valid transport header; closing', { peer: client.remoteAddress, client_id: t.clientId, error: (err as Error).message });
    mesh!.metrics.handshakeErrors.inc({ direction: 'inbound', target_addr: target.addr, errno: 'EBADHEADER' });
    t.socket.destroy();
    return;
  }
  const port = got.header.port;
  if (port === side.listenPort) {
    // Our own port again would loop the connection back into this proxy.
    log.info('transport header names the inbound port itself; closing', { client_id: t.clientId });
    t.socket.destroy();
    return;
  }
  const inner: ConnContext = {
    ...ctx,
    target: { host: target.host, port, addr: formatAddr(target.host, port) },
    srcTls: { tls: 'true', client_id: t.clientId },
  };
  log.debug('opaque transport', { target: inner.target.addr, client_id: t.clientId });
  return forwardOpaque(t.socket, inner, { initial: got.rest.length > 0 ? got.rest : undefined });
}
