/**
 * The server half of the orig-proto upgrade: an HTTP/2 stream from a peer proxy (over its mTLS)
 * that carries `l5d-orig-proto: HTTP/1.1` is an HTTP/1.1 request the client made; it goes to the
 * app as HTTP/1.1 (the app never sees HTTP/2 or the marker) on a pooled keep-alive connection
 * that the call opens (the inbound side's one pool to the app, shared with its HTTP/1 server), and the app's response comes back as HTTP/2: status and fields, the body streamed with
 * backpressure, chunked trailers as HTTP/2 trailers. Failures are answered as on the HTTP/2 path
 * (502/503/504 with `l5d-proxy-error`); a response cut mid-body resets the stream, which the
 * outbound proxy turns into a reset of its client's connection.
 *
 * The HTTP/1 client is the proxy's own, not Node's http.Agent: the request head is written from
 * the converted fields, the response head is read by the strict parser the HTTP/1 server uses
 * (parse-head.ts), bodies are framed by it (content-length countdown, ChunkedScanner, or the
 * connection's close), and connections live in the HTTP/1 keep-alive pool (h1/client-pool.ts).
 * Node's client cost about a third of the inbound proxy's CPU per request.
 */
import { DeadlineList, type Deadlined } from '../../../core/deadline-list';
import { errnoOf, openCall, type HttpCall, type HttpOutcome } from '../call';
import { ChunkedError, ChunkedScanner } from '../h1/chunked';
import type { Acquired, UpstreamConn, UpstreamHandler } from '../h1/client-pool';
import { parseResponseHead, responseFraming, responseKeepAlive, type HeadLimits, type ResponseHead } from '../h1/parse-head';
import type { H2Stream } from '../h2/stream';
import { answerFor, H2Code, type ProxyFailure } from '../h2/grpc-status';
import { HttpProxyError } from '../errors';
import type { Fields } from '../h2/semantics';
import {
  chunk,
  h1RequestFromH2,
  h1RequestHeadBytes,
  h2ResponseFromHead,
  h2Trailers,
  lastChunk,
  ORIG_PROTO,
  ORIG_PROTO_HTTP11,
  parseTrailerSection,
  type H1Request,
} from './convert';

/** Errors that mean the app was not reached at all (the request never left). */
const CONNECT_ERRNO = /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EADDRNOTAVAIL)$/;

/** A stream a peer proxy marked as an HTTP/1.1 request (the caller checks it came over mTLS). */
export function isOrigProtoStream(fields: Fields): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === ORIG_PROTO) return fields[i + 1] === ORIG_PROTO_HTTP11;
  return false;
}

export interface OrigProtoOptions {
  /** 504 when no response head within this; 0 = no limit. */
  responseTimeoutMs: number;
  /** Bounds on the app's response heads, as on the HTTP/1 path (LINNET_PROXY_HTTP_MAX_HEADER_*). */
  limits: HeadLimits;
}

/** Serves one marked stream: `call` opens the pooled connection to the app and hears the end. */
export function serveOrigProto(client: H2Stream, fields: Fields, endStream: boolean, call: HttpCall<Acquired>, opts: OrigProtoOptions): void {
  new AppExchange(client, fields, endStream, call, opts).start();
}

const enum Framing {
  None,
  Length,
  Chunked,
  Close,
}

/** One request to the app and its response, on a pooled connection. */
class AppExchange implements UpstreamHandler, Deadlined {
  private readonly r: H1Request;
  private readonly reqLength: number;
  /** The request head's bytes (kept for the one resend). */
  private head: Buffer | undefined;
  private conn: UpstreamConn | undefined;
  private reused = false;
  private retried = false;
  /** The response head's timeout (opts.responseTimeoutMs), on the list shared by every exchange. */
  dlList: DeadlineList | undefined = undefined;
  dlAt = 0;
  dlPrev: Deadlined | undefined = undefined;
  dlNext: Deadlined | undefined = undefined;
  /** Response bytes of a head not complete yet. */
  private buf: Buffer | undefined;
  /** The app sent something on this connection for this request (a resend is no longer safe). */
  private gotBytes = false;
  /** The final (non-1xx) response head came. */
  private responded = false;
  private framing = Framing.None;
  private remaining = 0;
  private scanner: ChunkedScanner | undefined;
  private trailerBytes: Buffer[] | undefined;
  private resTrailers: Fields | undefined;
  /** The app's response was read to its end. */
  private resDone = false;
  /** The whole request was written to the app. */
  private reqDone = false;
  private reqWritten = 0;
  /** The connection may carry another request once this exchange is done. */
  private reusable = true;
  /** The app's socket is paused until the client stream drains. */
  private paused = false;
  private eof = false;
  /** The response to the client is complete (END_STREAM sent or about to be). */
  private complete = false;
  private status = 0;
  /** Response body bytes sent to the client (tap's response_end). */
  private sentBytes = 0;
  private failure: string | undefined;
  private reqTrailers: Fields | undefined;
  /** The request's END_STREAM came (the client sent all of it). */
  private clientEnded: boolean;
  /** Body bytes that came before the app's connection did. */
  private early: Buffer[] | undefined = [];
  /** The reset code the client's stream ended with, if it was reset. */
  private rstCode: number | undefined;
  /** The rest of the request body is read and dropped (the app answered, or will not get it). */
  private discarding = false;

