/**
 * One request/response exchange on an HTTP/1.1 client connection: the request's framing and
 * head as it goes upstream, its body counted or scanned as it passes, the response's progress,
 * and the upstream connection's events while this exchange owns it, passed to the client
 * connection (server.ts) that drives it.
 */
import type { Socket } from 'node:net';
import type { DeadlineList, Deadlined } from '../../../core/deadline-list';
import type { CallPolicy, HttpCall, HttpOutcome } from '../call';
import { ChunkedError, ChunkedScanner } from './chunked';
import type { UpstreamHandler } from './client-pool';
import { upstreamRequestHead } from './forward-head';
import type { UpstreamLink } from './link';
import { requestFraming, type BodyFraming, type RequestHead } from './parse-head';

/** A request as the layer above needs it to route and send it. */
export interface H1Request {
  head: RequestHead;
  framing: BodyFraming;
  /** An Upgrade or CONNECT: the connection becomes a byte relay if the upstream agrees. */
  tunnel: boolean;
}

/**
 * The layer above, per connection: an HttpCall for each request. `undefined`: a request the
 * server refused before it could be read (malformed, too large, too slow); its call is only ended.
 */
export type H1Dispatch = (req: H1Request | undefined) => HttpCall<UpstreamLink>;

export const enum Phase {
  Head,
  /** Reading the request body from the client. */
  Body,
  /** Request read; waiting for the response to complete. */
  Wait,
  Tunnel,
  Closed,
}

export const enum ResPhase {
  Connecting,
  Head,
  Body,
  Done,
}

/** The client connection an exchange belongs to (server.ts's ClientConnection). */
export interface ExchangeOwner {
  readonly phase: Phase;
  readonly client: Socket;
  onResponseData(ex: Exchange, chunk: Buffer): void;
  onUpstreamEnd(ex: Exchange): void;
  onUpstreamClose(ex: Exchange, errno: string, retrySafe: boolean): void;
  /** The response head did not come within `ms`; `attempt`: that was the route's per-attempt timeout. */
  onResponseTimeout(ex: Exchange, ms: number, attempt: boolean): void;
  /** One of the route's timeouts fired (which one, its length). */
  onRouteTimeout(ex: Exchange, what: string, ms: number): void;
}

/** One request/response exchange on the client connection. */
export class Exchange implements UpstreamHandler, Deadlined {
  upstream: UpstreamLink | undefined;
  retried = false;
  reqDone = false;
  resPhase = ResPhase.Connecting;
  resBuf: Buffer | undefined;
  resStatus = 0;
  /** Response body bytes carried to the client (tap's response_end). */
  resBodyBytes = 0;
  resFraming: BodyFraming = { kind: 'none' };
  resRemaining = 0;
  resScanner: ChunkedScanner | undefined;
  resKeepAlive = false;
  /** The response is chunked and the client speaks HTTP/1.0: its data is written decoded. */
  dechunk = false;
  /** Upstream bytes of this exchange's response seen so far (for the stale-connection retry). */
  resBytes = 0;
  reqRemaining = 0;
  reqScanner: ChunkedScanner | undefined;
  /** Validated body bytes read before the upstream was connected. */
  early: Buffer[] = [];
  /** The response head's timeout, on the list for its length while armed. */
  dlList: DeadlineList | undefined = undefined;
  dlAt = 0;
  dlPrev: Deadlined | undefined = undefined;
  dlNext: Deadlined | undefined = undefined;
  /** The armed response timeout is the route's per-attempt one (a timed-out attempt may be retried). */
  attemptTimed = false;
  ended = false;
  /** The route's filters, retries and timeouts (from the call, once opened). */
  policy: CallPolicy | undefined;
  /** The whole body is kept in `early` for a retry (a route retries, and it is small enough). */
  keepBody = false;
  /** The route's request timeout, over every attempt. */
  reqTimer: NodeJS.Timeout | undefined;
  /** The route's response timeout (from the request's end) and idle timeout (refreshed by every byte). */
  resTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  readonly tunnel: boolean;
  readonly framing: BodyFraming;
  headBytes: Buffer;
  /** The layer above's view of this request: its route, upstream and end. */
  readonly call: HttpCall<UpstreamLink>;

