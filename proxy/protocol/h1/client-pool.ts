/**
 * Keep-alive HTTP/1 connections to upstreams, keyed by whoever uses the pool (an endpoint and its
 * identity, or the app's port). Idle connections are bounded per key and closed after an idle
 * timeout; an idle connection the upstream closes (or writes to) is dropped at once. The pool
 * does not open connections itself: each acquire brings the `dial` that opens one (plain, mTLS,
 * opaque transport), so the layer above decides how a connection is made and counted. A
 * connection stays owned by whoever acquired it until it is released (reusable) or destroyed.
 */
import type { Socket } from 'node:net';
import { releaseBytes, takeBytes } from '../../transport/direct-read';

export interface PoolOptions {
  maxIdlePerTarget: number;
  idleTimeoutMs: number;
}

/** What a connection's current user is told about it. */
export interface UpstreamHandler {
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  /** `retrySafe`: the upstream never processed the request (a refused stream, a session gone first). */
  onUpstreamClose(errno: string, retrySafe?: boolean): void;
  onUpstreamDrain(): void;
}

export class UpstreamConn {
  handler: UpstreamHandler | undefined;
  /** Requests this connection has carried, so the first use is told from a reuse. */
  uses = 0;
  idleSince = 0;
  errno = '';
  closed = false;
  /** What acquire answers when it hands this connection out again (made once, not per request). */
  readonly reusedLease: Acquired;
  /** The socket's bytes, to the exchange on it (transport/direct-read.ts takes them to it directly). */
  private readonly onBytes = (chunk: Buffer): void => {
    if (this.handler) this.handler.onUpstreamData(chunk);
    else this.socket.destroy(); // bytes on an idle connection: nothing can be trusted after them
  };

  constructor(
    readonly key: string,
    readonly socket: Socket,
    private readonly pool: UpstreamPool,
  ) {
    this.reusedLease = { conn: this, reused: true };
    takeBytes(socket, this.onBytes);
    socket.on('end', () => {
      if (this.handler) this.handler.onUpstreamEnd();
      else socket.destroy();
    });
    socket.on('drain', () => this.handler?.onUpstreamDrain());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.errno = err.code ?? 'EIO';
    });
    socket.on('close', () => {
      this.closed = true;
      this.pool.forget(this);
      const h = this.handler;
      this.handler = undefined;
      h?.onUpstreamClose(this.errno);
    });
  }

  /** Back to the pool: the exchange on it is complete and the upstream keeps it open. */
  release(): void {
    this.pool.release(this);
  }

  /** Hands the socket over to a byte relay (after an upgrade): the pool lets go of its events. */
  detach(): Socket {
    this.handler = undefined;
    releaseBytes(this.socket, this.onBytes);
    this.socket.removeAllListeners('end');
    this.socket.removeAllListeners('drain');
    return this.socket;
  }
}

export interface Acquired {
  conn: UpstreamConn;
  reused: boolean;
}

export class UpstreamPool {
  private readonly idle = new Map<string, UpstreamConn[]>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly opts: PoolOptions) {}

  /**
   * An idle connection for `key` if one is open (unless `fresh`), else a new one from `dial`.
   * Rejects with what `dial` rejects with.
   */
  acquire<A>(key: string, dial: (arg: A) => Promise<Socket>, arg: A, fresh = false): Acquired | Promise<Acquired> {
    if (!fresh) {
      const list = this.idle.get(key);
      while (list && list.length > 0) {
        const c = list.pop()!;
        if (!c.closed && !c.socket.destroyed && c.socket.readyState === 'open') {
          c.uses++;
          // At once, not a promise: the request goes out in this turn (HttpCall.open).
          return c.reusedLease;
        }
      }
    }
    return this.dialNew(key, dial, arg);
  }

  private async dialNew<A>(key: string, dial: (arg: A) => Promise<Socket>, arg: A): Promise<Acquired> {
    const socket = await dial(arg);
    const conn = new UpstreamConn(key, socket, this);
    socket.resume();
    conn.uses = 1;
    return { conn, reused: false };
  }

  /** Back to the pool: the exchange on it is complete and the upstream keeps it open. */
  release(conn: UpstreamConn): void {
    conn.handler = undefined;
    if (conn.closed || conn.socket.destroyed) return;
    let list = this.idle.get(conn.key);
    if (!list) this.idle.set(conn.key, (list = []));
    if (list.length >= this.opts.maxIdlePerTarget) {
      conn.socket.end();
      return;
    }
    conn.idleSince = Date.now();
    list.push(conn);
    this.startSweeper();
  }

  idleCount(key?: string): number {
    if (key !== undefined) return this.idle.get(key)?.length ?? 0;
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }

  /** Closes every idle connection (shutdown, tests). */
  close(): void {
    for (const l of this.idle.values()) for (const c of l) c.socket.end();
    this.idle.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** A connection closed: no longer idle here. */
  forget(c: UpstreamConn): void {
    const list = this.idle.get(c.key);
    if (!list) return;
    const i = list.indexOf(c);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(c.key);
  }

  /** One timer for all idle connections instead of one per connection. */
  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(50, Math.min(1000, this.opts.idleTimeoutMs / 4));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const list of this.idle.values()) {
        for (const c of list.slice()) if (now - c.idleSince >= this.opts.idleTimeoutMs) c.socket.end();
      }
      if (this.idle.size === 0 && this.sweeper) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, every);
    this.sweeper.unref();
  }
}
