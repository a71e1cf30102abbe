/**
 * Upstream HTTP/2 sessions, one per target (ip:port) per worker, multiplexing every proxied
 * stream to that target. A session that receives GOAWAY or closes leaves the pool at once, so new
 * streams open a fresh session while in-flight ones finish on the old one. Idle sessions close.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { connectTarget } from '../../tcp/connect';
import { TcpStats, type TcpMetrics } from '../../metrics/tcp-metrics';
import type { Logger } from '../../log';
import type { ConnContext } from '../../stack/context';
import type { HttpUpstream } from '../../mesh/http-route';
import { h2Settings, nodeSessionOptions, type H2Settings } from './settings';

export interface UpstreamSession {
  session: http2.ClientHttp2Session;
  /** Call when a stream opened on this session has closed. */
  release(): void;
}

interface Entry {
  session: http2.ClientHttp2Session;
  active: number;
  idleTimer?: NodeJS.Timeout;
}

export interface PoolOptions {
  /** How long a session with no streams stays open. */
  idleMs: number;
  /**
   * Session settings (windows bound what one slow stream buffers); absent: LINNET_PROXY_HTTP2_*
   * from the environment (h2Settings()).
   */
  h2?: H2Settings;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = { idleMs: 60_000 };

const H2_ALPN: readonly string[] = ['h2'];

export class UpstreamPool {
  private readonly ready = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();

  constructor(
    private readonly tcp: TcpMetrics,
    private readonly log: Logger,
    private readonly opts: PoolOptions = DEFAULT_POOL_OPTIONS,
  ) {}

  /** A session to `target`, reusing a live one; rejects with ConnectError when the target refuses. */
  /** A session to the routed endpoint `up` (mTLS when it is meshed), reusing a live one. */
  async acquire(ctx: ConnContext, up: HttpUpstream): Promise<UpstreamSession> {
    const key = up.key;
    let entry = this.ready.get(key);
    if (!entry || !usable(entry.session)) {
      let p = this.pending.get(key);
      if (!p) {
        p = this.open(key, ctx, up).finally(() => this.pending.delete(key));
        this.pending.set(key, p);
      }
      entry = await p;
    }
    const e = entry;
    e.active++;
    if (e.idleTimer) clearTimeout(e.idleTimer);
    e.idleTimer = undefined;
    let released = false;
    return {
      session: e.session,
      release: () => {
        if (released) return;
        released = true;
        if (--e.active === 0 && !e.session.destroyed) {
          e.idleTimer = setTimeout(() => {
            if (e.active === 0) e.session.close();
          }, this.opts.idleMs).unref();
        }
      },
    };
  }

  /** Close every session gracefully (in-flight streams finish). */
  closeAll(): void {
    for (const e of this.ready.values()) e.session.close();
    this.ready.clear();
  }

  private async open(key: string, ctx: ConnContext, up: HttpUpstream): Promise<Entry> {
    const { side, open } = ctx;
    const target = { addr: up.addr };
    // A meshed endpoint's inbound that agrees on h2 by ALPN runs this session on its TLS socket
    // directly, without detecting the preface again.
    const socket: Socket = up.dial ? await up.dial(H2_ALPN) : await connectTarget(up.host, up.port, side.connectTimeoutMs);
    const stats = new TcpStats(this.tcp, { direction: side.direction, peer: 'dst', target_addr: up.addr, ...up.tls }, socket);
    open.add(stats);
    socket.resume();
    const h2 = this.opts.h2 ?? h2Settings();
    // Many concurrent streams from many clients share this session: its memory cap and
    // connection window are the proxy's, not one client's.
    const session = http2.connect(`http://${target.addr}`, { createConnection: () => socket, ...nodeSessionOptions(h2, 'client') });
    // Room for several streams' windows at once at the connection level.
    session.on('connect', () => session.setLocalWindowSize(h2.initialConnectionWindowSize));
    const entry: Entry = { session, active: 0 };
    const leave = () => {
      if (this.ready.get(key) === entry) this.ready.delete(key);
    };
    session.on('goaway', (code) => {
      this.log.debug('upstream sent GOAWAY; new streams use a new session', { target: target.addr, code });
      leave();
    });
    session.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug('upstream session error', { target: target.addr, error: err.code ?? err.message });
    });
    socket.on('error', () => {});
    // A FIN from the upstream ends the session (HTTP/2 has no half-closed connection); without
    // this an upstream that just closes would leave a session that looks usable.
    socket.allowHalfOpen = false;
    socket.once('end', () => session.destroy());
    session.on('close', () => {
      leave();
      if (entry.idleTimer) clearTimeout(entry.idleTimer);
      const errno = socket.errored ? ((socket.errored as NodeJS.ErrnoException).code ?? 'EIO') : '';
      stats.close(errno);
      open.remove(stats);
    });
    this.ready.set(key, entry);
    return entry;
  }
}

function usable(s: http2.ClientHttp2Session): boolean {
  return !s.closed && !s.destroyed;
}
