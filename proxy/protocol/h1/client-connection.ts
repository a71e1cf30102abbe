/**
 * One HTTP/1.1 client connection: requests, not bytes. Each request head is parsed
 * strictly (parse-head.ts) and rewritten only if it carries hop-by-hop fields; its body is copied
 * through by its framing (content-length countdown, or chunked validated as it passes), with
 * backpressure both ways. Requests are handled one at a time, so pipelined requests are answered
 * in order; an Upgrade or CONNECT the upstream accepts (101 / 2xx) turns the connection into a
 * byte relay. One request's own state (framing, progress, its upstream's events) is an Exchange
 * (exchange.ts); this module drives the connection through them.
 *
 * The connection speaks only the wire. For each request it asks the layer above (proxy/inbound,
 * proxy/outbound) for an HttpCall, which routes it and opens its upstream (a pooled HTTP/1
 * connection, or a stream on a pooled HTTP/2 session to a meshed endpoint: see link.ts), and it
 * reports the request's end to that call: the status, or why there is none.
 *
 * Failures the proxy answers itself (400/408/431/502/503/504) carry `l5d-proxy-error`. A refused
 * request is never forwarded in part: the head and the body bytes that arrived with it are
 * validated before the upstream is even asked for, and a body found malformed later resets the
 * upstream connection rather than completing a message.
 */
import type { Socket } from 'node:net';
import { DeadlineList, type Deadlined } from '../../../core/deadline-list';
import { relay } from '../../transport/relay';
import { resetConnection } from '../../transport/reset';
import { errnoOf, openCall, type ConnInfo } from '../call';
import { connectErrorKind, h1ErrorResponse, HttpProxyError, type ProxyErrorKind } from '../errors';
import { ChunkedError, ChunkedScanner } from './chunked';
import { Exchange, Phase, ResPhase, type ExchangeOwner, type H1Dispatch } from './exchange';
import { clientResponseHead } from './forward-head';
import {
  parseRequestHead,
  parseResponseHead,
  requestKeepAlive,
  responseFraming,
  responseKeepAlive,
} from './parse-head';
import { HeadStore } from './head-store';
import type { UpstreamLink } from './link';
import { worthParsing } from './reparse';
import type { H1Settings } from './settings';

/** The connection a client socket is served by, for the listeners all connections share. */
const SERVED = Symbol('linnet.h1.served');
type ServedSocket = Socket & { [SERVED]?: ClientConnection };

export class ClientConnection implements ExchangeOwner, Deadlined {
  phase = Phase.Head;
  /** Client bytes read but not yet consumed. */
  private buf: Buffer | undefined;
  private ex: Exchange | undefined;
  private keepAlive = true;
  private clientEnded = false;
  /**
   * Armed while a request head is awaited (H1Settings.headerReadTimeoutMs), on a list shared by
   * every connection: an idle keep-alive connection holds no timer of its own.
   */
  dlList: DeadlineList | undefined = undefined;
  dlAt = 0;
  dlPrev: Deadlined | undefined = undefined;
  dlNext: Deadlined | undefined = undefined;
  /** Where a head arriving in pieces is put together (made when one first does). */
  private heads: HeadStore | undefined;
  /** Buffer length at the last parse that needed more (0: none yet for this head). */
  private parsedLen = 0;

  /** The errno of the client socket's error, if it had one (the reason an exchange is aborted on close). */
  private clientErrno = '';

  private static onData(this: ServedSocket, chunk: Buffer): void {
    this[SERVED]!.onClientData(chunk);
  }

  private static onEnd(this: ServedSocket): void {
    this[SERVED]!.onClientEnd();
  }

  private static onDrain(this: ServedSocket): void {
    const ex = this[SERVED]!.ex;
    if (ex?.resPhase === ResPhase.Body || ex?.resPhase === ResPhase.Head) ex.upstream?.resume();
  }

  private static onError(this: ServedSocket, err: Error): void {
    this[SERVED]!.clientErrno = errnoOf(err);
  }

  private static onClose(this: ServedSocket): void {
    const conn = this[SERVED]!;
    conn.stopHeadTimer();
    if (conn.phase !== Phase.Tunnel) conn.abort(conn.clientErrno || 'client closed');
    conn.owner.closed(conn);
  }

