/**
 * One HTTP/2 stream as its owner sees it (a request being served, or one being sent), and the
 * stream's own state that the connection reads and writes: windows, queued DATA, ends. The
 * connection does the work; a stream reaches it through `StreamOwner` so that this module does
 * not depend on the connection's.
 */
import type { Fields } from './semantics';

/** What a stream's owner is told. Every stream gets exactly one onClose, last. */
export interface StreamEvents {
  /**
   * A header section: `informational` (1xx, a response may have several), `final` (a request on
   * the server side, a response on the client side) or `trailers`.
   */
  onHeaders(fields: Fields, endStream: boolean, kind: 'informational' | 'final' | 'trailers', neverIndexed: number[] | undefined): void;
  onData(chunk: Buffer, endStream: boolean): void;
  /**
   * The stream ended abnormally: the peer reset it (`byPeer`, with its `code`), or this side did
   * (a protocol error, the owner's reset, the connection gone). `retrySafe`: the peer never
   * processed it (REFUSED_STREAM, a GOAWAY whose last stream id is below it, or never sent).
   */
  onReset(code: number, retrySafe: boolean, byPeer: boolean): void;
  /** sendData returned false earlier; there is room again. */
  onDrain(): void;
  onClose(): void;
}

export const NO_EVENTS: StreamEvents = { onHeaders() {}, onData() {}, onReset() {}, onDrain() {}, onClose() {} };

/** What a stream asks of its connection (H2Connection implements it). */
export interface StreamOwner {
  sendHeaders(stream: H2Stream, fields: Fields, endStream: boolean, neverIndexed?: readonly number[]): void;
  sendData(stream: H2Stream, chunk: Buffer, endStream: boolean): boolean;
  sendTrailers(stream: H2Stream, fields: Fields, neverIndexed?: readonly number[]): void;
  resetStream(stream: H2Stream, code: number, retrySafe: boolean): void;
  returnWindow(stream: H2Stream): void;
}

const EMPTY = Buffer.alloc(0);

export interface QueuedData {
  chunk: Buffer;
  end: boolean;
}

export class H2Stream {
  events: StreamEvents = NO_EVENTS;
  /** The owner ended its side (END_STREAM given, maybe still queued behind the windows). */
  localEnded = false;
  /** The frame carrying END_STREAM was written (or the stream was reset). */
  endSent = false;
  /** The peer sent END_STREAM (or reset the stream). */
  remoteEnded = false;
  closed = false;
  /** The final header section arrived (server: the request; client: the response). */
  headersIn = false;
  headersOut = false;
  /** What the peer's stream window lets us send now. */
  sendWindow: number;
  /** DATA we may not send yet (windows), with an END_STREAM or trailers after it. */
  queue: QueuedData[] | undefined;
  queuedBytes = 0;
  /** Trailers to send after the queued DATA (encoded when they go out: HPACK follows the wire order). */
  trailersQueued: Fields | undefined;
  /** The pairs of the queued trailers that must stay never-indexed (HPACK). */
  trailersNeverIndexed: readonly number[] | undefined;
  /** Bytes received and handed over, not yet consumed (the owner may have paused). */
  unacked = 0;
  /** Consumed bytes not yet given back to the peer with a WINDOW_UPDATE. */
  owed = 0;
  /** The receive window we have left to offer the peer. */
  recvWindow: number;
  paused = false;
  /** The owner was told to wait (sendData returned false) and is owed an onDrain. */
  wantsDrain = false;
  /** The declared content-length, checked against the DATA received; -1: none. */
  expectedLength = -1;
  receivedLength = 0;
  /** Client side: the request was written; a reset now means the peer may have processed it. */
  sent = false;
  /** Client side: a HEAD request, whose response may declare a length it does not carry. */
  head = false;

  constructor(
    private readonly owner: StreamOwner,
    readonly id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Sends a header section (a request, a response, an informational response). */
  sendHeaders(fields: Fields, endStream = false, neverIndexed?: readonly number[]): void {
    this.owner.sendHeaders(this, fields, endStream, neverIndexed);
  }

  /** Sends body bytes. false: queued past the high-water mark; wait for onDrain before more. */
  sendData(chunk: Buffer, endStream = false): boolean {
    return this.owner.sendData(this, chunk, endStream);
  }

  /** Trailers end the stream (after any queued DATA). */
  sendTrailers(fields: Fields, neverIndexed?: readonly number[]): void {
    this.owner.sendTrailers(this, fields, neverIndexed);
  }

  /** Ends our side with an empty DATA frame carrying END_STREAM. */
  end(): void {
    if (!this.localEnded) this.owner.sendData(this, EMPTY, true);
  }

  /** RST_STREAM: the stream ends now, both ways. */
  reset(code: number): void {
    this.owner.resetStream(this, code, false);
  }

  /** Stop giving window back to the peer: it sends at most what is left. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.owner.returnWindow(this);
  }

  /** Bytes queued towards the peer on this stream. */
  get pending(): number {
    return this.queuedBytes;
  }
}