  constructor(
    private readonly client: H2Stream,
    fields: Fields,
    private readonly endStream: boolean,
    private readonly call: HttpCall<Acquired>,
    private readonly opts: OrigProtoOptions,
  ) {
    this.r = h1RequestFromH2(fields, endStream);
    this.clientEnded = endStream;
    let cl: string | undefined;
    for (let i = 0; i < this.r.headers.length; i += 2) if (this.r.headers[i] === 'content-length') cl = this.r.headers[i + 1];
    this.reqLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
  }

  start(): void {
    const { client } = this;
    client.events = {
      onHeaders: (fields, _end, kind) => {
        if (kind !== 'trailers') return;
        this.reqTrailers = fields;
        this.onRequestEnd();
      },
      onData: (d, end) => {
        this.onRequestData(d);
        if (end) this.onRequestEnd();
      },
      onReset: (code) => (this.rstCode = code),
      onDrain: () => {
        if (this.paused) {
          this.paused = false;
          this.conn?.socket.resume();
        }
      },
      onClose: () => this.onClientClose(),
    };
    // Until the app's connection is there, the body waits (flow-controlled) in `early`.
    if (!this.endStream) client.pause();
    if (this.opts.responseTimeoutMs > 0) DeadlineList.of(this.opts.responseTimeoutMs).arm(this);
    this.head = h1RequestHeadBytes(this.r);
    if (!this.head) return this.fail({ kind: 'connection-lost', detail: 'invalid request' });
    this.connect(false);
  }

  private connect(again: boolean): void {
    openCall(this.call, again, this, AppExchange.opened, AppExchange.openFailed, !this.clientEnded);
  }

  private static opened(self: AppExchange, a: Acquired): void {
    self.onConnected(a.conn, a.reused);
  }

  private static openFailed(self: AppExchange, err: unknown): void {
    if (err instanceof HttpProxyError) return self.fail({ kind: 'refused', error: err });
    const errno = errnoOf(err);
    self.fail(CONNECT_ERRNO.test(errno) ? { kind: 'connect', errno } : { kind: 'connection-lost', detail: errno });
  }

  private onConnected(conn: UpstreamConn, reused: boolean): void {
    const head = this.head!;
    if (this.complete || this.client.closed) {
      conn.release(); // never used: as good as it was
      return;
    }
    this.conn = conn;
    this.reused = reused;
    conn.handler = this;
    const s = conn.socket;
    if (this.endStream || this.reqLength === 0) {
      s.write(head);
      this.reqDone = true;
      if (!this.endStream) this.discardRequestBody();
      return;
    }
    // The body is written as it arrives; what came before the connection goes first.
    s.write(head);
    const early = this.early ?? [];
    this.early = undefined;
    for (const d of early) this.onRequestData(d);
    if (this.clientEnded) this.onRequestEnd();
    else if (!this.paused) this.client.resume();
  }

  /** Reads and drops what is left of the request body (the app does not get it). */
  private discardRequestBody(): void {
    this.discarding = true;
    this.early = undefined;
    this.client.resume();
  }

  private onRequestData(d: Buffer): void {
    if (this.discarding) return;
    if (this.early) {
      this.early.push(d);
      return;
    }
    const c = this.conn;
    if (!c || this.reqDone || d.length === 0) return;
    let ok: boolean;
    if (this.r.chunked) ok = c.socket.write(chunk(d));
    else {
      this.reqWritten += d.length;
      ok = c.socket.write(d);
      // Done at the declared length: the app may answer before the stream's END_STREAM arrives.
      if (this.reqWritten >= this.reqLength) this.reqDone = true;
    }
    // Resumed by onUpstreamDrain. Not once the body is all written: the stream must still be read
    // to its END_STREAM, or it would never close.
    if (!ok && !this.reqDone) this.client.pause();
  }