  constructor(
    readonly conn: ExchangeOwner,
    readonly head: RequestHead,
    raw: Buffer,
    headLength: number,
    dispatch: H1Dispatch,
  ) {
    this.framing = requestFraming(head);
    this.tunnel = head.method === 'CONNECT' || (head.upgrade !== undefined && head.connection.includes('upgrade'));
    // Not copied: a socket's read buffers are never reused, so a retry can resend these bytes.
    this.headBytes = upstreamRequestHead(raw, headLength, head, this.tunnel && head.method !== 'CONNECT');
    if (this.framing.kind === 'length') this.reqRemaining = this.framing.length;
    if (this.framing.kind === 'chunked') this.reqScanner = new ChunkedScanner();
    this.call = dispatch({ head, framing: this.framing, tunnel: this.tunnel });
  }

  end(o: HttpOutcome): void {
    if (this.ended) return;
    this.ended = true;
    o.responseBytes = this.resBodyBytes;
    if (this.reqTimer) clearTimeout(this.reqTimer);
    if (this.resTimer) clearTimeout(this.resTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.call.end(o);
  }

  /**
   * The route's policy, on the first attempt: filters rewrite the head, the request and idle
   * timeouts start, and a body small enough for retries is kept (a length-framed one, up to the
   * limit). The connection hears when one of the route's timeouts fires.
   */
  applyPolicy(p: CallPolicy): void {
    this.policy = p;
    if (p.h1Head) this.headBytes = p.h1Head(this.headBytes);
    const f = this.framing;
    if (p.retry && !this.tunnel && (f.kind === 'none' || (f.kind === 'length' && f.length <= p.retry.maxBodyBytes))) this.keepBody = true;
    if (p.requestTimeoutMs) this.reqTimer = this.routeTimer(p.requestTimeoutMs, 'request');
    if (p.idleTimeoutMs) this.idleTimer = this.routeTimer(p.idleTimeoutMs, 'idle');
    if (this.reqDone) this.requestSent();
  }

  /** The request is all sent: the route's response timeout starts. */
  requestSent(): void {
    const ms = this.policy?.responseTimeoutMs;
    if (ms && !this.resTimer) this.resTimer = this.routeTimer(ms, 'response');
  }

  /**
   * How long the response head may take: the proxy's setting, or the route's per-attempt timeout
   * when that is shorter (then `attemptTimed`: a timed-out attempt may be retried).
   */
  responseTimeoutMs(settingMs: number): number {
    const a = this.policy?.attemptTimeoutMs ?? 0;
    const ms = a > 0 && (a < settingMs || settingMs <= 0) ? a : settingMs;
    this.attemptTimed = a > 0 && ms === a;
    return ms;
  }

  onDeadline(list: DeadlineList): void {
    this.conn.onResponseTimeout(this, list.ms, this.attemptTimed);
  }

  /** A route's retry: this attempt's response is forgotten; the request goes again. */
  resetForRetry(): void {
    this.upstream = undefined;
    this.resBuf = undefined;
    this.resBytes = 0;
    this.resPhase = ResPhase.Connecting;
  }

  private routeTimer(ms: number, what: string): NodeJS.Timeout {
    return setTimeout(() => this.conn.onRouteTimeout(this, what, ms), ms);
  }

  /**
   * Takes request body bytes from `b` (starting at `start`); returns the offset just past the
   * body's last byte, or -1 when the body is malformed. Sets reqDone at the end of the body.
   */
  takeBody(b: Buffer, start: number): number {
    if (this.reqDone) return start;
    if (this.framing.kind === 'length') {
      const n = Math.min(this.reqRemaining, b.length - start);
      this.reqRemaining -= n;
      if (this.reqRemaining === 0) this.reqDone = true;
      return start + n;
    }
    if (this.framing.kind === 'chunked') {
      let q: number;
      try {
        q = this.reqScanner!.push(b, start);
      } catch (e) {
        if (e instanceof ChunkedError) return -1;
        throw e;
      }
      if (this.reqScanner!.done) this.reqDone = true;
      return q;
    }
    this.reqDone = true;
    return start;
  }

  // UpstreamHandler: events of the upstream connection while this exchange owns it.
  onUpstreamData(chunk: Buffer): void {
    this.resBytes += chunk.length;
    this.conn.onResponseData(this, chunk);
  }
  onUpstreamEnd(): void {
    this.conn.onUpstreamEnd(this);
  }
  onUpstreamClose(errno: string, retrySafe = false): void {
    this.conn.onUpstreamClose(this, errno, retrySafe);
  }
  onUpstreamDrain(): void {
    if (this.conn.phase === Phase.Body) this.conn.client.resume();
  }
}