  /** A route timeout fired: the backend call is cancelled (fail destroys the upstream), 504 or a reset. */
  onRouteTimeout(ex: Exchange, what: string, ms: number): void {
    if (this.ex === ex) this.fail(ex, 'responseTimeout', `route ${what} timeout ${ms} ms`);
  }

  constructor(
    readonly client: Socket,
    prefix: Buffer,
    private readonly info: ConnInfo,
    private readonly settings: H1Settings,
    private readonly dispatch: H1Dispatch,
    private readonly owner: { closed(conn: ClientConnection): void },
  ) {
    this.buf = prefix.length > 0 ? prefix : undefined;
  }

  start(): void {
    const c = this.client as ServedSocket;
    c.setNoDelay(true);
    // Listeners shared by every connection, finding theirs through the socket: an idle keep-alive
    // connection holds no closures of its own for them.
    c[SERVED] = this;
    c.on('data', ClientConnection.onData);
    c.on('end', ClientConnection.onEnd);
    c.on('drain', ClientConnection.onDrain);
    c.on('error', ClientConnection.onError);
    c.on('close', ClientConnection.onClose);
    this.nextRequest();
  }

  /** No further request on this connection; closes now if it sits idle between requests. */
  drain(): void {
    this.keepAlive = false;
    if (this.phase === Phase.Head && (!this.buf || this.buf.length === 0)) this.close();
  }

  // ---- client side ----

  private onClientData(chunk: Buffer): void {
    switch (this.phase) {
      case Phase.Head:
        this.buf = this.buf && this.buf.length > 0 ? (this.heads ??= new HeadStore()).append(this.buf, chunk) : chunk;
        this.nextRequest();
        return;
      case Phase.Body:
        this.forwardBody(chunk);
        return;
      case Phase.Wait:
        // Pipelined bytes (or a client that writes before its answer): kept for after the
        // response, and the socket paused until then, so that they stay one read's worth.
        this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
        this.client.pause();
        return;
      default:
        return;
    }
  }

  private onClientEnd(): void {
    this.clientEnded = true;
    if (this.phase === Phase.Head) {
      // Between requests (or in the middle of a head that will never complete): we are done.
      this.close();
    } else if (this.phase === Phase.Body) {
      // The client gave up mid-body: the upstream must not see a complete request.
      this.abort('client closed mid-body');
      this.close();
    }
    // In Wait the response still goes out; nextRequest sees clientEnded and closes.
  }

  /** Parses the next request head from the buffer, or waits for more bytes. */
  private nextRequest(): void {
    if (this.phase !== Phase.Head) return;
    const b = this.buf;
    // After `Connection: close` or an HTTP/1.0 request without keep-alive no further request is
    // read (RFC 9112 §9.6); bytes the client sent after it are dropped, not forwarded as another
    // request (fuzz/hostile finding: the upstream saw a request the proxy's reading had not).
    if (!this.keepAlive) return this.close();
    if (!b || b.length === 0) {
      if (this.clientEnded) return this.close();
      this.startHeadTimer();
      this.client.resume();
      return;
    }
    if (!this.clientEnded && !worthParsing(b, this.parsedLen, this.settings.limits.maxHeaderBytes)) {
      this.startHeadTimer();
      this.client.resume();
      return;
    }
    const r = parseRequestHead(b, this.settings.limits);
    if (r.kind === 'need-more') {
      if (this.clientEnded) return this.close();
      this.parsedLen = b.length;
      this.startHeadTimer();
      this.client.resume();
      return;
    }
    this.parsedLen = 0;
    this.stopHeadTimer();
    if (r.kind === 'error') {
      return this.refuse(new HttpProxyError(r.status === 431 ? 'headersTooLarge' : 'badRequest', r.detail), undefined);
    }
    const ex = new Exchange(this, r.head, b, r.length, this.dispatch);
    this.ex = ex;
    this.keepAlive = requestKeepAlive(r.head) && !ex.tunnel;
    // Validate the body bytes that came with the head before anything is sent upstream.
    let p = r.length;
    const q = ex.takeBody(b, p);
    if (q < 0) {
      this.client.pause();
      return this.refuse(new HttpProxyError('badRequest', 'invalid chunked body'), ex);
    }
    if (q > p) ex.early.push(b.subarray(p, q));
    p = q;
    this.buf = p < b.length ? b.subarray(p) : undefined;
    this.phase = ex.reqDone ? Phase.Wait : Phase.Body;
    // A body waits, paused, for the upstream. A complete request leaves the socket flowing: what
    // the client sends meanwhile is kept and the socket paused then (Phase.Wait), so the common
    // request costs no pause and resume (a tick of the stream's machinery each).
    if (!ex.reqDone) this.client.pause();
    this.connect(ex, false);
  }

