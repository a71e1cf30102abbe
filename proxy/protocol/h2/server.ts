/**
 * The HTTP/2 server: an accepted connection (prior-knowledge HTTP/2, or TLS that agreed on h2 by
 * ALPN) becomes an H2Connection in the server role, and every stream a client opens is handed to
 * the layer above, which proxies it (stream-proxy.ts) or serves it another way
 * (orig-proto/server.ts).
 */
import type { Socket } from 'node:net';
import type { ConnInfo } from '../call';
import { H2Connection } from './connection';
import type { H2Stream } from './stream';
import type { Fields } from './semantics';
import type { H2Settings } from './settings';
import { stallAck, stallTick, type StallState } from './stall-watch';

/** What the layer above does with each stream a client opens (it sets `stream.events`). */
export type StreamHandler = (stream: H2Stream, fields: Fields, endStream: boolean, neverIndexed: number[] | undefined) => void;

/** Stall watch (stall-watch.ts) tick; how long an unanswered PING may last is LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT. */
const STALL_TICK_MS = 1000;

/** One worker side's HTTP/2 server: its client connections, so that a drain reaches them. */
export class H2Server {
  private readonly connections = new Set<H2Connection>();

  constructor(private readonly h2: H2Settings) {}

  /** Serves one client connection; `prefix` holds the bytes detection read (the preface). */
  serve(client: Socket, prefix: Buffer, info: ConnInfo, onStream: StreamHandler): Promise<void> {
    const { target, log } = info;
    const conn = new H2Connection(client, { role: 'server', settings: this.h2, log, prefix }, {
      onStream,
      onClose: (err) => {
        clearInterval(watch);
        this.connections.delete(conn);
        if (err) log.debug('h2 client connection ended', { target, error: err.message });
      },
    });
    this.connections.add(conn);
    // A peer that stops reading (or died without a FIN) is found by its silence: a PING it does
    // not answer within the keep-alive timeout closes the connection, as linkerd2-proxy does.
    const stallMs = this.h2.keepAliveTimeoutMs;
    const stall: StallState = { lastBytesRead: client.bytesRead, pingSince: undefined };
    const watch =
      stallMs > 0
        ? setInterval(() => {
            if (conn.destroyed) return clearInterval(watch);
            const action = stallTick(stall, client.bytesRead, Date.now(), stallMs);
            if (action === 'ping') conn.ping((rtt) => (rtt === undefined ? undefined : stallAck(stall)));
            else if (action === 'close') {
              log.debug('h2 client stopped answering PING; closing', { target });
              clearInterval(watch);
              conn.destroy();
            }
          }, Math.min(STALL_TICK_MS, stallMs)).unref()
        : undefined;
    return Promise.resolve();
  }

  /** Shutdown: GOAWAY to every client; in-flight streams finish, then their connections close. */
  drain(): void {
    for (const c of this.connections) c.close();
  }
}
