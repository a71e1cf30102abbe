/**
 * One HTTP/2 connection over a socket, either end (RFC 9113): the preface and SETTINGS exchange,
 * streams and their states, flow control at both levels, HPACK in each direction, PING, GOAWAY
 * and RST_STREAM both ways, trailers. It carries every HTTP/2 use on the proxy's hot path (the
 * HTTP/2 server, the upstream session pools, gRPC, orig-proto between proxies) in place of
 * Node's `http2`, which cost several times the transport itself.
 *
 * Written for few allocations per request: frames are read as views of the socket's chunks,
 * header fields travel as flat [name, value, ...] arrays, and frames produced while one chunk is
 * handled leave in one write. Defences: the header block a peer may send (CONTINUATION flood),
 * streams a peer may reset per second (rapid reset), concurrent streams, windows that overflow,
 * replies a peer that does not read may make us queue (SETTINGS and PING floods), and malformed
 * messages (semantics.ts) are stream errors, never forwarded.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../../core/log';
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  Flag,
  FrameReader,
  FrameType,
  MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW,
  PREFACE,
  SETTINGS_ACK,
  SettingId,
  dataFrameHeader,
  goawayFrame,
  headersFrames,
  pingFrame,
  readGoaway,
  readRstStream,
  readSettings,
  readWindowUpdate,
  rstStreamFrame,
  settingsFrame,
  unpadded,
  windowUpdateFrame,
} from './frames';
import { H2Code } from './grpc-status';
import { H2Error, h2CodeName } from './h2-error';
import { HpackDecoder, HpackEncoder, HpackError } from './hpack';
import { checkSection, type Fields } from './semantics';
import type { H2Settings } from './settings';

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

/** What the connection's owner is told. */
export interface ConnectionEvents {
  /** Server: a client opened a stream; set `stream.events` before returning. */
  onStream?(stream: H2Stream, fields: Fields, endStream: boolean, neverIndexed: number[] | undefined): void;
  /** The peer's first SETTINGS arrived (a client session is usable from here). */
  onConnect?(): void;
  /** The peer sent GOAWAY: no new streams on this connection. */
  onGoaway?(code: number, lastStreamId: number): void;
  /** The socket closed; `error` when the connection ended on an error. Once. */
  onClose?(error: Error | undefined): void;
}

const NO_EVENTS: StreamEvents = { onHeaders() {}, onData() {}, onReset() {}, onDrain() {}, onClose() {} };

/** Queued outbound bytes of one stream past which sendData asks its caller to wait. */
const STREAM_HIGH_WATER = 64 * 1024;
/** Socket bytes not yet written past which every stream waits (the peer reads slowly). */
const SOCKET_HIGH_WATER = 256 * 1024;
/** A peer that lets this much pile up unread (our replies to its frames) is dropped. */
const SOCKET_LIMIT = 16 * 1024 * 1024;
/** Rapid reset (CVE-2023-44487): resets by the peer allowed in a burst, and per second after. */
const RESET_BURST = 1000;
const RESETS_PER_SECOND = 33;
/** Header blocks past our SETTINGS_MAX_HEADER_LIST_SIZE by this much compressed end the connection. */
const BLOCK_SLACK = 16 * 1024;
/** Frames produced within one turn are written together once they reach this much. */
const FLUSH_BYTES = 64 * 1024;

interface QueuedData {
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
    readonly conn: H2Connection,
    readonly id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Sends a header section (a request, a response, an informational response). */
  sendHeaders(fields: Fields, endStream = false, neverIndexed?: readonly number[]): void {
    this.conn.sendHeaders(this, fields, endStream, neverIndexed);
  }

  /** Sends body bytes. false: queued past the high-water mark; wait for onDrain before more. */
  sendData(chunk: Buffer, endStream = false): boolean {
    return this.conn.sendData(this, chunk, endStream);
  }

  /** Trailers end the stream (after any queued DATA). */
  sendTrailers(fields: Fields, neverIndexed?: readonly number[]): void {
    this.conn.sendTrailers(this, fields, neverIndexed);
  }

  /** Ends our side with an empty DATA frame carrying END_STREAM. */
  end(): void {
    if (!this.localEnded) this.conn.sendData(this, EMPTY, true);
  }

  /** RST_STREAM: the stream ends now, both ways. */
  reset(code: number): void {
    this.conn.resetStream(this, code, false);
  }

