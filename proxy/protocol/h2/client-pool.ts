/**
 * Upstream HTTP/2 connections, one per key (an endpoint and its identity, or the app's port) per
 * worker side, multiplexing every proxied stream to it. A connection that receives GOAWAY or
 * closes leaves the pool at once, so new streams open a fresh one while in-flight ones finish on
 * the old one. Idle connections close. Each acquire brings the `dial` that opens a new connection
 * when one is needed, so the layer above decides how it is made (plain, mTLS with ALPN h2) and
 * counted.
 */
import type { Logger } from '../../../core/log';
import type { Socket } from 'node:net';
import { H2Connection } from './connection';
import type { H2Settings } from './settings';

export interface UpstreamSession {
  conn: H2Connection;
  /** Call when a stream opened on this connection has closed. */
  release(): void;
}

interface Entry {
  conn: H2Connection;
  active: number;
  idleTimer?: NodeJS.Timeout;
}

/** How long a connection with no streams stays open. */
const IDLE_MS = 60_000;

/** One stream's hold on a pooled connection: an object per request, with no closure. */
class Lease implements UpstreamSession {
  private released = false;
  readonly conn: H2Connection;
  constructor(
    private readonly entry: Entry,
    private readonly idleMs: number,
  ) {
    this.conn = entry.conn;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const e = this.entry;
    if (--e.active === 0 && !e.conn.destroyed) {
      e.idleTimer = setTimeout(() => {
        if (e.active === 0) e.conn.close();
      }, this.idleMs).unref();
    }
  }
}

export class H2ClientPool {
  private readonly ready = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();

  constructor(
    /** Connection settings: windows bound what one slow stream buffers. */
    private readonly h2: H2Settings,
    private readonly log: Logger,
    private readonly idleMs = IDLE_MS,
  ) {}

  /**
   * A connection for `key`, reusing a live one: at once when there is one (the stream opens in
   * this turn), else when `dial(arg)` has made one; rejects with what `dial` rejects with.
   * `addr`: the upstream's `ip:port`, for logs.
   */
  acquire<A>(key: string, addr: string, dial: (arg: A) => Promise<Socket>, arg: A): UpstreamSession | Promise<UpstreamSession> {
    const entry = this.ready.get(key);
    if (entry && entry.conn.usable) return this.lease(entry);
    let p = this.pending.get(key);
    if (!p) {
      p = this.open(key, addr, dial, arg).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p.then((e) => this.lease(e));
  }

  private lease(e: Entry): UpstreamSession {
    e.active++;
    if (e.idleTimer) clearTimeout(e.idleTimer);
    e.idleTimer = undefined;
    return new Lease(e, this.idleMs);
  }

  /** Close every connection gracefully (in-flight streams finish). */
  closeAll(): void {
    for (const e of this.ready.values()) e.conn.close();
    this.ready.clear();
  }

  private async open<A>(key: string, addr: string, dial: (arg: A) => Promise<Socket>, arg: A): Promise<Entry> {
    const socket = await dial(arg);
    const log = this.log;
    const entry: Entry = { conn: undefined as unknown as H2Connection, active: 0 };
    const leave = () => {
      if (this.ready.get(key) === entry) this.ready.delete(key);
    };
    // Many concurrent streams from many clients share this connection: its windows are the
    // proxy's, not one client's.
    entry.conn = new H2Connection(socket, { role: 'client', settings: this.h2, log }, {
      onGoaway: (code) => {
        log.debug('upstream sent GOAWAY; new streams use a new connection', { target: addr, code });
        leave();
      },
      onClose: (err) => {
        leave();
        if (entry.idleTimer) clearTimeout(entry.idleTimer);
        if (err) log.debug('upstream connection ended', { target: addr, error: err.message });
      },
    });
    this.ready.set(key, entry);
    return entry;
  }
}