  /**
   * Opens the request's upstream through its call (which routes it, and tries another endpoint
   * when a connect fails) and sends the head and the body bytes read so far. `again`: the request
   * is sent once more after a stale pooled connection.
   */
  private connect(ex: Exchange, again: boolean): void {
    openCall(ex.call, again, ex, ClientConnection.opened, ClientConnection.openFailed);
  }

  private static opened(ex: Exchange, link: UpstreamLink): void {
    const self = ex.conn as ClientConnection;
    if (self.ex !== ex || self.phase === Phase.Closed) {
      // The client went away while we connected.
      link.release();
      return;
    }
    ex.upstream = link;
    link.handler = ex;
    ex.resPhase = ResPhase.Head;
    if (!ex.policy && ex.call.policy) ex.applyPolicy(ex.call.policy);
    link.send(ex.headBytes, ex.early);
    if (!ex.retried && !ex.keepBody) ex.early = []; // kept only while a retry could still need them
    if (ex.reqDone) self.armTimer(ex);
    else if (self.phase === Phase.Body) self.client.resume();
    link.resume();
  }

  private static openFailed(ex: Exchange, err: unknown): void {
    const self = ex.conn as ClientConnection;
    if (self.ex !== ex) return;
    // The layer above refused the request itself (authorization, rate limit): its answer.
    if (err instanceof HttpProxyError) return self.fail(ex, err.kind, err.detail ?? '', undefined, err);
    const errno = errnoOf(err);
    self.info.log.info('http: upstream connect failed', { target: self.info.target, errno });
    self.fail(ex, connectErrorKind(errno), `${errno} connecting to ${self.info.target}`);
  }

  /** Sends the request again (a route's retry): the attempt's upstream is dropped unread. */
  private retryAttempt(ex: Exchange): void {
    this.disarmTimer(ex);
    const up = ex.upstream;
    if (up) {
      up.handler = undefined;
      up.destroy();
    }
    ex.resetForRetry();
    this.connect(ex, true);
  }

  private forwardBody(chunk: Buffer): void {
    const ex = this.ex!;
    const q = ex.takeBody(chunk, 0);
    if (q < 0) {
      // Malformed chunked data mid-stream: reset the upstream so it never sees a complete message.
      if (ex.upstream) ex.upstream.reset();
      return this.fail(ex, 'badRequest', 'invalid chunked body', true);
    }
    // Kept for a retry (a socket's read buffers are never reused, so no copy is needed).
    if (ex.keepBody) ex.early.push(q === chunk.length ? chunk : chunk.subarray(0, q));
    ex.idleTimer?.refresh();
    const up = ex.upstream!;
    const more = up.write(q === chunk.length ? chunk : chunk.subarray(0, q));
    if (ex.reqDone) {
      if (q < chunk.length) this.buf = this.buf ? Buffer.concat([this.buf, chunk.subarray(q)]) : chunk.subarray(q);
      this.phase = Phase.Wait;
      if (ex.policy) ex.requestSent();
      this.armTimer(ex);
      if (ex.resPhase === ResPhase.Done) this.finish(ex);
    } else if (!more) this.client.pause();
  }

  // ---- upstream side ----

  onResponseData(ex: Exchange, chunk: Buffer): void {
    if (this.ex !== ex) return;
    ex.idleTimer?.refresh();
    if (ex.resPhase === ResPhase.Head) {
      ex.resBuf = ex.resBuf ? Buffer.concat([ex.resBuf, chunk]) : chunk;
      this.responseHead(ex);
    } else if (ex.resPhase === ResPhase.Body) {
      this.responseBody(ex, chunk, 0);
    } else if (ex.resPhase === ResPhase.Done && chunk.length > 0) {
      // Bytes after a complete response: the upstream cannot be reused.
      ex.resKeepAlive = false;
    }
  }

