/**
 * The upstream side of one HTTP/1 exchange, as the HTTP/1 server sees it: a pooled HTTP/1
 * connection (H1Link, here), or a stream on a pooled HTTP/2 session to a meshed endpoint
 * (orig-proto, proxy/protocol/orig-proto/client.ts). The server writes its request in HTTP/1
 * framing and reads HTTP/1 bytes either way.
 */
import type { Socket } from 'node:net';
import type { Acquired, UpstreamConn, UpstreamHandler } from './client-pool';
import { resetConnection } from '../../transport/reset';

export interface UpstreamLink {
  handler: UpstreamHandler | undefined;
  readonly destroyed: boolean;
  /** Taken from a pool, so it may turn out stale on its first use here. */
  readonly reused: boolean;
  /** The request head and the body bytes that came with it. */
  send(head: Buffer, early: Buffer[]): void;
  write(b: Buffer): boolean;
  pause(): void;
  resume(): void;
  /** Closed without reuse. */
  destroy(): void;
  /** Aborted: the upstream must not see a complete request (TCP RST / RST_STREAM). */
  reset(): void;
  /** Exchange complete and the connection reusable: back to its pool. */
  release(): void;
  /** An upgrade or CONNECT the upstream accepted: the raw connection, for a byte relay. */
  tunnel(): Socket;
}

/** The request head and the body bytes that came with it, in one write where they are contiguous. */
function writeJoined(s: Socket, head: Buffer, parts: Buffer[]): void {
  if (parts.length === 0) {
    s.write(head);
    return;
  }
  const first = parts[0]!;
  if (parts.length === 1 && head.buffer === first.buffer && head.byteOffset + head.length === first.byteOffset) {
    s.write(Buffer.from(head.buffer, head.byteOffset, head.length + first.length));
    return;
  }
  s.cork();
  s.write(head);
  for (const p of parts) s.write(p);
  s.uncork();
}

export class H1Link implements UpstreamLink {
  constructor(
    readonly conn: UpstreamConn,
    readonly reused: boolean,
  ) {}

  /** The link for what the pool handed out (a function the call paths pass without a closure). */
  static of(this: void, a: Acquired): H1Link {
    return new H1Link(a.conn, a.reused);
  }
  get handler(): UpstreamHandler | undefined {
    return this.conn.handler;
  }
  set handler(h: UpstreamHandler | undefined) {
    this.conn.handler = h;
  }
  get destroyed(): boolean {
    return this.conn.socket.destroyed;
  }
  send(head: Buffer, early: Buffer[]): void {
    writeJoined(this.conn.socket, head, early);
  }
  write(b: Buffer): boolean {
    return this.conn.socket.write(b);
  }
  pause(): void {
    this.conn.socket.pause();
  }
  resume(): void {
    this.conn.socket.resume();
  }
  destroy(): void {
    this.conn.socket.destroy();
  }
  reset(): void {
    resetConnection(this.conn.socket);
  }
  release(): void {
    this.conn.socket.resume();
    this.conn.release();
  }
  tunnel(): Socket {
    return this.conn.detach();
  }
}