  /** Stop giving window back to the peer: it sends at most what is left. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn.returnWindow(this);
  }

  /** Bytes queued towards the peer on this stream. */
  get pending(): number {
    return this.queuedBytes;
  }
}

const EMPTY = Buffer.alloc(0);

export interface H2ConnectionOptions {
  role: 'server' | 'client';
  settings: H2Settings;
  log?: Logger;
  /** Server: the bytes detection read (the preface and whatever followed it). */
  prefix?: Buffer;
}

export class H2Connection {
  readonly streams = new Map<number, H2Stream>();
  /** The highest stream id the peer opened (server), for GOAWAY. */
  lastPeerStreamId = 0;
  /** The next stream id we open (client: odd). */
  private nextStreamId = 1;
  /** Set by the peer's GOAWAY: no new streams; streams above it were never processed. */
  goawayReceived: { code: number; lastStreamId: number } | undefined;
  /** We sent GOAWAY: no new streams from the peer past lastPeerStreamId. */
  goawaySent = false;
  destroyed = false;
  private closing = false;
  private readonly reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  /** The peer's settings as they apply to what we send. */
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxConcurrent = Number.POSITIVE_INFINITY;
  private connSendWindow = DEFAULT_WINDOW;
  /** Receive side, connection level: window left to the peer, bytes to give back. */
  private connRecvWindow: number;
  private connUnacked = 0;
  private readonly ourWindow: number;
  private readonly ourConnWindow: number;
  /** The server waits for the client's preface before anything else. */
  private prefaceLeft: number;
  /** A header block in pieces: HEADERS without END_HEADERS, then CONTINUATION. */
  private block: { streamId: number; flags: number; parts: Buffer[]; bytes: number } | undefined;
  /** Streams with queued DATA waiting for window. */
  private readonly blocked = new Set<H2Stream>();
  /** Client: requests waiting for the peer's SETTINGS_MAX_CONCURRENT_STREAMS to allow them. */
  private readonly waiting: { stream: H2Stream; fields: Fields; endStream: boolean; neverIndexed: readonly number[] | undefined }[] = [];
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private connected = false;
  private resetTokens = RESET_BURST;
  private resetRefill = Date.now();
  private readonly pings: ((rttMs: number | undefined) => void)[] = [];
  private pingSent = 0;
  /** Streams the peer opened that are not closed (for SETTINGS_MAX_CONCURRENT_STREAMS). */
  private peerOpened = 0;
  private localOpened = 0;
  private closeError: Error | undefined;
  private readonly onSocketData = (chunk: Buffer) => this.receive(chunk);

  constructor(
    readonly socket: Socket,
    private readonly opts: H2ConnectionOptions,
    private readonly events: ConnectionEvents = {},
  ) {
    const s = opts.settings;
    this.ourWindow = s.initialStreamWindowSize;
    this.ourConnWindow = Math.max(DEFAULT_WINDOW, s.initialConnectionWindowSize);
    this.connRecvWindow = this.ourConnWindow;
    this.decoder = new HpackDecoder({ maxTableSize: 4096 });
    this.prefaceLeft = opts.role === 'server' ? PREFACE.length : 0;
    const settings: [number, number][] = [
      [SettingId.ENABLE_PUSH, 0],
      [SettingId.INITIAL_WINDOW_SIZE, s.initialStreamWindowSize],
      [SettingId.MAX_HEADER_LIST_SIZE, s.maxHeaderListSize],
    ];
    if (opts.role === 'server') settings.push([SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams]);
    if (opts.role === 'client') this.queue(PREFACE);
    this.queue(settingsFrame(settings));
    if (this.ourConnWindow > DEFAULT_WINDOW) this.queue(windowUpdateFrame(0, this.ourConnWindow - DEFAULT_WINDOW));
    this.flush();
    socket.setNoDelay(true);
    socket.on('data', this.onSocketData);
    socket.on('drain', () => this.drained());
    socket.on('error', (err) => (this.closeError ??= err));
    // HTTP/2 has no half-closed connection: a FIN is the peer gone.
    socket.on('end', () => this.destroy());
    socket.on('close', () => this.closed());
    // Next tick: the owner has its reference to this connection before the first onStream.
    process.nextTick(() => {
      if (opts.prefix && opts.prefix.length > 0) this.receive(opts.prefix);
      if (!this.destroyed) socket.resume();
    });
  }

  /** Streams open now (both directions). */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** Whether a new request may be opened here (client). */
  get usable(): boolean {
    return !this.destroyed && !this.closing && this.goawayReceived === undefined && this.nextStreamId < 2 ** 31;
  }

