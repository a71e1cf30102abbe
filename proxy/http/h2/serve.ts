/**
 * The `h2` handler: the accepted connection (detected as prior-knowledge HTTP/2) becomes a
 * node:http2 server session, and every stream it opens is proxied on its own
 * (proxy-stream.ts) over the worker's pooled upstream session to the original destination.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { parseHttp1Env } from '../h1/settings';
import { prefixedStream } from './prefixed-stream';
import type { Detected } from '../../detect/detect';
import { TcpStats } from '../../metrics/tcp-metrics';
import type { ConnContext } from '../../stack/context';
import { proxyStream, type StreamOptions } from './proxy-stream';
import { stallAck, stallTick, type StallState } from './stall-watch';
import { DEFAULT_POOL_OPTIONS, UpstreamPool } from './upstream-pool';
import { h2Settings, nodeSessionOptions } from './settings';

/** Stall watch (stall-watch.ts) tick; how long an unanswered PING may last is LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT. */
const STALL_TICK_MS = 1000;
/** After a session error, how long the GOAWAY gets to go out before the connection is cut. */
const ERROR_GRACE_MS = 1000;

let pool: UpstreamPool | undefined;
const sessions = new Set<http2.ServerHttp2Session>();

/** Stream options, read from the environment (validated at start-up) on first use in a worker. */
export const h2Options: StreamOptions = { responseTimeoutMs: 0 };
let configured = false;

export async function serveH2(client: Socket, prefix: Buffer, _detected: Detected, ctx: ConnContext): Promise<void> {
  const { side, target, tcp, open, log } = ctx;
  if (!configured) {
    configured = true;
    // One variable for both HTTP versions: LINNET_PROXY_HTTP_RESPONSE_TIMEOUT (proxy/http/h1/settings.ts).
    h2Options.responseTimeoutMs = parseHttp1Env(process.env, side.connectTimeoutMs).responseTimeoutMs;
  }
  h2UpstreamPool(ctx);
  const srcStats = new TcpStats(
    tcp,
    { direction: side.direction, peer: 'src', target_addr: target.addr, ...(ctx.srcTls ?? { tls: 'no_identity', no_tls_reason: side.srcNoTlsReason }) },
    client,
  );
  open.add(srcStats);
  // Detection read the preface already; the session must see it first. For a plain socket,
  // Node's session takes bytes buffered on it on its next tick, before any read from the handle,
  // so the socket must stay paused until then (resuming it would hand them to nobody). A TLS
  // socket with a prefix goes through a JS stream instead (see prefixed-stream.ts); without one
  // (ALPN h2) it is used as is, below.
  // HTTP/2 has no half-close of the connection: a FIN means the client is gone (a killed
  // process), and its streams must be cancelled upstream rather than left waiting.
  client.allowHalfOpen = false;
  client.once('end', () => session.destroy());
  // LINNET_PROXY_HTTP2_*: stream window, concurrent streams, header list size, session memory.
  const h2 = h2Settings();
  const settings = nodeSessionOptions(h2, 'server');
  let session: http2.ServerHttp2Session;
  if (client instanceof TLSSocket && prefix.length > 0) {
    session = http2.performServerHandshake(prefixedStream(client, prefix) as unknown as Socket, settings);
  } else {
    // A plain socket, or a TLS socket nothing was read from (the peer agreed on h2 by ALPN, so
    // there was no second detection): the session consumes its handle (for TLS, the TLSWrap)
    // directly. accept.ts cleared `secureConnecting`, so the session's handle exists at once and
    // bytes the TLS socket decrypted before now (the preface can arrive with the client's
    // Finished) are handed to it on the next tick, in order, before any further read.
    if (prefix.length > 0) client.unshift(prefix);
    session = http2.performServerHandshake(client, settings);
  }
  sessions.add(session);
  session.on('connect', () => session.setLocalWindowSize(h2.initialConnectionWindowSize));
  const kill = () => {
    session.destroy();
    client.destroy();
  };
  session.on('error', (err: NodeJS.ErrnoException) => {
    log.debug('h2 client session error', { target: target.addr, error: err.code ?? err.message });
    setTimeout(kill, ERROR_GRACE_MS).unref();
  });
  // nghttp2 ends a session after a protocol error (GOAWAY, then no more reads) without telling
  // Node: find such a session by its silence and close the attacker's connection.
  const stallMs = h2.keepAliveTimeoutMs;
  const stall: StallState = { lastBytesRead: client.bytesRead, pingSince: undefined };
  const watch =
    stallMs > 0
      ? setInterval(() => {
          if (session.destroyed) return clearInterval(watch);
          const action = stallTick(stall, client.bytesRead, Date.now(), stallMs);
          if (action === 'ping') {
            try {
              session.ping((err) => (err ? undefined : stallAck(stall)));
            } catch {
              // Too many PINGs in flight or a closing session: the next tick decides.
            }
          } else if (action === 'close') {
            log.debug('h2 client session stopped reading (GOAWAY sent?); closing', { target: target.addr });
            clearInterval(watch);
            kill();
          }
        }, Math.min(STALL_TICK_MS, stallMs)).unref()
      : undefined;
  session.on('stream', (stream, headers, flags) => proxyStream(stream, headers, flags, ctx, pool!, h2Options));
  session.on('close', () => {
    clearInterval(watch);
    sessions.delete(session);
    const errno = client.errored ? ((client.errored as NodeJS.ErrnoException).code ?? 'EIO') : '';
    srcStats.close(errno);
    open.remove(srcStats);
  });
}

/**
 * The worker's pooled upstream sessions, shared with the HTTP/1 handler, which sends HTTP/1.1
 * requests to meshed endpoints as streams on them (orig-proto, proxy/http/orig-proto/).
 */
export function h2UpstreamPool(ctx: ConnContext): UpstreamPool {
  return (pool ??= new UpstreamPool(ctx.tcp, ctx.log.child('h2-upstream'), DEFAULT_POOL_OPTIONS));
}

/** Shutdown: GOAWAY to every client (in-flight streams finish) and close idle upstream sessions. */
export function drainH2(): void {
  for (const s of sessions) s.close();
  pool?.closeAll();
}
