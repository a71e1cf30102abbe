/**
 * The client half of the orig-proto upgrade: one HTTP/1.1 exchange sent as a stream on the
 * pooled HTTP/2 connection to a meshed endpoint. To the HTTP/1 server it looks like an upstream
 * HTTP/1 connection (an UpstreamLink): the server writes the request body in its HTTP/1 framing
 * (validated) and is fed HTTP/1.1 response bytes (a head built by convert.ts, then the body as
 * the head frames it, trailers as a chunked trailer section), so keep-alive, pipelining order,
 * timeouts, proxy errors and the call's events stay the server's, identical on both paths.
 * Backpressure is the stream's (HTTP/2 flow control) both ways.
 */
import type { Socket } from 'node:net';
import type { UpstreamHandler } from '../h1/client-pool';
import type { UpstreamLink } from '../h1/link';
import type { BodyFraming, RequestHead } from '../h1/parse-head';
import type { UpstreamSession } from '../h2/client-pool';
import type { H2Stream } from '../h2/stream';
import { H2Code } from '../h2/grpc-status';
import { h2CodeName } from '../h2/h2-error';
import type { Fields } from '../h2/semantics';
import { ChunkedDecoder } from './chunked-decode';
import { chunk, h1InterimHead, h1ResponseHead, h2RequestHeaders, h2Trailers, lastChunk } from './convert';

export class H2Link implements UpstreamLink {
  handler: UpstreamHandler | undefined;
  /** A new stream each time: a stream the endpoint refuses is reported retry-safe instead. */
  readonly reused = false;
  private stream: H2Stream | undefined;
  private gone = false;
  private released = false;
  private responded = false;
  private resChunked = false;
  /** The response head, held for the first body bytes (deliver). */
  private heldHead: Buffer | undefined;
  private reqRemaining = 0;
  private readonly decoder: ChunkedDecoder | undefined;
  /** Whether the stream took the last request bytes without asking to wait. */
  private writable = true;

  constructor(
    private readonly lease: UpstreamSession,
    private readonly head: RequestHead,
    private readonly framing: BodyFraming,
    private readonly fallbackAuthority: string,
  ) {
    if (framing.kind === 'length') this.reqRemaining = framing.length;
    if (framing.kind === 'chunked') this.decoder = new ChunkedDecoder((d) => void (this.writable = this.stream!.sendData(d) && this.writable));
  }

  get destroyed(): boolean {
    return this.gone;
  }

  /** Opens the stream with the request head; `early`: body bytes that came with the head. */
  send(_h1Head: Buffer, early: Buffer[]): void {
    const noBody = this.framing.kind === 'none' || (this.framing.kind === 'length' && this.framing.length === 0);
    try {
      this.stream = this.lease.conn.request(h2RequestHeaders(this.head, this.fallbackAuthority), noBody, {
        onHeaders: (fields, end, kind) => this.onHeaders(fields, end, kind),
        onData: (d, end) => {
          if (d.length > 0) this.deliver(this.resChunked ? chunk(d) : d);
          if (end && this.resChunked) this.deliver(lastChunk(undefined));
          if (end) this.releaseHead();
        },
        onReset: (code, retrySafe, byPeer) => this.onReset(code, retrySafe, byPeer),
        onDrain: () => this.handler?.onUpstreamDrain(),
        onClose: () => {
          this.releaseHead();
          this.gone = true;
          this.lease.release();
          // Ended normally with the exchange still attached (it reads the end from the framing):
          // told, as a connection's close would tell it.
          const h = this.handler;
          this.handler = undefined;
          if (h && !this.released) h.onUpstreamClose('stream closed', false);
        },
      });
    } catch (err) {
      // The connection went away (GOAWAY, closed) between acquire and request: nothing was sent.
      this.gone = true;
      this.lease.release();
      const errno = (err as { code?: string }).code ?? 'ERR_HTTP2_INVALID_SESSION';
      process.nextTick(() => this.handler?.onUpstreamClose(errno, true));
      return;
    }
    for (const b of early) this.write(b);
  }

  private onHeaders(fields: Fields, end: boolean, kind: 'informational' | 'final' | 'trailers'): void {
    if (kind === 'informational') {
      const status = Number(fields[1]);
      if (status !== 101) this.handler?.onUpstreamData(Buffer.from(h1InterimHead(fields), 'latin1'));
      return;
    }
    if (kind === 'trailers') {
      if (this.resChunked) this.deliver(lastChunk(fields));
      this.releaseHead();
      return;
    }
    this.responded = true;
    const r = h1ResponseHead(fields, this.head.method, end);
    this.resChunked = r.chunked;
    const head = Buffer.from(r.head, 'latin1');
    if (end) return void this.handler?.onUpstreamData(head);
    // The first DATA frame nearly always comes in the same read as the HEADERS: held until then,
    // head and body reach the client in one write (one segment) instead of two.
    this.heldHead = head;
    this.lease.conn.afterRead(this.releaseHead);
  }

  /** Response bytes to the server, after a head still held. */
  private deliver(b: Buffer): void {
    const held = this.heldHead;
    if (held) {
      this.heldHead = undefined;
      b = Buffer.concat([held, b], held.length + b.length);
    }
    this.handler?.onUpstreamData(b);
  }

  private readonly releaseHead = (): void => {
    const held = this.heldHead;
    if (!held) return;
    this.heldHead = undefined;
    this.handler?.onUpstreamData(held);
  };

  private onReset(code: number, retrySafe: boolean, byPeer: boolean): void {
    this.releaseHead();
    this.gone = true;
    const h = this.handler;
    this.handler = undefined;
    if (!h || this.released) return;
    // Never answered and refused, or the connection lost before an answer: safe to send again
    // (the server resends only a request without a body).
    const safe = !this.responded && (retrySafe || code === H2Code.REFUSED_STREAM || !byPeer);
    h.onUpstreamClose(byPeer ? `stream reset (${h2CodeName(code)})` : 'connection lost', safe);
  }

  /** Request body bytes in the request's HTTP/1 framing; false when the stream wants a pause. */
  write(b: Buffer): boolean {
    const s = this.stream;
    if (!s || s.closed || s.localEnded) return true;
    this.writable = true;
    if (this.decoder) {
      this.decoder.push(b);
      if (this.decoder.done) {
        const trailers = h2Trailers(this.decoder.trailers);
        if (trailers.length > 0) s.sendTrailers(trailers);
        else s.end();
      }
      return this.writable;
    }
    const n = Math.min(b.length, this.reqRemaining);
    this.reqRemaining -= n;
    if (n === 0) return true;
    return s.sendData(n === b.length ? b : b.subarray(0, n), this.reqRemaining === 0);
  }

  pause(): void {
    this.stream?.pause();
  }

  resume(): void {
    this.stream?.resume();
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
    if (!s.closed) s.reset(H2Code.CANCEL);
  }

  reset(): void {
    this.destroy();
  }

  tunnel(): Socket {
    // The call path never sends an Upgrade or CONNECT over orig-proto (canUpgradeToH2).
    throw new Error('orig-proto carries no tunnel');
  }

  /** The exchange completed: the stream ends by itself; the connection stays pooled. */
  release(): void {
    this.handler = undefined;
    if (!this.stream && !this.released) this.lease.release();
    this.released = true;
  }
}