  /** Client: a new stream with its request headers. It waits, unsent, while the peer's stream limit is reached. */
  request(fields: Fields, endStream: boolean, events: StreamEvents, neverIndexed?: readonly number[]): H2Stream {
    if (!this.usable) throw new H2Error(H2Code.REFUSED_STREAM, 'the connection takes no new streams');
    const stream = new H2Stream(this, this.nextStreamId, this.peerInitialWindow, this.ourWindow);
    this.nextStreamId += 2;
    stream.events = events;
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === ':method') stream.head = fields[i + 1] === 'HEAD';
    this.streams.set(stream.id, stream);
    if (this.localOpened >= this.peerMaxConcurrent) {
      // Body, trailers and the end the owner gives meanwhile wait in the stream's queue: no DATA
      // may go out before the HEADERS that open the stream.
      if (!endStream) stream.queue = [];
      this.waiting.push({ stream, fields, endStream, neverIndexed });
      return stream;
    }
    this.localOpened++;
    stream.sent = true;
    this.sendHeaders(stream, fields, endStream, neverIndexed);
    return stream;
  }

  /** PING: `done` gets the round trip (undefined if the connection closes first). */
  ping(done: (rttMs: number | undefined) => void): void {
    if (this.destroyed) return done(undefined);
    this.pings.push(done);
    if (this.pings.length === 1) this.pingSent = performance.now();
    const data = Buffer.alloc(8);
    data.writeUInt32BE(this.pings.length, 4);
    this.queue(pingFrame(data, false));
    this.flush();
  }

  /**
   * Graceful close: GOAWAY (no new streams from the peer), then the socket closes once the open
   * streams are done.
   */
  close(code: number = H2Code.NO_ERROR): void {
    if (this.destroyed || this.closing) return;
    this.closing = true;
    this.sendGoaway(code, '');
    this.maybeFinish();
  }

  /** Ends at once: every stream is reset (retry-safe where the peer never saw it). */
  destroy(error?: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closeError ??= error;
    this.flush();
    for (const s of [...this.streams.values()]) this.finishStream(s, H2Code.CANCEL, !s.sent || this.beyondGoaway(s), true);
    this.socket.destroy();
  }

  // ---- receiving ----

  private receive(chunk: Buffer): void {
    if (this.destroyed) return;
    try {
      let b = chunk;
      if (this.prefaceLeft > 0) {
        const n = Math.min(this.prefaceLeft, b.length);
        const at = PREFACE.length - this.prefaceLeft;
        if (b.compare(PREFACE, at, at + n, 0, n) !== 0) throw new H2Error(H2Code.PROTOCOL_ERROR, 'no HTTP/2 client preface');
        this.prefaceLeft -= n;
        b = b.subarray(n);
        if (b.length === 0) return;
      }
      this.reader.push(b, this.onFrame);
    } catch (err) {
      this.connectionError(err);
    }
    this.flush();
  }

  private readonly onFrame = (type: number, flags: number, streamId: number, payload: Buffer): boolean => {
    if (this.block && type !== FrameType.CONTINUATION) throw new H2Error(H2Code.PROTOCOL_ERROR, `frame type ${type} inside a header block`);
    if (!this.connected && type !== FrameType.SETTINGS) throw new H2Error(H2Code.PROTOCOL_ERROR, 'the first frame is not SETTINGS');
    switch (type) {
      case FrameType.DATA:
        this.onDataFrame(flags, streamId, payload);
        break;
      case FrameType.HEADERS:
        this.onHeadersFrame(flags, streamId, payload);
        break;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, streamId, payload);
        break;
      case FrameType.RST_STREAM:
        this.onRstStream(streamId, readRstStream(payload));
        break;
      case FrameType.SETTINGS:
        this.onSettings(flags, payload);
        break;
      case FrameType.PING:
        if ((flags & Flag.ACK) === 0) this.queue(pingFrame(payload, true));
        else this.onPingAck();
        break;
      case FrameType.GOAWAY:
        this.onGoaway(payload);
        break;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, readWindowUpdate(payload));
        break;
      case FrameType.PUSH_PROMISE:
        // We advertise SETTINGS_ENABLE_PUSH 0, and a client never receives a push as a server.
        throw new H2Error(H2Code.PROTOCOL_ERROR, 'PUSH_PROMISE');
      default:
        // PRIORITY is advisory and ignored; unknown frame types must be ignored (RFC 9113 §4.1).
        break;
    }
    if (this.outBytes >= FLUSH_BYTES) this.flush();
    return !this.destroyed;
  };

  private onSettings(flags: number, payload: Buffer): void {
    if ((flags & Flag.ACK) !== 0) return;
    for (const [id, value] of readSettings(payload)) {
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          this.encoder.setMaxTableSize(Math.min(value, 65536));
          break;
        case SettingId.ENABLE_PUSH:
          if (value > 1) throw new H2Error(H2Code.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = value;
          break;
        case SettingId.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, 'a stream window past 2^31-1');
          }
          if (delta > 0) this.unblock();
          break;
        }
        case SettingId.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) throw new H2Error(H2Code.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
          this.peerMaxFrameSize = value;
          break;
        default:
          // SETTINGS_MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored.
          break;
      }
    }
    this.queue(SETTINGS_ACK);
    if (!this.connected) {
      this.connected = true;
      this.events.onConnect?.();
    }
    this.openWaiting();
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    const fragment = unpadded(FrameType.HEADERS, flags, payload);
    if ((flags & Flag.END_HEADERS) !== 0) return this.onHeaderBlock(streamId, flags, fragment);
    this.block = { streamId, flags, parts: [fragment], bytes: fragment.length };
    this.checkBlockSize(this.block.bytes);
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const b = this.block;
    if (!b || b.streamId !== streamId) throw new H2Error(H2Code.PROTOCOL_ERROR, 'CONTINUATION without a header block in progress on its stream');
    b.parts.push(payload);
    b.bytes += payload.length;
    this.checkBlockSize(b.bytes);
    if ((flags & Flag.END_HEADERS) === 0) return;
    this.block = undefined;
    // The parts are views of socket chunks that are not reused, so joining them is safe.
    this.onHeaderBlock(streamId, b.flags, b.parts.length === 1 ? b.parts[0]! : Buffer.concat(b.parts, b.bytes));
  }

  /** A header block too large to be a legitimate one ends the connection (CONTINUATION flood). */
  private checkBlockSize(bytes: number): void {
    if (bytes > this.opts.settings.maxHeaderListSize + BLOCK_SLACK) {
      throw new H2Error(H2Code.ENHANCE_YOUR_CALM, `a header block of more than ${bytes} bytes`);
    }
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    let decoded;
    try {
      decoded = this.decoder.decode(block);
    } catch (err) {
      if (err instanceof HpackError) throw new H2Error(H2Code.COMPRESSION_ERROR, err.message);
      throw err;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    let stream = this.streams.get(streamId);
    if (!stream) {
      if (this.opts.role === 'client' || streamId % 2 === 0) {
        // A response for a stream we already reset or finished: the block kept HPACK in step.
        if (streamId < this.nextStreamId) return;
        throw new H2Error(H2Code.PROTOCOL_ERROR, `HEADERS on stream ${streamId}, which was never opened`);
      }
      if (streamId <= this.lastPeerStreamId) return; // closed already: ignored once decoded
      if (this.goawaySent) return; // past our GOAWAY: never processed
      this.lastPeerStreamId = streamId;
      stream = new H2Stream(this, streamId, this.peerInitialWindow, this.ourWindow);
      if (this.peerOpened >= this.opts.settings.maxConcurrentStreams) {
        this.queue(rstStreamFrame(streamId, H2Code.REFUSED_STREAM));
        return;
      }
      if (this.socket.writableLength + this.outBytes > this.opts.settings.maxSessionMemoryMb * 1024 * 1024) {
        this.queue(rstStreamFrame(streamId, H2Code.ENHANCE_YOUR_CALM));
        return;
      }
      this.streams.set(streamId, stream);
      this.peerOpened++;
      stream.sent = true;
      if (decoded.size > this.opts.settings.maxHeaderListSize) {
        // Answered, not reset: the client learns why (as a server behind nghttp2 would answer).
        stream.remoteEnded = endStream;
        this.sendHeaders(stream, [':status', '431'], true);
        if (!endStream) this.resetStream(stream, H2Code.NO_ERROR, false);
        return;
      }
      const c = checkSection(decoded.fields, 'request');
      if (c.error !== undefined) return this.streamError(stream, c.error);
      stream.expectedLength = c.contentLength;
      stream.headersIn = true;
      if (endStream) this.remoteEnd(stream);
      this.events.onStream?.(stream, decoded.fields, endStream, decoded.neverIndexed);
      if (endStream) this.maybeCloseStream(stream);
      return;
    }
    if (stream.remoteEnded) return this.streamError(stream, 'HEADERS after END_STREAM', H2Code.STREAM_CLOSED);
    if (decoded.size > this.opts.settings.maxHeaderListSize) return this.streamError(stream, `a header list of ${decoded.size} bytes`);
    if (!stream.headersIn) {
      // Client side: the response (1xx first, possibly several).
      const c = checkSection(decoded.fields, 'response');
      if (c.error !== undefined) return this.streamError(stream, c.error);
      if (c.status! < 200) {
        if (endStream) return this.streamError(stream, 'an informational response with END_STREAM');
        stream.events.onHeaders(decoded.fields, false, 'informational', decoded.neverIndexed);
        return;
      }
      stream.headersIn = true;
      // A response to HEAD, a 204 or a 304 declares a length it does not carry (RFC 9110 §8.6).
      stream.expectedLength = stream.head || c.status === 204 || c.status === 304 ? -1 : c.contentLength;
      if (endStream && stream.expectedLength > 0) return this.streamError(stream, 'content-length without a body');
      if (endStream) this.remoteEnd(stream);
      stream.events.onHeaders(decoded.fields, endStream, 'final', decoded.neverIndexed);
    } else {
      if (!endStream) return this.streamError(stream, 'trailers without END_STREAM');
      const c = checkSection(decoded.fields, 'trailers');
      if (c.error !== undefined) return this.streamError(stream, c.error);
      if (stream.expectedLength >= 0 && stream.receivedLength !== stream.expectedLength) return this.streamError(stream, 'a body shorter than its content-length');
      this.remoteEnd(stream);
      stream.events.onHeaders(decoded.fields, true, 'trailers', decoded.neverIndexed);
    }
    this.maybeCloseStream(stream);
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    // Flow control counts the whole frame, padding included.
    const n = payload.length;
    this.connRecvWindow -= n;
    if (this.connRecvWindow < 0) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, 'DATA past the connection window');
    const stream = this.streams.get(streamId);
    const data = unpadded(FrameType.DATA, flags, payload);
    if (!stream || stream.remoteEnded) {
      // A stream we closed or reset: its bytes go back to the connection window at once.
      this.giveBackConnection(n);
      if (!stream && streamId > (this.opts.role === 'server' ? this.lastPeerStreamId : this.nextStreamId - 2)) {
        throw new H2Error(H2Code.PROTOCOL_ERROR, `DATA on stream ${streamId}, which was never opened`);
      }
      if (stream) this.streamError(stream, 'DATA after END_STREAM', H2Code.STREAM_CLOSED);
      return;
    }
    if (!stream.headersIn) return this.streamError(stream, 'DATA before HEADERS');
    stream.recvWindow -= n;
    if (stream.recvWindow < 0) return this.streamError(stream, 'DATA past the stream window', H2Code.FLOW_CONTROL_ERROR);
    stream.receivedLength += data.length;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (stream.expectedLength >= 0 && (stream.receivedLength > stream.expectedLength || (endStream && stream.receivedLength !== stream.expectedLength))) {
      this.giveBackConnection(n);
      return this.streamError(stream, 'a body that does not match its content-length');
    }
    // Padding is not the owner's to consume: it goes back with the next window update.
    stream.unacked += n - data.length;
    if (endStream) this.remoteEnd(stream);
    if (data.length > 0 || endStream) stream.events.onData(data, endStream);
    stream.unacked += data.length;
    this.returnWindow(stream);
    if (endStream) this.maybeCloseStream(stream);
  }

  /** Gives received bytes back to the peer's windows, in batches, unless the stream is paused. */
  returnWindow(stream: H2Stream): void {
    if (stream.paused || stream.unacked === 0) return;
    const n = stream.unacked;
    stream.unacked = 0;
    this.giveBackConnection(n);
    if (stream.remoteEnded) return;
    stream.owed += n;
    // Half the window consumed: give it back (fewer frames than one per DATA frame).
    if (stream.owed >= this.ourWindow / 2) {
      this.queue(windowUpdateFrame(stream.id, stream.owed));
      stream.recvWindow += stream.owed;
      stream.owed = 0;
      this.scheduleFlush();
    }
  }

  private giveBackConnection(n: number): void {
    this.connUnacked += n;
    if (this.connUnacked >= this.ourConnWindow / 2) {
      this.queue(windowUpdateFrame(0, this.connUnacked));
      this.connRecvWindow += this.connUnacked;
      this.connUnacked = 0;
      this.scheduleFlush();
    }
  }

  private onRstStream(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (streamId > (this.opts.role === 'server' ? this.lastPeerStreamId : this.nextStreamId - 2)) {
        throw new H2Error(H2Code.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
      }
      return;
    }
    // Rapid reset: a token bucket of peer resets; a peer that empties it is dropped.
    const now = Date.now();
    this.resetTokens = Math.min(RESET_BURST, this.resetTokens + ((now - this.resetRefill) * RESETS_PER_SECOND) / 1000);
    this.resetRefill = now;
    if (--this.resetTokens < 0) throw new H2Error(H2Code.ENHANCE_YOUR_CALM, 'too many streams reset by the peer');
    this.finishStream(stream, code, code === H2Code.REFUSED_STREAM, false, true);
  }

  private onGoaway(payload: Buffer): void {
    const g = readGoaway(payload);
    const first = this.goawayReceived === undefined;
    this.goawayReceived = { code: g.code, lastStreamId: g.lastStreamId };
    // Our streams past its last stream id were never processed: they may be retried elsewhere.
    for (const s of [...this.streams.values()]) {
      if (this.beyondGoaway(s)) this.finishStream(s, H2Code.REFUSED_STREAM, true, false, true);
    }
    for (const w of this.waiting.splice(0)) this.finishStream(w.stream, H2Code.REFUSED_STREAM, true, false);
    if (first) this.events.onGoaway?.(g.code, g.lastStreamId);
    if (g.code !== H2Code.NO_ERROR) this.opts.log?.debug('h2 peer sent GOAWAY', { code: h2CodeName(g.code), debug: g.debug.toString('latin1').slice(0, 100) });
    this.maybeFinish();
  }

  private beyondGoaway(s: H2Stream): boolean {
    const g = this.goawayReceived;
    const ours = this.opts.role === 'client' ? s.id % 2 === 1 : s.id % 2 === 0;
    return g !== undefined && ours && s.id > g.lastStreamId;
  }

  private onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      if (increment === 0) throw new H2Error(H2Code.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, 'the connection window past 2^31-1');
      this.unblock();
      return;
    }
    const stream = this.streams.get(streamId);
    if (!stream) return;
    if (increment === 0) return this.streamError(stream, 'WINDOW_UPDATE of 0');
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) return this.streamError(stream, 'a stream window past 2^31-1', H2Code.FLOW_CONTROL_ERROR);
    if (stream.queue) this.flushStream(stream);
  }

  private onPingAck(): void {
    const done = this.pings.shift();
    if (!done) return;
    const rtt = performance.now() - this.pingSent;
    this.pingSent = performance.now();
    done(rtt);
  }

  // ---- sending ----

  sendHeaders(stream: H2Stream, fields: Fields, endStream: boolean, neverIndexed?: readonly number[]): void {
    if (stream.localEnded || this.destroyed) return;
    const block = this.encoder.encode(fields, neverIndexed);
    this.queue(headersFrames(stream.id, block, endStream, this.peerMaxFrameSize));
    stream.headersOut = true;
    if (endStream) {
      stream.localEnded = true;
      stream.endSent = true;
      this.maybeCloseStream(stream);
    }
    this.scheduleFlush();
  }

  sendData(stream: H2Stream, chunk: Buffer, endStream: boolean): boolean {
    if (stream.localEnded || this.destroyed) return false;
    if (endStream) stream.localEnded = true;
    if (stream.queue) {
      stream.queue.push({ chunk, end: endStream });
      stream.queuedBytes += chunk.length;
    } else {
      const sent = this.writeData(stream, chunk, endStream);
      if (sent < chunk.length || (endStream && !stream.endSent)) {
        stream.queue = [{ chunk: sent === 0 ? chunk : chunk.subarray(sent), end: endStream }];
        stream.queuedBytes = chunk.length - sent;
        this.blocked.add(stream);
      } else if (endStream) this.maybeCloseStream(stream);
    }
    this.scheduleFlush();
    const ok = stream.queuedBytes < STREAM_HIGH_WATER && this.socket.writableLength + this.outBytes < SOCKET_HIGH_WATER;
    if (!ok) stream.wantsDrain = true;
    return ok;
  }

  sendTrailers(stream: H2Stream, fields: Fields, neverIndexed?: readonly number[]): void {
    if (stream.localEnded || this.destroyed) return;
    if (stream.queue) {
      stream.trailersQueued = fields;
      stream.trailersNeverIndexed = neverIndexed;
      stream.localEnded = true;
      return;
    }
    this.sendHeaders(stream, fields, true, neverIndexed);
  }

  /**
   * Writes as much of `chunk` as the windows allow, as DATA frames of at most the peer's frame
   * size; returns the bytes written. With `endStream` and everything written, the last frame
   * carries END_STREAM (an empty chunk needs no window).
   */
  private writeData(stream: H2Stream, chunk: Buffer, endStream: boolean): number {
    let p = 0;
    for (;;) {
      const n = Math.min(stream.sendWindow, this.connSendWindow, this.peerMaxFrameSize, chunk.length - p);
      const last = p + Math.max(n, 0) === chunk.length;
      if (n <= 0 && !(last && endStream)) return p;
      const end = last && endStream;
      this.queueData(stream.id, p === 0 && n === chunk.length ? chunk : chunk.subarray(p, p + n), end);
      stream.sendWindow -= n;
      this.connSendWindow -= n;
      p += n;
      if (end) stream.endSent = true;
      if (last) return p;
    }
  }

  /** Queued DATA of `stream` as far as the windows now allow; then its trailers or END_STREAM. */
  private flushStream(stream: H2Stream): void {
    const q = stream.queue;
    if (!q) return;
    while (q.length > 0) {
      const item = q[0]!;
      // END_STREAM rides the last item's last frame unless trailers follow.
      const sent = this.writeData(stream, item.chunk, item.end && q.length === 1 && !stream.trailersQueued);
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
        // Encoded as they go out: the peer's decoder reads blocks in wire order.
        this.queue(headersFrames(stream.id, this.encoder.encode(fields, neverIndexed), true, this.peerMaxFrameSize));
        stream.endSent = true;
      }
      this.maybeCloseStream(stream);
    }
    this.scheduleFlush();
    // A stream the flush just closed has heard its onClose, which comes last.
    if (stream.wantsDrain && !stream.closed && stream.queuedBytes < STREAM_HIGH_WATER && this.socket.writableLength + this.outBytes < SOCKET_HIGH_WATER) {
      stream.wantsDrain = false;
      stream.events.onDrain();
    }
  }

  private queueData(streamId: number, payload: Buffer, endStream: boolean): void {
    this.queue(dataFrameHeader(streamId, payload.length, endStream));
    if (payload.length > 0) this.queue(payload);
  }

  private unblock(): void {
    for (const s of [...this.blocked]) {
      if (this.connSendWindow <= 0) break;
      this.flushStream(s);
    }
  }

  resetStream(stream: H2Stream, code: number, retrySafe: boolean): void {
    if (stream.closed) return;
    // Both ends already ended on the wire: the stream is closed for the peer, and an RST_STREAM
    // there is an invalid frame (Node's server counts them and ends the connection at 1,000).
    const over = stream.remoteEnded && stream.endSent;
    if (!this.destroyed && stream.sent && !over) this.queue(rstStreamFrame(stream.id, code));
    if (over) return this.finishStream(stream, H2Code.NO_ERROR, false, false);
    this.finishStream(stream, code, retrySafe, true);
    this.scheduleFlush();
  }

  private streamError(stream: H2Stream, why: string, code: number = H2Code.PROTOCOL_ERROR): void {
    this.opts.log?.debug('h2 stream error', { stream: stream.id, code: h2CodeName(code), why });
    this.resetStream(stream, code, false);
  }

  private connectionError(err: unknown): void {
    const e = err instanceof H2Error ? err : new H2Error(H2Code.INTERNAL_ERROR, (err as Error)?.message ?? String(err));
    this.opts.log?.debug('h2 connection error', { code: h2CodeName(e.h2Code), error: e.message });
    if (!(err instanceof H2Error)) this.opts.log?.error('h2 connection failed', { error: (err as Error)?.stack ?? String(err) });
    this.closeError ??= e;
    if (!this.goawaySent) this.sendGoaway(e.h2Code, e.message);
    this.flush();
    this.destroyed = true;
    for (const s of [...this.streams.values()]) this.finishStream(s, e.h2Code, this.beyondGoaway(s) || !s.sent, true);
    // Let the GOAWAY out, then close; a peer that does not read gets cut off.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private sendGoaway(code: number, debug: string): void {
    this.goawaySent = true;
    this.queue(goawayFrame(this.lastPeerStreamId, code, debug.slice(0, 200)));
    this.scheduleFlush();
  }

  private remoteEnd(stream: H2Stream): void {
    stream.remoteEnded = true;
  }

  private maybeCloseStream(stream: H2Stream): void {
    if (stream.remoteEnded && stream.endSent && !stream.queue && !stream.closed) this.finishStream(stream, H2Code.NO_ERROR, false, false);
  }

  /** The stream is over (normally, or reset with `code`): its owner hears onReset (if so) and onClose. */
  private finishStream(stream: H2Stream, code: number, retrySafe: boolean, local: boolean, byPeer = false): void {
    if (stream.closed) return;
    const normal = code === H2Code.NO_ERROR && stream.remoteEnded && stream.endSent && !local;
    stream.closed = true;
    stream.remoteEnded = true;
    stream.localEnded = true;
    stream.endSent = true;
    if (stream.queue) {
      stream.queue = undefined;
      stream.queuedBytes = 0;
      this.blocked.delete(stream);
    }
    if (stream.unacked > 0) {
      this.giveBackConnection(stream.unacked);
      stream.unacked = 0;
    }
    if (this.streams.delete(stream.id)) {
      const peers = this.opts.role === 'server' ? stream.id % 2 === 1 : stream.id % 2 === 0;
      if (peers) this.peerOpened--;
      else if (stream.sent) this.localOpened--;
    }
    const i = this.waiting.findIndex((w) => w.stream === stream);
    if (i >= 0) this.waiting.splice(i, 1);
    if (!normal) stream.events.onReset(code, retrySafe, byPeer);
    stream.events.onClose();
    this.openWaiting();
    this.maybeFinish();
  }

  /** Client: requests that waited for the peer's stream limit go out as streams close. */
  private openWaiting(): void {
    while (this.waiting.length > 0 && this.localOpened < this.peerMaxConcurrent && !this.destroyed) {
      const w = this.waiting.shift()!;
      const s = w.stream;
      this.localOpened++;
      s.sent = true;
      // The owner may have ended its side while the stream waited: the HEADERS still go first.
      const ended = s.localEnded;
      s.localEnded = false;
      this.sendHeaders(s, w.fields, w.endStream, w.neverIndexed);
      s.localEnded ||= ended;
      if (s.queue && s.queue.length === 0 && !s.trailersQueued) s.queue = undefined;
      else if (s.queue) {
        this.blocked.add(s);
        this.flushStream(s);
      }
    }
  }

  /** A closing connection ends once its last stream has. */
  private maybeFinish(): void {
    if ((this.closing || this.goawayReceived) && this.streams.size === 0 && !this.destroyed) {
      this.flush();
      this.destroyed = true;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
  }

  // ---- the socket ----

  private queue(b: Buffer): void {
    this.out.push(b);
    this.outBytes += b.length;
    // Answers the peer provokes within one read (a flood of PINGs, SETTINGS, tiny frames) grow
    // this queue before the flush that checks the limit: flush at the limit, so it is checked.
    if (this.outBytes > SOCKET_LIMIT) this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flush());
  }

  /** Everything produced so far, in one write (small frames joined, large payloads as they are). */
  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (out.length === 1) this.socket.write(out[0]!);
    else if (bytes <= 16 * 1024) this.socket.write(Buffer.concat(out, bytes));
    else {
      this.socket.cork();
      for (const b of out) this.socket.write(b);
      this.socket.uncork();
    }
    if (this.socket.writableLength > SOCKET_LIMIT) {
      // The peer makes us answer (PING, SETTINGS) or send faster than it reads: it is not a client we can serve.
      this.opts.log?.debug('h2 peer does not read; closing', { queued: this.socket.writableLength });
      this.destroy(new H2Error(H2Code.ENHANCE_YOUR_CALM, 'the peer does not read what it asks for'));
    }
  }

  private drained(): void {
    for (const s of this.streams.values()) {
      if (s.wantsDrain && s.queuedBytes < STREAM_HIGH_WATER) {
        s.wantsDrain = false;
        s.events.onDrain();
      }
    }
  }

  private closed(): void {
    this.destroyed = true;
    for (const s of [...this.streams.values()]) this.finishStream(s, H2Code.CANCEL, !s.sent || this.beyondGoaway(s), true);
    for (const p of this.pings.splice(0)) p(undefined);
    this.socket.off('data', this.onSocketData);
    this.events.onClose?.(this.closeError);
  }
}
