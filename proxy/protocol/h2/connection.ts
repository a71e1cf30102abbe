/**
 * One HTTP/2 connection over a socket, either end (RFC 9113): the preface and SETTINGS exchange,
 * streams and their states, HPACK in each direction, PING, GOAWAY and RST_STREAM both ways,
 * trailers. It carries every HTTP/2 use on the proxy's hot path (the HTTP/2 server, the upstream
 * session pools, gRPC, orig-proto between proxies) in place of Node's `http2`, which cost
 * several times the transport itself.
 *
 * This module reads frames and keeps the state machine; beside it, each with one job: the
 * stream (stream.ts), the write side (frame-output.ts: one write per turn; data-sender.ts: DATA
 * under the peer's windows), a read as one turn (read-turn.ts), our windows (receive-windows.ts), the limits a peer meets
 * (header-block.ts: CONTINUATION flood; reset-budget.ts: rapid reset; stream-limit.ts: the
 * peer's concurrency limit on our requests), and pure rules (peer-settings.ts,
 * stream-sections.ts, semantics.ts). Written for few allocations per request: frames are read
 * as views of the socket's chunks and header fields travel as flat [name, value, ...] arrays.
 * Malformed messages are stream errors, never forwarded.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../../core/log';
import { releaseBytes, takeBytes } from '../../transport/direct-read';
import { DataSender } from './data-sender';
import { FLUSH_BYTES, FrameOutput } from './frame-output';
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  Flag,
  FrameReader,
  FrameType,
  MAX_WINDOW,
  PREFACE,
  SETTINGS_ACK,
  SettingId,
  goawayFrame,
  headersFrames,
  pingFrame,
  readGoaway,
  readRstStream,
  readWindowUpdate,
  rstStreamFrame,
  settingsFrame,
  unpadded,
  windowUpdateFrame,
} from './frames';
import { H2Code } from './grpc-status';
import { H2Error, h2CodeName } from './h2-error';
import { HeaderBlockAssembler } from './header-block';
import { HpackDecoder, HpackEncoder, HpackError } from './hpack';
import { readPeerSettings } from './peer-settings';
import { PingTracker } from './ping-tracker';
import { ReadTurn } from './read-turn';
import { ReceiveWindows } from './receive-windows';
import { ResetBudget } from './reset-budget';
import { checkSection, type Fields } from './semantics';
import type { H2Settings } from './settings';
import { LocalStreamLimit } from './stream-limit';
import { sectionOnStream } from './stream-sections';
import { H2Stream, type StreamEvents, type StreamOwner } from './stream';

export type { H2Stream, StreamEvents } from './stream';

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

/** Header blocks past our SETTINGS_MAX_HEADER_LIST_SIZE by this much compressed end the connection. */
const BLOCK_SLACK = 16 * 1024;

export interface H2ConnectionOptions {
  role: 'server' | 'client';
  settings: H2Settings;
  log?: Logger;
  /** Server: the bytes detection read (the preface and whatever followed it). */
  prefix?: Buffer;
}

export class H2Connection implements StreamOwner {
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
  /** A server's reader takes the client preface before the first frame. */
  private readonly reader: FrameReader;
  private readonly output: FrameOutput;
  private readonly sender: DataSender;
  private readonly windows: ReceiveWindows;
  private readonly headerBlock: HeaderBlockAssembler;
  private readonly resets = new ResetBudget();
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  /** The peer's settings as they apply to what we send (its frame size: the sender's). */
  private peerInitialWindow = DEFAULT_WINDOW;
  /** Client: our open streams under the peer's limit, and the requests waiting for room. */
  private readonly limit = new LocalStreamLimit();
  private connected = false;
  private readonly pings = new PingTracker();
  /** Streams the peer opened that are not closed (for SETTINGS_MAX_CONCURRENT_STREAMS). */
  private peerOpened = 0;
  private closeError: Error | undefined;
  private readonly onSocketData = (chunk: Buffer) => this.receive(chunk);
  private readonly turn = new ReadTurn();