  private responseHead(ex: Exchange): void {
    for (;;) {
      const b = ex.resBuf!;
      const r = parseResponseHead(b, this.settings.limits);
      if (r.kind === 'need-more') return;
      if (r.kind === 'error') {
        ex.upstream?.destroy();
        return this.fail(ex, 'badResponse', r.detail);
      }
      const h = r.head;
      const rest = b.subarray(r.length);
      if (h.status >= 100 && h.status < 200 && h.status !== 101) {
        // Interim (100 Continue, 103): to HTTP/1.1 clients only (RFC 9110 §15.2).
        if (ex.head.minor === 1) this.client.write(b.subarray(0, r.length));
        ex.resBuf = rest;
        if (rest.length === 0) return;
        continue;
      }
      this.disarmTimer(ex);
      // A route's retry: an answer it retries is dropped, and the kept request sent again.
      if (ex.keepBody && ex.reqDone && ex.policy?.retry?.shouldRetry(h.status)) return this.retryAttempt(ex);
      ex.resStatus = h.status;
      ex.call.respond?.(h.status);
      const upgrade = h.status === 101;
      const connectOk = ex.head.method === 'CONNECT' && h.status >= 200 && h.status < 300;
      if (upgrade && !ex.tunnel) {
        ex.upstream?.destroy();
        return this.fail(ex, 'badResponse', '101 without an Upgrade request');
      }
      if (upgrade || connectOk) {
        this.client.write(clientResponseHead(b, r.length, h, { close: false, keepAlive10: false, upgrade }));
        return this.startTunnel(ex, rest);
      }
      ex.resFraming = responseFraming(h, ex.head.method);
      ex.resKeepAlive = responseKeepAlive(h) && ex.resFraming.kind !== 'close';
      // An Upgrade the upstream declined leaves a normal exchange; the client asked for a tunnel,
      // though, so its keep-alive is decided by its own Connection header only.
      if (ex.tunnel && ex.head.method !== 'CONNECT') this.keepAlive = requestKeepAlive(ex.head);
      // An HTTP/1.0 client cannot read chunked: the body goes to it decoded, ended by the close.
      const dechunk = ex.head.minor === 0 && ex.resFraming.kind === 'chunked';
      const close =
        dechunk || !this.keepAlive || this.clientEnded || ex.resFraming.kind === 'close' || (!ex.reqDone && ex.framing.kind !== 'none');
      if (close) this.keepAlive = false;
      const keepAlive10 = !close && ex.head.minor === 0;
      const given = clientResponseHead(b, r.length, h, { close, keepAlive10, upgrade: false, dropTransferEncoding: dechunk });
      const out = ex.policy?.h1ResponseHead ? ex.policy.h1ResponseHead(given) : given;
      ex.resBuf = undefined;
      ex.resPhase = ResPhase.Body;
      if (ex.resFraming.kind === 'length') ex.resRemaining = ex.resFraming.length;
      else if (ex.resFraming.kind === 'chunked') {
        ex.dechunk = dechunk;
        ex.resScanner = new ChunkedScanner(
          dechunk ? { onData: (buf, s, e) => void (this.client.write(buf.subarray(s, e)) || ex.upstream?.pause()) } : {},
        );
      }
      if (ex.resFraming.kind === 'none') {
        this.client.write(out);
        ex.resKeepAlive = ex.resKeepAlive && rest.length === 0;
        return this.responseDone(ex);
      }
      // Head and the first body bytes in one write: when the head goes out unchanged and the body
      // follows it in the same read, that is one slice of the upstream's buffer.
      if (out.buffer === b.buffer && out.byteOffset === b.byteOffset && rest.length > 0) {
        return this.responseBody(ex, b, r.length, 0);
      }
      // A rebuilt head and a small body: one buffer (cheaper than a corked writev of two).
      if (rest.length > 0 && rest.length <= 16384 && ex.resFraming.kind === 'length' && rest.length <= ex.resRemaining) {
        const joined = Buffer.concat([out, rest]);
        return this.responseBody(ex, joined, out.length, 0);
      }
      this.client.cork();
      this.client.write(out);
      this.responseBody(ex, rest, 0);
      this.client.uncork();
      return;
    }
  }