  private onRequestEnd(): void {
    this.clientEnded = true;
    const c = this.conn;
    if (!c || this.reqDone || this.early || this.discarding) return;
    if (this.r.chunked) c.socket.write(lastChunk(this.reqTrailers));
    else if (this.reqWritten !== this.reqLength) {
      // Less than the declared length (HTTP/2 should have refused it): the app would wait forever.
      this.drop();
      return this.fail({ kind: 'connection-lost', detail: 'request body shorter than its content-length' });
    }
    this.reqDone = true;
    this.maybeRelease();
  }

  onUpstreamDrain(): void {
    if (this.client.paused && !this.early) this.client.resume();
  }

  onUpstreamData(data: Buffer): void {
    if (!this.conn) return;
    this.gotBytes = true;
    if (this.responded) return this.onBody(data);
    let b = this.buf ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      const res = parseResponseHead(b, this.opts.limits);
      if (res.kind === 'need-more') {
        this.buf = b;
        return;
      }
      this.buf = undefined;
      if (res.kind === 'error') return this.badResponse(res.detail);
      const h = res.head;
      if (h.status >= 200) return this.onHead(h, b.subarray(res.length));
      // 101 only answers an Upgrade, which never rides orig-proto.
      if (h.status === 101) return this.badResponse('101 without an Upgrade request');
      if (!this.client.headersOut && !this.client.closed) this.client.sendHeaders(h2ResponseFromHead(h));
      if (res.length === b.length) return;
      b = b.subarray(res.length);
    }
  }

  private onHead(h: ResponseHead, rest: Buffer): void {
    const { client } = this;
    this.responded = true;
    this.stopTimer();
    if (client.closed || this.complete) return this.drop();
    this.status = h.status;
    this.call.respond?.(h.status);
    this.reusable = responseKeepAlive(h);
    const out = h2ResponseFromHead(h);
    const fr = responseFraming(h, this.r.method);
    if (fr.kind === 'none') {
      this.complete = true;
      this.resDone = true;
      client.sendHeaders(out, true);
      if (rest.length > 0) this.reusable = false; // bytes after a complete response: nothing to trust
      return this.maybeRelease();
    }
    client.sendHeaders(out, false);
    if (fr.kind === 'length') {
      this.framing = Framing.Length;
      this.remaining = fr.length;
    } else {
      if (fr.kind === 'chunked') {
        this.framing = Framing.Chunked;
        this.scanner = new ChunkedScanner({
          onData: (b, s, e) => this.toClient(s === 0 && e === b.length ? b : b.subarray(s, e)),
          onTrailer: (b, s, e) => (this.trailerBytes ??= []).push(b.subarray(s, e)),
          maxTrailerBytes: this.opts.limits.maxHeaderBytes,
        });
      } else {
        this.framing = Framing.Close;
        this.reusable = false;
      }
    }
    if (rest.length > 0) this.onBody(rest);
  }

  private onBody(b: Buffer): void {
    if (this.resDone) {
      // Bytes after the response: the connection is out of step, never reused.
      this.reusable = false;
      return;
    }
    switch (this.framing) {
      case Framing.Length: {
        const n = Math.min(this.remaining, b.length);
        this.remaining -= n;
        if (this.remaining === 0) {
          // Complete before the last bytes go: their END_STREAM may close the stream at once.
          this.resDone = true;
          this.complete = true;
        }
        // The last bytes carry END_STREAM.
        this.toClient(n === b.length ? b : b.subarray(0, n), this.remaining === 0);
        if (n < b.length) this.reusable = false;
        if (this.remaining === 0) this.finishResponse();
        return;
      }
      case Framing.Chunked: {
        const sc = this.scanner!;
        let used: number;
        try {
          used = sc.push(b);
        } catch (e) {
          if (!(e instanceof ChunkedError)) throw e;
          return this.cutMidResponse(`invalid chunked body from the app: ${e.detail}`);
        }
        if (sc.done) {
          if (used < b.length) this.reusable = false;
          if (this.trailerBytes) this.resTrailers = parseTrailerSection(Buffer.concat(this.trailerBytes).toString('latin1'));
          this.finishResponse();
        }
        return;
      }
      case Framing.Close:
        this.toClient(b);
        return;
      default:
        this.reusable = false;
    }
  }

  /** Response body to the client; the app's socket waits while the stream's queue is full (onDrain). */
  private toClient(d: Buffer, end = false): void {
    if ((d.length === 0 && !end) || this.client.closed || this.client.localEnded) return;
    this.sentBytes += d.length;
    if (!this.client.sendData(d, end) && !this.paused && this.conn) {
      this.paused = true;
      this.conn.socket.pause();
    }
  }

  private finishResponse(): void {
    this.resDone = true;
    this.complete = true;
    const { client } = this;
    if (!client.closed && !client.localEnded) {
      // Chunked or close-delimited: trailers when the app sent some, else an empty END_STREAM.
      const trailers = h2Trailers(this.resTrailers);
      if (trailers.length > 0) client.sendTrailers(trailers);
      else client.end();
    }
    this.maybeRelease();
  }

  /** The connection goes back to the pool when both messages are complete, else it is closed. */
  private maybeRelease(): void {
    const c = this.conn;
    if (!c || !this.resDone) return;
    if (!this.reqDone) {
      // The app answered before it had the whole request: the connection cannot carry another.
      this.drop();
      this.discardRequestBody();
      return;
    }
    this.conn = undefined;
    c.handler = undefined;
    if (!this.reusable) {
      c.socket.destroy();
      return;
    }
    if (this.paused) {
      this.paused = false;
      c.socket.resume();
    }
    c.release();
  }

  /** Lets go of the connection without reusing it. */
  private drop(): void {
    const c = this.conn;
    if (!c) return;
    this.conn = undefined;
    c.handler = undefined;
    c.socket.destroy();
  }

  onUpstreamEnd(): void {
    if (this.framing === Framing.Close && this.responded && !this.resDone) return this.finishResponse();
    // Anything else: the app closed its side early. The close tells what that means.
    this.eof = true;
    this.conn?.socket.destroy();
  }

  onUpstreamClose(errno: string): void {
    this.conn = undefined;
    if (this.resDone) return;
    if (this.framing === Framing.Close && this.responded && this.eof && errno === '') return this.finishResponse();
    if (!this.responded) {
      // A pooled connection the app had closed just before we reused it: resent once when the
      // request has no body (nothing of it can have been processed twice without a response).
      if (!this.gotBytes && this.reused && this.endStream && !this.retried && (errno === '' || errno === 'ECONNRESET' || errno === 'EPIPE')) {
        this.retried = true;
        this.reqDone = false;
        return this.connect(true);
      }
      if (this.gotBytes && errno === '') return this.badResponse('the app closed the connection inside the response head');
      return this.fail({ kind: 'connection-lost', detail: errno || 'ECONNRESET' });
    }
    this.cutMidResponse(errno ? `app ${errno} mid-response` : 'app closed mid-response');
  }

  private badResponse(detail: string): void {
    this.drop();
    if (this.responded) return this.cutMidResponse(detail);
    this.fail({ kind: 'bad-response', detail });
  }

  /** The response already started: the stream is reset, so the client cannot take it as complete. */
  private cutMidResponse(why: string): void {
    this.drop();
    if (this.complete || this.client.closed) return;
    this.failure = why;
    this.client.reset(H2Code.INTERNAL_ERROR);
  }

  private stopTimer(): void {
    this.dlList?.disarm(this);
  }

  onDeadline(list: DeadlineList): void {
    this.fail({ kind: 'timeout', ms: list.ms });
  }

  private fail(f: ProxyFailure): void {
    this.stopTimer();
    this.drop();
    const { client } = this;
    if (client.closed || this.complete) return;
    const a = answerFor(f);
    this.failure = a.error;
    if (client.headersOut) {
      client.reset(H2Code.INTERNAL_ERROR);
      return;
    }
    this.status = a.http;
    this.complete = true;
    client.sendHeaders([':status', String(a.http), 'content-type', 'text/plain; charset=utf-8', 'l5d-proxy-error', a.reason, ...(a.headers ?? []).flat()]);
    client.sendData(Buffer.from(`${a.reason}\n`, 'latin1'), true);
    this.discardRequestBody(); // the rest of the request body is not needed
  }

  private onClientClose(): void {
    this.stopTimer();
    if (!this.complete) {
      this.drop();
      this.failure ??= this.rstCode === H2Code.CANCEL ? 'client_cancel' : 'reset';
    } else if (this.conn && !(this.resDone && this.reqDone)) this.drop();
    this.call.end({ status: this.status, error: this.complete ? this.failure : (this.failure ?? 'reset'), responseBytes: this.sentBytes } satisfies HttpOutcome);
  }
}
