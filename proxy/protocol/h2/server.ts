/**
 * The HTTP/2 server: an accepted connection (prior-knowledge HTTP/2, or TLS that agreed on h2 by
 * ALPN) becomes a node:http2 server session, and every stream it opens is handed to the layer
 * above, which proxies it (stream-proxy.ts) or serves it another way (orig-proto/server.ts).
 */
import * as http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ConnInfo } from '../call';
import { prefixedStream } from './prefixed-stream';
import { nodeSessionOptions, type H2Settings } from './settings';
import { stallAck, stallTick, type StallState } from './stall-watch';

/** What the layer above does with each stream a client opens. */
export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => void;

/** Stall watch (stall-watch.ts) tick; how long an unanswered PING may last is LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT. */
const STALL_TICK_MS = 1000;
/** After a session error, how long the GOAWAY gets to go out before the connection is cut. */
const ERROR_GRACE_MS = 1000;

/** One worker side's HTTP/2 server: its client sessions, so that a drain reaches them. */
export class H2Server {
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(private readonly h2: H2Settings) {}

  /** Serves one client connection; `prefix` holds the bytes detection read (the preface). */
  serve(client: Socket, prefix: Buffer, info: ConnInfo, onStream: StreamHandler): Promise<void> {
    const { target, log } = info;
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
    const h2 = this.h2;
    const settings = nodeSessionOptions(h2, 'server');
    let session: http2.ServerHttp2Session;
    if (client instanceof TLSSocket && prefix.length > 0) {
      session = http2.performServerHandshake(prefixedStream(client, prefix) as unknown as Socket, settings);
    } else {
      // A plain socket, or a TLS socket nothing was read from (the peer agreed on h2 by ALPN, so
      // there was no second detection): the session consumes its handle (for TLS, the TLSWrap)
      // directly. tls/accept.ts cleared `secureConnecting`, so the session's handle exists at once
      // and bytes the TLS socket decrypted before now (the preface can arrive with the client's
      // Finished) are handed to it on the next tick, in order, before any further read.
      if (prefix.length > 0) client.unshift(prefix);
      session = http2.performServerHandshake(client, settings);
    }
    this.sessions.add(session);
    session.on('connect', () => session.setLocalWindowSize(h2.initialConnectionWindowSize));
    const kill = () => {
      session.destroy();
      client.destroy();
    };
    session.on('error', (err: NodeJS.ErrnoException) => {
      log.debug('h2 client session error', { target, error: err.code ?? err.message });
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
              log.debug('h2 client session stopped reading (GOAWAY sent?); closing', { target });
              clearInterval(watch);
              kill();
            }
          }, Math.min(STALL_TICK_MS, stallMs)).unref()
        : undefined;
    session.on('stream', onStream);
    session.on('close', () => {
      clearInterval(watch);
      this.sessions.delete(session);
    });
    return Promise.resolve();
  }

  /** Shutdown: GOAWAY to every client; in-flight streams finish, then their connections close. */
  drain(): void {
    for (const s of this.sessions) s.close();
  }
}
