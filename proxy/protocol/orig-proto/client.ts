/**
 * The client half of the orig-proto upgrade: one HTTP/1.1 exchange sent as a stream on the
 * pooled HTTP/2 session to a meshed endpoint. To the HTTP/1 server it looks like an upstream
 * HTTP/1 connection (an UpstreamLink): the server writes the request body in its HTTP/1 framing (validated) and
 * is fed HTTP/1.1 response bytes (a head built by convert.ts, then the body as the head frames
 * it, trailers as a chunked trailer section), so keep-alive, pipelining order, timeouts, proxy
 * errors and the call's events stay the server's, identical on both paths. Backpressure is the stream's
 * (HTTP/2 flow control) both ways.
 */
import * as http2 from 'node:http2';
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { UpstreamHandler } from '../h1/client-pool';
import type { UpstreamLink } from '../h1/link';
import type { BodyFraming, RequestHead } from '../h1/parse-head';
import type { UpstreamSession } from '../h2/client-pool';
import { ChunkedDecoder } from './chunked-decode';
import { chunk, h1InterimHead, h1ResponseHead, h2RequestHeaders, h2Trailers, lastChunk } from './convert';

const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM;
const CANCEL = http2.constants.NGHTTP2_CANCEL;
const REFUSED_STREAM = http2.constants.NGHTTP2_REFUSED_STREAM;

export class H2Link implements UpstreamLink {
  handler: UpstreamHandler | undefined;
  /** A new stream each time: a stream the endpoint refuses is reported retry-safe instead. */
  readonly reused = false;
  private stream: ClientHttp2Stream | undefined;
  private gone = false;
  private released = false;
  private responded = false;
  private resChunked = false;
  private resTrailers: IncomingHttpHeaders | undefined;
  private reqRemaining = 0;
  private readonly decoder: ChunkedDecoder | undefined;
  private error: NodeJS.ErrnoException | undefined;
  private paused = false;

  constructor(
    private readonly lease: UpstreamSession,
    private readonly head: RequestHead,
    private readonly framing: BodyFraming,
    private readonly fallbackAuthority: string,
  ) {
    if (framing.kind === 'length') this.reqRemaining = framing.length;
    if (framing.kind === 'chunked') this.decoder = new ChunkedDecoder((d) => void this.stream!.write(d));
  }

  get destroyed(): boolean {
    return this.gone;
  }

  /** Opens the stream with the request head; `early`: body bytes that came with the head. */
  send(_h1Head: Buffer, early: Buffer[]): void {
    const noBody = this.framing.kind === 'none' || (this.framing.kind === 'length' && this.framing.length === 0);
    let s: ClientHttp2Stream;
    try {
      s = this.lease.session.request(h2RequestHeaders(this.head, this.fallbackAuthority), {
        endStream: noBody,
        waitForTrailers: this.framing.kind === 'chunked',
      });
    } catch (err) {
      // The session went away (GOAWAY, closed) between acquire and request: nothing was sent.
      this.gone = true;
      this.lease.release();
      const errno = (err as NodeJS.ErrnoException).code ?? 'ERR_HTTP2_INVALID_SESSION';
      process.nextTick(() => this.handler?.onUpstreamClose(errno, true));
      return;
    }
    this.stream = s;
    s.on('error', (err: NodeJS.ErrnoException) => (this.error = err));
    s.on('wantTrailers', () => s.sendTrailers(h2Trailers(this.decoder?.trailers)));
    s.on('headers', (h) => {
      const status = Number(h[':status']);
      if (status >= 100 && status < 200 && status !== 101) this.handler?.onUpstreamData(Buffer.from(h1InterimHead(h), 'latin1'));
    });
    // Node emits 'response' on the next tick, while DATA read with the HEADERS can be emitted at
    // once: the body is read only after the head went out (until then it waits in the stream).
    s.on('response', (h, flags) => {
      this.responded = true;
      const r = h1ResponseHead(h, this.head.method, (flags & END_STREAM) !== 0);
      this.resChunked = r.chunked;
      this.handler?.onUpstreamData(Buffer.from(r.head, 'latin1'));
      s.on('data', (d: Buffer) => {
        if (d.length === 0) return;
        this.handler?.onUpstreamData(this.resChunked ? chunk(d) : d);
      });
      if (!this.paused) s.resume();
    });
    s.on('trailers', (t) => (this.resTrailers = t));
    s.on('end', () => {
      if (this.resChunked) this.handler?.onUpstreamData(lastChunk(this.resTrailers));
    });
    s.on('drain', () => this.handler?.onUpstreamDrain());
    s.on('close', () => {
      this.gone = true;
      this.lease.release();
      const h = this.handler;
      this.handler = undefined;
      if (!h || this.released) return;
      const code = s.rstCode ?? http2.constants.NGHTTP2_NO_ERROR;
      const session = this.lease.session;
      const sessionLost = session.destroyed || (this.error !== undefined && this.error.code !== 'ERR_HTTP2_STREAM_ERROR');
      const retrySafe = !this.responded && (code === REFUSED_STREAM || sessionLost);
      const errno = this.error?.code ?? (code === http2.constants.NGHTTP2_NO_ERROR ? 'stream closed' : `stream reset (${code})`);
      h.onUpstreamClose(errno, retrySafe);
    });
    for (const b of early) this.write(b);
  }

  /** Request body bytes in the request's HTTP/1 framing; false when the stream wants a pause. */
  write(b: Buffer): boolean {
    const s = this.stream;
    if (!s || s.destroyed || s.writableEnded) return true;
    if (this.decoder) {
      this.decoder.push(b);
      if (this.decoder.done) s.end();
    } else {
      const n = Math.min(b.length, this.reqRemaining);
      if (n > 0) s.write(n === b.length ? b : b.subarray(0, n));
      this.reqRemaining -= n;
      if (this.reqRemaining === 0) s.end();
    }
    return !s.writableNeedDrain;
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    // Before the response head, reading would hand body bytes to nobody.
    if (this.responded) this.stream?.resume();
  }

  /** The exchange is over without a complete response (timeout, failure): cancel the stream. */
  destroy(): void {
    this.handler = undefined;
    this.gone = true;
    const s = this.stream;
    if (!s) {
      if (!this.released) this.lease.release();
      this.released = true;
      return;
    }
    if (!s.closed) s.close(CANCEL);
  }

  reset(): void {
    this.destroy();
  }

  tunnel(): Socket {
    // The call path never sends an Upgrade or CONNECT over orig-proto (canUpgradeToH2).
    throw new Error('orig-proto carries no tunnel');
  }

  /** The exchange completed: the stream ends by itself; the session stays pooled. */
  release(): void {
    this.handler = undefined;
    if (!this.stream && !this.released) this.lease.release();
    this.released = true;
  }
}