  constructor(
    readonly socket: Socket,
    private readonly opts: H2ConnectionOptions,
    private readonly events: ConnectionEvents = {},
  ) {
    const s = opts.settings;
    this.output = new FrameOutput(socket, (queued) => {
      // The peer makes us answer (PING, SETTINGS) or send faster than it reads: it is not a client we can serve.
      this.opts.log?.debug('h2 peer does not read; closing', { queued });
      this.destroy(new H2Error(H2Code.ENHANCE_YOUR_CALM, 'the peer does not read what it asks for'));
    });
    this.sender = new DataSender(this.output, {
      writeTrailers: (stream, fields, neverIndexed) => {
        // Encoded as they go out: the peer's decoder reads blocks in wire order.
        this.output.push(headersFrames(stream.id, this.encoder.encode(fields, neverIndexed), true, this.sender.peerMaxFrameSize));
        stream.endSent = true;
      },
      maybeClose: (stream) => this.maybeCloseStream(stream),
    });
    this.windows = new ReceiveWindows(s.initialStreamWindowSize, Math.max(DEFAULT_WINDOW, s.initialConnectionWindowSize), this.output);
    this.headerBlock = new HeaderBlockAssembler(s.maxHeaderListSize + BLOCK_SLACK);
    this.decoder = new HpackDecoder({ maxTableSize: 4096 });
    this.reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE, opts.role === 'server');
    const settings: [number, number][] = [
      [SettingId.ENABLE_PUSH, 0],
      [SettingId.INITIAL_WINDOW_SIZE, s.initialStreamWindowSize],
      [SettingId.MAX_HEADER_LIST_SIZE, s.maxHeaderListSize],
    ];
    if (opts.role === 'server') settings.push([SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams]);
    if (opts.role === 'client') this.output.push(PREFACE);
    this.output.push(settingsFrame(settings));
    if (this.windows.connectionWindow > DEFAULT_WINDOW) this.output.push(windowUpdateFrame(0, this.windows.connectionWindow - DEFAULT_WINDOW));
    this.flush();
    socket.setNoDelay(true);
    takeBytes(socket, this.onSocketData);
    socket.on('drain', () => this.sender.drained(this.streams.values()));
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
    const stream = new H2Stream(this, this.nextStreamId, this.peerInitialWindow, this.windows.streamWindow);
    this.nextStreamId += 2;
    stream.events = events;
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === ':method') stream.head = fields[i + 1] === 'HEAD';
    this.streams.set(stream.id, stream);
    if (!this.limit.tryOpen()) {
      // Body, trailers and the end the owner gives meanwhile wait in the stream's queue: no DATA
      // may go out before the HEADERS that open the stream.
      if (!endStream) stream.queue = [];
      this.limit.wait({ stream, fields, endStream, neverIndexed });
      return stream;
    }
    stream.sent = true;
    this.sendHeaders(stream, fields, endStream, neverIndexed);
    return stream;
  }

  /** PING: `done` gets the round trip (undefined if the connection closes first). */
  ping(done: (rttMs: number | undefined) => void): void {
    if (this.destroyed) return done(undefined);
    this.output.push(this.pings.send(done));
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
    this.turn.run(this.readFrames, chunk);
    this.flush();
  }

  private readonly readFrames = (chunk: Buffer): void => {
    try {
      this.reader.push(chunk, this.onFrame);
    } catch (err) {
      this.connectionError(err);
    }
  };

  /** Runs `fn` once every frame of the read being handled has been (read-turn.ts). */
  afterRead(fn: () => void): void {
    this.turn.defer(fn);
  }

  private readonly onFrame = (type: number, flags: number, streamId: number, payload: Buffer): boolean => {
    if (this.headerBlock.open && type !== FrameType.CONTINUATION) throw new H2Error(H2Code.PROTOCOL_ERROR, `frame type ${type} inside a header block`);
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
        if ((flags & Flag.ACK) === 0) this.output.push(pingFrame(payload, true));
        else this.pings.ack();
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
    if (this.output.bytes >= FLUSH_BYTES) this.flush();
    return !this.destroyed;
  };

  private onSettings(flags: number, payload: Buffer): void {
    if ((flags & Flag.ACK) !== 0) return;
    const p = readPeerSettings(payload);
    if (p.headerTableSize !== undefined) this.encoder.setMaxTableSize(Math.min(p.headerTableSize, 65536));
    if (p.maxConcurrentStreams !== undefined) this.limit.peerMax = p.maxConcurrentStreams;
    if (p.maxFrameSize !== undefined) this.sender.peerMaxFrameSize = p.maxFrameSize;
    if (p.initialWindowSize !== undefined) {
      // A new initial window moves every open stream's window by the difference (§6.9.2).
      const delta = p.initialWindowSize - this.peerInitialWindow;
      this.peerInitialWindow = p.initialWindowSize;
      for (const s of this.streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, 'a stream window past 2^31-1');
      }
      if (delta > 0) this.sender.unblock();
    }
    this.output.push(SETTINGS_ACK);
    if (!this.connected) {
      this.connected = true;
      this.events.onConnect?.();
    }
    this.openWaiting();
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    const fragment = unpadded(FrameType.HEADERS, flags, payload);
    if ((flags & Flag.END_HEADERS) !== 0) return this.onHeaderBlock(streamId, flags, fragment);
    this.headerBlock.start(streamId, flags, fragment);
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const done = this.headerBlock.continuation(streamId, (flags & Flag.END_HEADERS) !== 0, payload);
    if (done) this.onHeaderBlock(streamId, done.flags, done.block);
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
      stream = new H2Stream(this, streamId, this.peerInitialWindow, this.windows.streamWindow);
      if (this.peerOpened >= this.opts.settings.maxConcurrentStreams) {
        this.output.push(rstStreamFrame(streamId, H2Code.REFUSED_STREAM));
        return;
      }
      if (this.output.pending > this.opts.settings.maxSessionMemoryMb * 1024 * 1024) {
        this.output.push(rstStreamFrame(streamId, H2Code.ENHANCE_YOUR_CALM));
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
      if (endStream) stream.remoteEnded = true;
      this.events.onStream?.(stream, decoded.fields, endStream, decoded.neverIndexed);
      if (endStream) this.maybeCloseStream(stream);
      return;
    }
    const v = sectionOnStream(stream, decoded.fields, decoded.size, endStream, this.opts.settings.maxHeaderListSize);
    if (v.kind === 'error') return this.streamError(stream, v.why, v.code);
    if (v.kind === 'informational') return stream.events.onHeaders(decoded.fields, false, 'informational', decoded.neverIndexed);
    if (v.kind === 'final') {
      stream.headersIn = true;
      stream.expectedLength = v.expectedLength;
    }
    if (endStream) stream.remoteEnded = true;
    stream.events.onHeaders(decoded.fields, endStream, v.kind, decoded.neverIndexed);
    this.maybeCloseStream(stream);
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    // Flow control counts the whole frame, padding included.
    const n = payload.length;
    this.windows.connWindow -= n;
    if (this.windows.connWindow < 0) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, 'DATA past the connection window');
    const stream = this.streams.get(streamId);
    const data = unpadded(FrameType.DATA, flags, payload);
    if (!stream || stream.remoteEnded) {
      // A stream we closed or reset: its bytes go back to the connection window at once.
      this.windows.giveBackConnection(n);
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
      this.windows.giveBackConnection(n);
      return this.streamError(stream, 'a body that does not match its content-length');
    }
    // Padding is not the owner's to consume: it goes back with the next window update.
    stream.unacked += n - data.length;
    if (endStream) stream.remoteEnded = true;
    if (data.length > 0 || endStream) stream.events.onData(data, endStream);
    stream.unacked += data.length;
    this.returnWindow(stream);
    if (endStream) this.maybeCloseStream(stream);
  }

  /** A stream's owner consumed what it was given (or resumed): window goes back to the peer. */
  returnWindow(stream: H2Stream): void {
    this.windows.returnWindow(stream);
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
    if (!this.resets.take()) throw new H2Error(H2Code.ENHANCE_YOUR_CALM, 'too many streams reset by the peer');
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
    for (const w of this.limit.takeAll()) this.finishStream(w.stream, H2Code.REFUSED_STREAM, true, false);
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
      this.sender.connWindow += increment;
      if (this.sender.connWindow > MAX_WINDOW) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, 'the connection window past 2^31-1');
      this.sender.unblock();
      return;
    }
    const stream = this.streams.get(streamId);
    if (!stream) return;
    if (increment === 0) return this.streamError(stream, 'WINDOW_UPDATE of 0');
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) return this.streamError(stream, 'a stream window past 2^31-1', H2Code.FLOW_CONTROL_ERROR);
    if (stream.queue) this.sender.flushStream(stream);
  }

  // ---- sending ----

  sendHeaders(stream: H2Stream, fields: Fields, endStream: boolean, neverIndexed?: readonly number[]): void {
    if (stream.localEnded || this.destroyed) return;
    const block = this.encoder.encode(fields, neverIndexed);
    this.output.push(headersFrames(stream.id, block, endStream, this.sender.peerMaxFrameSize));
    stream.headersOut = true;
    if (endStream) {
      stream.localEnded = true;
      stream.endSent = true;
      this.maybeCloseStream(stream);
    }
    this.output.schedule();
  }

  sendData(stream: H2Stream, chunk: Buffer, endStream: boolean): boolean {
    if (stream.localEnded || this.destroyed) return false;
    return this.sender.send(stream, chunk, endStream);
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

  resetStream(stream: H2Stream, code: number, retrySafe: boolean): void {
    if (stream.closed) return;
    // Both ends already ended on the wire: the stream is closed for the peer, and an RST_STREAM
    // there is an invalid frame (Node's server counts them and ends the connection at 1,000).
    const over = stream.remoteEnded && stream.endSent;
    if (!this.destroyed && stream.sent && !over) this.output.push(rstStreamFrame(stream.id, code));
    if (over) return this.finishStream(stream, H2Code.NO_ERROR, false, false);
    this.finishStream(stream, code, retrySafe, true);
    this.output.schedule();
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
    this.output.push(goawayFrame(this.lastPeerStreamId, code, debug.slice(0, 200)));
    this.output.schedule();
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
    if (stream.queue) this.sender.forget(stream);
    if (stream.unacked > 0) {
      this.windows.giveBackConnection(stream.unacked);
      stream.unacked = 0;
    }
    if (this.streams.delete(stream.id)) {
      const peers = this.opts.role === 'server' ? stream.id % 2 === 1 : stream.id % 2 === 0;
      if (peers) this.peerOpened--;
      else if (stream.sent) this.limit.release();
    }
    if (!stream.sent) this.limit.remove(stream);
    if (!normal) stream.events.onReset(code, retrySafe, byPeer);
    stream.events.onClose();
    this.openWaiting();
    this.maybeFinish();
  }

  /** Client: requests that waited for the peer's stream limit go out as streams close. */
  private openWaiting(): void {
    for (let w; !this.destroyed && (w = this.limit.next()); ) {
      const s = w.stream;
      s.sent = true;
      // The owner may have ended its side while the stream waited: the HEADERS still go first.
      const ended = s.localEnded;
      s.localEnded = false;
      this.sendHeaders(s, w.fields, w.endStream, w.neverIndexed);
      s.localEnded ||= ended;
      if (s.queue && s.queue.length === 0 && !s.trailersQueued) s.queue = undefined;
      else if (s.queue) this.sender.resume(s);
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

  /** Everything produced so far, in one write. */
  flush(): void {
    this.output.flush();
  }

  private closed(): void {
    this.destroyed = true;
    for (const s of [...this.streams.values()]) this.finishStream(s, H2Code.CANCEL, !s.sent || this.beyondGoaway(s), true);
    this.pings.cancelAll();
    releaseBytes(this.socket, this.onSocketData);
    this.events.onClose?.(this.closeError);
  }
}
