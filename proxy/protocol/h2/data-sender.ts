/**
 * DATA towards the peer under its flow-control windows (RFC 9113 §5.2, §6.9): what the stream
 * and connection windows allow goes out as frames of at most the peer's frame size; the rest
 * waits in the stream's queue until a WINDOW_UPDATE (or a larger initial window) makes room,
 * with the stream's trailers or END_STREAM after it. The owner of a stream hears when to wait
 * (sendData returns false) and when to go on (onDrain).
 */
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, dataFrameHeader } from './frames';
import type { FrameOutput } from './frame-output';
import type { H2Stream } from './stream';
import type { Fields } from './semantics';

/** Queued outbound bytes of one stream past which sendData asks its caller to wait. */
export const STREAM_HIGH_WATER = 64 * 1024;
/** Socket bytes not yet written past which every stream waits (the peer reads slowly). */
export const SOCKET_HIGH_WATER = 256 * 1024;

/** What the sender needs from its connection. */
export interface DataSenderHooks {
  /** The queued DATA is out: send the trailers that waited behind it (they end the stream). */
  writeTrailers(stream: H2Stream, fields: Fields, neverIndexed: readonly number[] | undefined): void;
  /** The stream's side may be over: close it if the peer's is too. */
  maybeClose(stream: H2Stream): void;
}

export class DataSender {
  /** The peer's connection window. */
  connWindow = DEFAULT_WINDOW;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  /** Streams with queued DATA waiting for window. */
  private readonly blocked = new Set<H2Stream>();

  constructor(
    private readonly output: FrameOutput,
    private readonly hooks: DataSenderHooks,
  ) {}

  /** Body bytes of a stream whose side is open. false: wait for onDrain before more. */
  send(stream: H2Stream, chunk: Buffer, endStream: boolean): boolean {
    if (endStream) stream.localEnded = true;
    if (stream.queue) {
      stream.queue.push({ chunk, end: endStream });
      stream.queuedBytes += chunk.length;
    } else {
      const sent = this.write(stream, chunk, endStream);
      if (sent < chunk.length || (endStream && !stream.endSent)) {
        stream.queue = [{ chunk: sent === 0 ? chunk : chunk.subarray(sent), end: endStream }];
        stream.queuedBytes = chunk.length - sent;
        this.blocked.add(stream);
      } else if (endStream) this.hooks.maybeClose(stream);
    }
    this.output.schedule();
    const ok = this.hasRoom(stream);
    if (!ok) stream.wantsDrain = true;
    return ok;
  }

  /** A stream that waited to be opened (the peer's stream limit) sends what it queued meanwhile. */
  resume(stream: H2Stream): void {
    this.blocked.add(stream);
    this.flushStream(stream);
  }

  /** The stream is gone: nothing of it waits any more. */
  forget(stream: H2Stream): void {
    stream.queue = undefined;
    stream.queuedBytes = 0;
    this.blocked.delete(stream);
  }

  /** More connection window (or a larger initial stream window): blocked streams go on, in order. */
  unblock(): void {
    for (const s of [...this.blocked]) {
      if (this.connWindow <= 0) break;
      this.flushStream(s);
    }
  }

  /** Queued DATA of `stream` as far as the windows now allow; then its trailers or END_STREAM. */
  flushStream(stream: H2Stream): void {
    const q = stream.queue;
    if (!q) return;
    while (q.length > 0) {
      const item = q[0]!;
      // END_STREAM rides the last item's last frame unless trailers follow.
      const sent = this.write(stream, item.chunk, item.end && q.length === 1 && !stream.trailersQueued);
      stream.queuedBytes -= sent;
      if (sent < item.chunk.length || (item.end && q.length === 1 && !stream.trailersQueued && !stream.endSent)) {
        item.chunk = item.chunk.subarray(sent);
        break;
      }
      q.shift();
    }
    if (q.length === 0) {
      stream.queue = undefined;
      this.blocked.delete(stream);
      if (stream.trailersQueued) {
        const fields = stream.trailersQueued;
        const neverIndexed = stream.trailersNeverIndexed;
        stream.trailersQueued = undefined;
        stream.trailersNeverIndexed = undefined;
        this.hooks.writeTrailers(stream, fields, neverIndexed);
      }
      this.hooks.maybeClose(stream);
    }
    this.output.schedule();
    // A stream the flush just closed has heard its onClose, which comes last.
    if (stream.wantsDrain && !stream.closed && this.hasRoom(stream)) {
      stream.wantsDrain = false;
      stream.events.onDrain();
    }
  }

  /** The socket wrote its backlog: streams told to wait that are under their mark go on. */
  drained(streams: Iterable<H2Stream>): void {
    for (const s of streams) {
      if (s.wantsDrain && s.queuedBytes < STREAM_HIGH_WATER) {
        s.wantsDrain = false;
        s.events.onDrain();
      }
    }
  }

  private hasRoom(stream: H2Stream): boolean {
    return stream.queuedBytes < STREAM_HIGH_WATER && this.output.pending < SOCKET_HIGH_WATER;
  }

  /**
   * Writes as much of `chunk` as the windows allow, as DATA frames of at most the peer's frame
   * size; returns the bytes written. With `endStream` and everything written, the last frame
   * carries END_STREAM (an empty chunk needs no window).
   */
  private write(stream: H2Stream, chunk: Buffer, endStream: boolean): number {
    let p = 0;
    for (;;) {
      const n = Math.min(stream.sendWindow, this.connWindow, this.peerMaxFrameSize, chunk.length - p);
      const last = p + Math.max(n, 0) === chunk.length;
      if (n <= 0 && !(last && endStream)) return p;
      const end = last && endStream;
      const payload = p === 0 && n === chunk.length ? chunk : chunk.subarray(p, p + n);
      this.output.push(dataFrameHeader(stream.id, payload.length, end));
      if (payload.length > 0) this.output.push(payload);
      stream.sendWindow -= n;
      this.connWindow -= n;
      p += n;
      if (end) stream.endSent = true;
      if (last) return p;
    }
  }
}
