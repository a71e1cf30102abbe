/**
 * Opaque transport between proxies, as Linkerd does it. A port marked opaque gets no protocol
 * detection, so a peer proxy's mTLS cannot be recognised there; instead, for a meshed endpoint on
 * an opaque port (discovery's `opaque_transport.inbound_port`), the client proxy connects to the
 * peer's inbound port 4143 itself, completes mTLS, and names the real port in a transport header
 * (transport/transport-header.ts). The inbound side forwards the rest of the stream to that port untouched.
 * Unmeshed clients of an opaque port are then forwarded at once, with no detect timeout.
 * This module is the inbound half; the outbound half is transport/dial.ts.
 */
import type { Socket } from 'node:net';
import type { Conn } from '../accept/context';
import { readPrefix } from '../accept/read-prefix';
import type { MeshMetrics } from '../metrics/mesh-metrics';
import { formatAddr } from '../transport/connect';
import type { TlsStore } from '../transport/tls/store';
import { decodeTransportHeader, TransportHeaderError, type TransportHeader } from '../transport/transport-header';
import { acceptMeshed, inboundVerdict } from './mtls';
import { resetConnection } from '../transport/reset';
import { merged } from '../../core/merged';

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
 * A connection made straight to our inbound port from outside the pod. Only a peer proxy's mTLS
 * for our identity followed by a transport header is accepted; anything else is reset and counted
 * (it could only be a scan or a misdirected client). The stream after the header goes to `serve`
 * as opaque TCP for the port the header names, with the peer's identity as its source.
 */
export async function acceptOpaqueTransport(
  client: Socket,
  conn: Conn,
  tls: TlsStore,
  metrics: MeshMetrics,
  serve: (socket: Socket, rest: Buffer, inner: Conn) => Promise<void>,
): Promise<void> {
  const { side, target, log } = conn;
  const refuse = (reason: string) => {
    metrics.plaintextRefused.inc({ target_addr: target.addr, reason });
    log.info("direct connection to the inbound port without a peer proxy's mTLS and header; closing", { peer: client.remoteAddress, reason });
    resetConnection(client);
  };
  const prefix = await readPrefix(client, side.detectTimeoutMs);
  if (prefix.outcome.kind === 'gone') return void client.destroy();
  if (inboundVerdict(prefix.outcome, target.port, tls.localName, NO_PORTS) !== 'terminate') {
    return refuse(prefix.outcome.kind === 'detected' ? `opaque-transport-${prefix.outcome.detected.kind}` : `opaque-transport-${prefix.outcome.kind}`);
  }
  const t = await acceptMeshed(client, prefix.bytes, tls, metrics, target.addr, side.detectTimeoutMs + side.connectTimeoutMs);
  if (!t) return;
  conn.open.track(t.socket);
  t.socket.on('error', () => {});
  let got;
  try {
    got = await readTransportHeader(t.socket, side.detectTimeoutMs + side.connectTimeoutMs);
  } catch (err) {
    log.info('peer proxy sent no valid transport header; closing', { peer: client.remoteAddress, client_id: t.clientId, error: (err as Error).message });
    metrics.handshakeErrors.inc({ direction: 'inbound', target_addr: target.addr, errno: 'EBADHEADER' });
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
  const inner: Conn = merged(conn, {
    target: { host: target.host, port, addr: formatAddr(target.host, port) },
    srcTls: { tls: 'true', client_id: t.clientId },
    metricsSite: undefined,
  });
  log.debug('opaque transport', { target: inner.target.addr, client_id: t.clientId });
  return serve(t.socket, got.rest, inner);
}
