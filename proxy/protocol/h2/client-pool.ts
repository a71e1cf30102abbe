/**
 * Upstream HTTP/2 sessions, one per key (an endpoint and its identity, or the app's port) per
 * worker side, multiplexing every proxied stream to it. A session that receives GOAWAY or closes
 * leaves the pool at once, so new streams open a fresh session while in-flight ones finish on the
 * old one. Idle sessions close. Each acquire brings the `dial` that opens a new connection when
 * one is needed, so the layer above decides how it is made (plain, mTLS with ALPN h2) and counted.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from '../../../core/log';
import { nodeSessionOptions, type H2Settings } from './settings';

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

/** How long a session with no streams stays open. */
const IDLE_MS = 60_000;

export class H2ClientPool {
  private readonly ready = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();

  constructor(
    /** Session settings: windows bound what one slow stream buffers. */
    private readonly h2: H2Settings,
    private readonly log: Logger,
    private readonly idleMs = IDLE_MS,
  ) {}

  /**
   * A session for `key`, reusing a live one; rejects with what `dial` rejects with. `addr`: the
   * upstream's `ip:port`, the `:authority` of a request that carries none.
   */
  async acquire(key: string, addr: string, dial: () => Promise<Socket>): Promise<UpstreamSession> {
    let entry = this.ready.get(key);
    if (!entry || !usable(entry.session)) {
      let p = this.pending.get(key);
      if (!p) {
        p = this.open(key, addr, dial).finally(() => this.pending.delete(key));
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
          }, this.idleMs).unref();
        }
      },
    };
  }

  /** Close every session gracefully (in-flight streams finish). */
  closeAll(): void {
    for (const e of this.ready.values()) e.session.close();
    this.ready.clear();
  }

  private async open(key: string, addr: string, dial: () => Promise<Socket>): Promise<Entry> {
    const socket = await dial();
    socket.resume();
    const h2 = this.h2;
    // Many concurrent streams from many clients share this session: its memory cap and
    // connection window are the proxy's, not one client's.
    const session = http2.connect(`http://${addr}`, { createConnection: () => socket, ...nodeSessionOptions(h2, 'client') });
    // Room for several streams' windows at once at the connection level.
    session.on('connect', () => session.setLocalWindowSize(h2.initialConnectionWindowSize));
    const entry: Entry = { session, active: 0 };
    const leave = () => {
      if (this.ready.get(key) === entry) this.ready.delete(key);
    };
    session.on('goaway', (code) => {
      this.log.debug('upstream sent GOAWAY; new streams use a new session', { target: addr, code });
      leave();
    });
    session.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug('upstream session error', { target: addr, error: err.code ?? err.message });
    });
    socket.on('error', () => {});
    // A FIN from the upstream ends the session (HTTP/2 has no half-closed connection); without
    // this an upstream that just closes would leave a session that looks usable.
    socket.allowHalfOpen = false;
    socket.once('end', () => session.destroy());
    session.on('close', () => {
      leave();
      if (entry.idleTimer) clearTimeout(entry.idleTimer);
    });
    this.ready.set(key, entry);
    return entry;
  }
}

function usable(s: http2.ClientHttp2Session): boolean {
  return !s.closed && !s.destroyed;
}