  /** Copies response body bytes b[start..] to the client; `from` < start includes a head already in `b`. */
  private responseBody(ex: Exchange, b: Buffer, start: number, from = start): void {
    if (start >= b.length) return;
    const f = ex.resFraming;
    let q = b.length;
    if (f.kind === 'length') {
      const n = Math.min(ex.resRemaining, b.length - start);
      ex.resRemaining -= n;
      q = start + n;
    } else if (f.kind === 'chunked') {
      try {
        q = ex.resScanner!.push(b, start);
      } catch (e) {
        if (!(e instanceof ChunkedError)) throw e;
        // A malformed response body cannot be carried on: cut the client off.
        ex.end({ status: ex.resStatus, error: 'invalid chunked response' });
        ex.upstream?.destroy();
        resetConnection(this.client);
        return;
      }
    }
    // The body's length as the client sees it: a chunked body's framing (sizes, CRLFs, trailers) is not counted.
    ex.resBodyBytes = f.kind === 'chunked' ? ex.resScanner!.dataBytes : ex.resBodyBytes + (q - start);
    const more = ex.dechunk || this.client.write(from === 0 && q === b.length ? b : b.subarray(from, q));
    const complete = (f.kind === 'length' && ex.resRemaining === 0) || (f.kind === 'chunked' && ex.resScanner!.done);
    if (complete) {
      if (q < b.length) ex.resKeepAlive = false;
      return this.responseDone(ex);
    }
    if (!more) ex.upstream?.pause();
  }

  private responseDone(ex: Exchange): void {
    ex.resPhase = ResPhase.Done;
    ex.end({ status: ex.resStatus });
    if (ex.reqDone) this.finish(ex);
    else {
      // The upstream answered before the request body was complete (e.g. 413): the rest of the
      // body will not be read, so neither connection can be reused.
      ex.upstream?.destroy();
      this.keepAlive = false;
      this.ex = undefined;
      this.close();
    }
  }

  onUpstreamEnd(ex: Exchange): void {
    if (this.ex !== ex) return;
    if (ex.resPhase === ResPhase.Body && ex.resFraming.kind === 'close') {
      ex.upstream?.destroy();
      ex.resKeepAlive = false;
      ex.resPhase = ResPhase.Done;
      ex.end({ status: ex.resStatus });
      this.ex = undefined;
      this.keepAlive = false;
      this.close();
      return;
    }
    // A FIN anywhere else is the upstream going away: treated as a close.
    ex.upstream?.destroy();
  }

  onUpstreamClose(ex: Exchange, errno: string, retrySafe = false): void {
    if (this.ex !== ex || ex.resPhase === ResPhase.Done) return;
    const reason = errno || 'connection closed';
    if (ex.resPhase === ResPhase.Head) {
      // A reused connection the upstream had already closed (stale keep-alive): if nothing came
      // back and the request can be sent again as it was, send it on a fresh connection, once.
      // Likewise an HTTP/2 stream the endpoint refused, or whose session died before answering.
      if ((ex.upstream?.reused || retrySafe) && !ex.retried && ex.resBytes === 0 && ex.framing.kind === 'none' && !ex.tunnel) {
        ex.retried = true;
        ex.upstream = undefined;
        ex.resPhase = ResPhase.Connecting;
        this.disarmTimer(ex);
        this.info.log.debug('http: stale pooled connection; retrying on a fresh one', { target: this.info.target });
        return this.connect(ex, true);
      }
      return this.fail(ex, ex.resBytes > 0 ? 'badResponse' : 'upstreamReset', reason, !ex.reqDone);
    }
    // Mid-response: the client sees the cut as a reset, not as a complete message.
    ex.end({ status: ex.resStatus, error: `upstream ${reason} mid-response` });
    this.ex = undefined;
    this.phase = Phase.Closed;
    resetConnection(this.client);
  }

  /** Armed once per awaited head: bytes dribbling in do not restart it. */
  private startHeadTimer(): void {
    const ms = this.settings.headerReadTimeoutMs ?? 0;
    if (ms > 0) DeadlineList.of(ms).arm(this);
  }

  private stopHeadTimer(): void {
    this.dlList?.disarm(this);
  }

  /** The request head did not arrive in time. */
  onDeadline(): void {
    if (this.phase !== Phase.Head || this.client.destroyed) return;
    // An idle keep-alive connection is simply closed; a head begun but unfinished gets a 408.
    if (!this.buf || this.buf.length === 0) return this.close();
    this.refuse(new HttpProxyError('headerReadTimeout'), undefined);
  }

  private armTimer(ex: Exchange): void {
    if (ex.dlList || ex.resPhase !== ResPhase.Head) return;
    const ms = ex.responseTimeoutMs(this.settings.responseTimeoutMs);
    if (ms > 0) DeadlineList.of(ms).arm(ex);
  }

  private disarmTimer(ex: Exchange): void {
    ex.dlList?.disarm(ex);
  }

