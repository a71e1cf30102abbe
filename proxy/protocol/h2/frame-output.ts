/**
 * An HTTP/2 connection's outgoing bytes. Frames produced while one read is handled, or within one
 * turn of the event loop, leave in one write (small frames joined, large payloads as they are);
 * a peer that lets our bytes pile up unread is reported, so that the connection can drop it.
 */
import type { Socket } from 'node:net';

/** A peer that lets this much pile up unread (our replies to its frames) is dropped. */
export const SOCKET_LIMIT = 16 * 1024 * 1024;
/** Frames produced within one read are written together once they reach this much. */
export const FLUSH_BYTES = 64 * 1024;

export class FrameOutput {
  private out: Buffer[] = [];
  /** Bytes queued here, not yet handed to the socket. */
  bytes = 0;
  private flushScheduled = false;
  /** Made once per connection: a flush per request allocates no closure. */
  private readonly flushTick = (): void => this.flush();

  constructor(
    private readonly socket: Socket,
    /** The socket holds more than SOCKET_LIMIT unwritten: the peer does not read. */
    private readonly onPeerNotReading: (queued: number) => void,
  ) {}

  /** Bytes not on the wire yet: queued here and buffered in the socket. */
  get pending(): number {
    return this.socket.writableLength + this.bytes;
  }

  push(b: Buffer): void {
    this.out.push(b);
    this.bytes += b.length;
    // Answers the peer provokes within one read (a flood of PINGs, SETTINGS, tiny frames) grow
    // this queue before the flush that checks the limit: flush at the limit, so it is checked.
    if (this.bytes > SOCKET_LIMIT) this.flush();
  }

  /**
   * Flush once this turn of the event loop has handled all its reads (the check phase): the
   * frames of every request and response produced meanwhile go out in one socket write and one
   * TLS record run, not one per request as a flush on the next tick made them. It adds no wait:
   * the check phase follows the reads of the same turn.
   */
  schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushTick);
  }

  /** Everything queued so far, in one write. */
  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.bytes;
    this.out = [];
    this.bytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (out.length === 1) socket.write(out[0]!);
    else if (bytes <= 16 * 1024) socket.write(Buffer.concat(out, bytes));
    else {
      socket.cork();
      for (const b of out) socket.write(b);
      socket.uncork();
    }
    if (socket.writableLength > SOCKET_LIMIT) this.onPeerNotReading(socket.writableLength);
  }
}