  onResponseTimeout(ex: Exchange, ms: number, attempt: boolean): void {
    if (this.ex !== ex || ex.resPhase !== ResPhase.Head) return;
    // A route's attempt that timed out is retried as a 504 would be.
    if (attempt && ex.keepBody && ex.reqDone && ex.policy?.retry?.shouldRetry(504)) return this.retryAttempt(ex);
    ex.upstream?.destroy();
    this.fail(ex, 'responseTimeout', `no response within ${ms} ms`);
  }

  // ---- ends of exchanges ----

  /** Exchange complete both ways: the upstream goes back to the pool if it can, then the next request. */
  private finish(ex: Exchange): void {
    this.disarmTimer(ex);
    const up = ex.upstream;
    if (up) {
      if (ex.resKeepAlive && !up.destroyed) up.release();
      else up.destroy();
    }
    this.ex = undefined;
    this.phase = Phase.Head;
    this.nextRequest();
  }

  /**
   * The proxy answers this request itself. `closeAfter`: the client's request stream cannot be
   * continued (body unread or malformed).
   */
  private fail(ex: Exchange, kind: ProxyErrorKind, detail: string, closeAfter = !ex.reqDone, given?: HttpProxyError): void {
    this.disarmTimer(ex);
    const err = given ?? new HttpProxyError(kind, detail);
    ex.end({ status: err.status, error: err.code });
    if (ex.upstream) {
      ex.upstream.handler = undefined;
      if (!ex.upstream.destroyed) ex.upstream.destroy();
    }
    this.ex = undefined;
    if (closeAfter) this.keepAlive = false;
    if (this.phase === Phase.Closed || this.client.destroyed) return;
    if (ex.resPhase === ResPhase.Body) {
      this.phase = Phase.Closed;
      resetConnection(this.client);
      return;
    }
    this.client.write(h1ErrorResponse(err, { close: !this.keepAlive }));
    this.phase = Phase.Head;
    this.nextRequest();
  }

  /** A request the proxy will not forward: 400/431 and the connection closes. */
  private refuse(err: HttpProxyError, ex: Exchange | undefined): void {
    this.info.log.debug('http: refused request', { target: this.info.target, why: err.message });
    // A 4xx the proxy answers is the client's failure, not the route's: classified by status
    // (success), as Linkerd does; the reason travels in l5d-proxy-error.
    if (ex) ex.end({ status: err.status });
    else this.dispatch(undefined).end({ status: err.status });
    this.stopHeadTimer();
    this.ex = undefined;
    this.keepAlive = false;
    this.buf = undefined;
    this.phase = Phase.Closed;
    this.client.end(h1ErrorResponse(err, { close: true }));
    // Whatever else the client sends is not read; the socket closes once the answer is out.
    this.client.once('finish', () => this.client.destroy());
  }

  private startTunnel(ex: Exchange, upstreamRest: Buffer): void {
    ex.end({ status: ex.resStatus });
    this.phase = Phase.Tunnel;
    this.ex = undefined;
    // Tunnels never ride HTTP/2 (the call path sends them on HTTP/1 connections).
    const server = ex.upstream!.tunnel();
    if (upstreamRest.length > 0) this.client.write(upstreamRest);
    const c = this.client;
    c.removeAllListeners('data');
    c.removeAllListeners('end');
    c.removeAllListeners('drain');
    relay(c, server, { initial: this.buf });
    this.buf = undefined;
  }

  /** Stops everything in flight after the client went away. */
  private abort(reason: string): void {
    const ex = this.ex;
    this.phase = Phase.Closed;
    if (!ex) return;
    this.ex = undefined;
    this.disarmTimer(ex);
    ex.end({ status: ex.resPhase === ResPhase.Body ? ex.resStatus : 0, error: reason });
    if (ex.upstream) {
      ex.upstream.handler = undefined;
      ex.upstream.reset();
    }
  }

  /** Closes the client side after what is queued has been written. */
  private close(): void {
    this.stopHeadTimer();
    if (this.phase === Phase.Closed && this.client.writableEnded) return;
    this.phase = Phase.Closed;
    if (!this.client.destroyed && !this.client.writableEnded) this.client.end();
    // With allowHalfOpen the socket would wait for the client's FIN; we have nothing more to read.
    this.client.once('finish', () => this.client.destroy());
    if (this.client.writableFinished) this.client.destroy();
  }
}
