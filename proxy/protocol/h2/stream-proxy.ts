/**
 * One HTTP/2 stream proxied to the upstream: headers, body and trailers both ways with
 * backpressure per stream (a side that cannot take more stops giving window to the other, so
 * HTTP/2 flow control carries the pause), resets carried both ways, the gRPC deadline enforced,
 * proxy failures answered as HTTP 502/503/504 or, for gRPC, as a trailers-only response with
 * grpc-status, each with `l5d-proxy-error`. The stream's call (from proxy/inbound or
 * proxy/outbound) opens the upstream connection and hears the end once, when the client's stream
 * closes. A stream the upstream refused (never processed) is sent again, with its body when that
 * was small.
 */
import { DeadlineList, type Deadlined } from '../../../core/deadline-list';
import { errnoOf, openCall, type CallPolicy, type ConnInfo, type HttpCall, type HttpOutcome } from '../call';
import type { UpstreamSession } from './client-pool';
import type { H2Stream, StreamEvents } from './stream';
import { HttpProxyError } from '../errors';
import { answerFor, carryRstCode, encodeGrpcMessage, H2Code, isGrpcContentType, parseGrpcTimeout, type ProxyFailure } from './grpc-status';
import { h2CodeName } from './h2-error';
import { fieldValue } from './headers';
import type { Fields } from './semantics';

/** Request bodies up to this size are kept so a refused stream can be replayed (as linkerd2-proxy). */
const REPLAY_LIMIT = 64 * 1024;
const MAX_ATTEMPTS = 3;

export interface StreamOptions {
  /** Answer 504 (gRPC: DEADLINE_EXCEEDED) when no response head within this; 0 = no limit. */
  responseTimeoutMs: number;
}

/** grpc-status of a header section as a number, or undefined. */
function grpcStatusOf(fields: Fields): number | undefined {
  const v = fieldValue(fields, 'grpc-status');
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

export function proxyStream(
  client: H2Stream,
  reqFields: Fields,
  endStream: boolean,
  neverIndexed: number[] | undefined,
  call: HttpCall<UpstreamSession>,
  opts: StreamOptions,
  info: ConnInfo,
): void {
  new StreamProxy(client, reqFields, endStream, neverIndexed, call, opts, info).start();
}

class StreamProxy implements Deadlined {
  private readonly grpc: boolean;
  private up: H2Stream | undefined;
  private status = 0;
  private grpcStatus: number | undefined;
  /** The response to the client is complete (END_STREAM sent or queued). */
  private complete = false;
  /** Every byte of a content-length response was handed to the client. */
  private bodyDelivered = false;
  private responseLength = -1;
  private forwarded = 0;
  /** Why the exchange failed, for the metrics' error label. */
  private failure: string | undefined;
  private clientResetCode: number | undefined;
  /** Request body kept to be sent (before the upstream is open) and for a replay (while small). */
  private body: Buffer[] | undefined = [];
  private bodyBytes = 0;
  private reqTrailers: Fields | undefined;
  private reqTrailersNeverIndexed: number[] | undefined;
  private clientEnded: boolean;
  /** The response is out: a request body still coming is read and dropped. */
  private bodyStopped = false;
  private attempts = 0;
  private deadline: NodeJS.Timeout | undefined;
  /** The response head's timeout (opts.responseTimeoutMs), on the list shared by every stream. */
  dlList: DeadlineList | undefined = undefined;
  dlAt = 0;
  dlPrev: Deadlined | undefined = undefined;
  dlNext: Deadlined | undefined = undefined;
  /** The route's retries and timeouts (from the call, once opened). */
  private policy: CallPolicy | undefined;
  private routeTimer: NodeJS.Timeout | undefined;
  private attemptTimer: NodeJS.Timeout | undefined;
  private responseTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: H2Stream,
    private readonly reqFields: Fields,
    endStream: boolean,
    private readonly neverIndexed: number[] | undefined,
    private readonly call: HttpCall<UpstreamSession>,
    private readonly opts: StreamOptions,
    private readonly info: ConnInfo,
  ) {
    this.grpc = isGrpcContentType(fieldValue(reqFields, 'content-type'));
    this.clientEnded = endStream;
  }

  start(): void {
    const { client, opts } = this;
    client.events = {
      onHeaders: (fields, _end, kind, neverIndexed) => {
        // Request trailers (END_STREAM); a client's second header section is nothing else.
        if (kind !== 'trailers') return;
        this.clientEnded = true;
        if (this.policy) this.requestDone();
        if (this.bodyStopped) return;
        if (this.up && !this.up.localEnded) this.up.sendTrailers(fields, neverIndexed);
        else {
          this.reqTrailers = fields;
          this.reqTrailersNeverIndexed = neverIndexed;
        }
      },
      onData: (chunk, end) => this.onClientData(chunk, end),
      onReset: (code) => {
        this.clientResetCode = code;
      },
      onDrain: () => this.up?.resume(),
      onClose: () => this.onClientClose(),
    };
    if (!this.clientEnded) client.pause(); // until the upstream stream is open
    // Two clocks: the gRPC deadline covers the whole call (the client gives up then anyway); the
    // response timeout covers only the wait for response headers, so long streams are not cut.
    const deadlineMs = this.grpc ? parseGrpcTimeout(fieldValue(this.reqFields, 'grpc-timeout')) : undefined;
    if (deadlineMs !== undefined) this.deadline = setTimeout(() => this.fail({ kind: 'timeout', ms: deadlineMs }), deadlineMs);
    if (opts.responseTimeoutMs > 0) DeadlineList.of(opts.responseTimeoutMs).arm(this);
    openCall(this.call, false, this, StreamProxy.opened, StreamProxy.openFailed, !this.clientEnded);
  }

  private static opened(self: StreamProxy, l: UpstreamSession): void {
    self.send(l);
  }

  private static openFailed(self: StreamProxy, err: unknown): void {
    self.fail(err instanceof HttpProxyError ? { kind: 'refused', error: err } : { kind: 'connect', errno: errnoOf(err) });
  }

  private onClientData(chunk: Buffer, end: boolean): void {
    if (end) this.clientEnded = true;
    this.idleTimer?.refresh();
    if (end && this.policy) this.requestDone();
    if (this.bodyStopped) return;
    if (this.body) {
      this.body.push(chunk);
      this.bodyBytes += chunk.length;
    }
    const up = this.up;
    if (up && !up.localEnded && !up.sendData(chunk, end)) this.client.pause();
    // Past the replay limit once the upstream has what it needs: nothing more is kept.
    if (this.body && this.bodyBytes > REPLAY_LIMIT && up) this.body = undefined;
  }

  /** Opens the upstream stream on `l` and sends what the client sent so far. */
  private send(l: UpstreamSession): void {
    const { client } = this;
    if (client.closed || this.complete) return l.release();
    if (!this.policy && this.call.policy) this.applyPolicy(this.call.policy);
    this.attempts++;
    this.armAttemptTimer();
    const events: StreamEvents = {
      onHeaders: (fields, end, kind, neverIndexed) => this.onResponseHeaders(fields, end, kind, neverIndexed),
      onData: (chunk, end) => this.onResponseData(chunk, end),
      onReset: (code, retrySafe, byPeer) => this.onUpstreamReset(u, code, retrySafe, byPeer),
      onDrain: () => client.resume(),
      onClose: () => l.release(),
    };
    let u: H2Stream;
    const bodyless = this.clientEnded && this.bodyBytes === 0 && this.reqTrailers === undefined;
    // A route's request filters (header edits, URL rewrite).
    const req = this.policy?.h2Request ? this.policy.h2Request(this.reqFields, this.neverIndexed) : { fields: this.reqFields, neverIndexed: this.neverIndexed };
    try {
      u = l.conn.request(req.fields, bodyless, events, req.neverIndexed);
    } catch (err) {
      // The connection went away (GOAWAY) between acquire and request: nothing was sent.
      l.release();
      if (!this.retry()) this.fail({ kind: 'connection-lost', detail: (err as Error).message });
      return;
    }
    this.up = u;
    if (bodyless) return;
    const items = this.body ?? [];
    for (let i = 0; i < items.length; i++) u.sendData(items[i]!, this.clientEnded && i === items.length - 1 && this.reqTrailers === undefined);
    if (this.clientEnded) {
      if (this.reqTrailers) u.sendTrailers(this.reqTrailers, this.reqTrailersNeverIndexed);
      else if (!u.localEnded) u.end();
    } else client.resume();
    if (this.body && this.bodyBytes > REPLAY_LIMIT) this.body = undefined;
  }

  /** The route's request timeout starts with the first attempt and covers every one. */
  private applyPolicy(p: CallPolicy): void {
    this.policy = p;
    const ms = p.requestTimeoutMs;
    if (ms && ms > 0) this.routeTimer = setTimeout(() => this.fail({ kind: 'timeout', ms }), ms);
    const idle = p.idleTimeoutMs;
    if (idle && idle > 0) this.idleTimer = setTimeout(() => this.fail({ kind: 'timeout', ms: idle }), idle);
    if (this.clientEnded) this.requestDone();
  }

  /** The request is all in: the route's response timeout starts. */
  private requestDone(): void {
    const ms = this.policy?.responseTimeoutMs;
    if (ms && ms > 0 && !this.responseTimer) this.responseTimer = setTimeout(() => this.fail({ kind: 'timeout', ms }), ms);
  }

  private armAttemptTimer(): void {
    const ms = this.policy?.attemptTimeoutMs;
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
    if (!ms || ms <= 0) return;
    this.attemptTimer = setTimeout(() => {
      this.attemptTimer = undefined;
      if (this.client.headersOut || this.complete) return;
      // A timed-out attempt is retried as a 504 would be; else the request ends with 504.
      if (!this.routeRetry(504, undefined)) this.fail({ kind: 'timeout', ms });
    }, ms);
  }

  /**
   * A route's retry of an answer (status, or gRPC status of a trailers-only answer), when the
   * whole request is at hand: the attempt's stream is cancelled and the request sent again.
   */
  private routeRetry(status: number, grpcStatus: number | undefined): boolean {
    const p = this.policy?.retry;
    if (!p || !this.clientEnded || this.client.headersOut) return false;
    const kept = this.body !== undefined || this.bodyBytes === 0;
    if (!kept || this.bodyBytes > p.maxBodyBytes || !p.shouldRetry(status, grpcStatus)) return false;
    const up = this.up;
    this.up = undefined;
    if (up && !up.closed) up.reset(H2Code.CANCEL);
    openCall(this.call, true, this, StreamProxy.opened, StreamProxy.openFailed);
    return true;
  }

  /** Another attempt on a new stream is safe: the upstream never processed this one. */
  private retry(): boolean {
    if (this.attempts >= MAX_ATTEMPTS || this.client.headersOut || (this.body === undefined && !(this.clientEnded && this.bodyBytes === 0))) return false;
    this.info.log.debug('h2 upstream refused the stream; sending it again', { target: this.info.target, attempt: this.attempts });
    this.up = undefined;
    openCall(this.call, true, this, StreamProxy.opened, StreamProxy.openFailed);
    return true;
  }

  /** `neverIndexed`: pairs that came never-indexed, and leave so (RFC 7541 §7.1.3: an intermediary keeps them). */
  private onResponseHeaders(fields: Fields, end: boolean, kind: 'informational' | 'final' | 'trailers', neverIndexed: number[] | undefined): void {
    const { client } = this;
    if (client.closed || this.complete) return;
    if (kind === 'informational') {
      // 1xx (100-continue, 103): carried as they come, before the final response.
      if (!client.localEnded) client.sendHeaders(fields, false, neverIndexed);
      return;
    }
    if (kind === 'trailers') {
      if (this.grpc) this.grpcStatus = grpcStatusOf(fields) ?? this.grpcStatus;
      this.completed();
      client.sendTrailers(fields, neverIndexed);
      return;
    }
    this.stopHeadTimer();
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
    const status = Number(fieldValue(fields, ':status')) || 0;
    // A route retries on the status, or a trailers-only gRPC answer's grpc-status.
    if (this.policy?.retry && this.routeRetry(status, this.grpc && end ? grpcStatusOf(fields) : undefined)) return;
    if (this.policy?.h2Response) ({ fields, neverIndexed } = this.policy.h2Response(fields, neverIndexed));
    this.body = undefined; // a response started: never replayed
    this.status = status;
    this.call.respond?.(this.status);
    if (end) {
      // Trailers-only (gRPC errors) or no body: kept that shape.
      if (this.grpc) this.grpcStatus = grpcStatusOf(fields);
      this.completed();
      client.sendHeaders(fields, true, neverIndexed);
      this.stopReadingClient();
      return;
    }
    const cl = fieldValue(fields, 'content-length');
    this.responseLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
    client.sendHeaders(fields, false, neverIndexed);
  }

  private onResponseData(chunk: Buffer, end: boolean): void {
    const { client } = this;
    this.idleTimer?.refresh();
    if (client.closed || client.localEnded) return;
    this.forwarded += chunk.length;
    // A client may hang up once it has content-length bytes, before END_STREAM reaches it.
    if (this.responseLength >= 0 && this.forwarded >= this.responseLength) this.bodyDelivered = true;
    if (end) this.completed();
    if (!client.sendData(chunk, end)) this.up?.pause();
    if (end) this.stopReadingClient();
  }

  private onUpstreamReset(u: H2Stream, code: number, retrySafe: boolean, byPeer: boolean): void {
    const { client } = this;
    if (client.closed || this.up !== u) return;
    if (code === H2Code.NO_ERROR && byPeer && client.headersOut) {
      // RST_STREAM NO_ERROR after the response started ends it (Node's http2 server ends a
      // response this way when its request side is done): what came is all of it, and a request
      // body still coming is not wanted.
      if (!this.complete) {
        this.completed();
        client.end();
      }
      this.stopReadingClient();
      return;
    }
    if (retrySafe && this.retry()) return;
    if (!client.headersOut && !byPeer) {
      // The connection to the upstream went away before a response: the proxy answers.
      this.fail({ kind: 'connection-lost', detail: `upstream connection lost (${h2CodeName(code)})` });
      return;
    }
    // The upstream reset this stream mid-response: the client gets the same reset.
    this.failure = `upstream_reset_${code}`;
    client.reset(carryRstCode(code, 'client'));
  }

  private completed(): void {
    this.complete = true;
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
    this.stopRouteTimers();
  }

  private stopRouteTimers(): void {
    // Only with a route's timeouts; checked one by one (no array per request).
    if (this.routeTimer) clearTimeout(this.routeTimer);
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    if (this.responseTimer) clearTimeout(this.responseTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.routeTimer = this.attemptTimer = this.responseTimer = this.idleTimer = undefined;
  }

  private stopHeadTimer(): void {
    this.dlList?.disarm(this);
  }

  onDeadline(list: DeadlineList): void {
    this.fail({ kind: 'timeout', ms: list.ms });
  }

  /**
   * The response is out; a request body still coming is not needed, so it is read and dropped
   * (its window keeps being given back, so the client can finish sending).
   */
  private stopReadingClient(): void {
    this.bodyStopped = true;
    this.client.resume();
  }

  private fail(f: ProxyFailure): void {
    const { client } = this;
    if (client.closed || this.complete) return;
    this.info.log.debug('h2 proxy failure', { target: this.info.target, kind: f.kind, detail: JSON.stringify(f) });
    const up = this.up;
    this.up = undefined;
    if (up && !up.closed) up.reset(H2Code.CANCEL);
    const a = answerFor(f);
    this.failure = a.error;
    this.stopHeadTimer();
    if (!client.headersOut) {
      if (this.grpc) {
        this.status = 200;
        this.grpcStatus = a.grpc;
        client.sendHeaders(
          [':status', '200', 'content-type', 'application/grpc', 'grpc-status', String(a.grpc), 'grpc-message', encodeGrpcMessage(a.reason), 'l5d-proxy-error', a.reason, ...(a.headers ?? []).flat()],
          true,
        );
      } else {
        this.status = a.http;
        client.sendHeaders([':status', String(a.http), 'content-type', 'text/plain; charset=utf-8', 'l5d-proxy-error', a.reason, ...(a.headers ?? []).flat()]);
        client.sendData(Buffer.from(`${a.reason}\n`, 'latin1'), true);
      }
      this.completed();
      this.stopReadingClient();
    } else if (this.grpc && !client.localEnded) {
      // Headers already went out: the status can still travel in the trailers.
      this.completed();
      client.sendTrailers(['grpc-status', String(a.grpc), 'grpc-message', encodeGrpcMessage(a.reason), 'l5d-proxy-error', a.reason]);
    } else {
      client.reset(H2Code.INTERNAL_ERROR);
    }
  }

  private onClientClose(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.stopHeadTimer();
    this.stopRouteTimers();
    const code = this.clientResetCode ?? H2Code.NO_ERROR;
    const up = this.up;
    if (up && !up.closed) up.reset(code === H2Code.NO_ERROR && this.complete ? H2Code.NO_ERROR : carryRstCode(code === H2Code.NO_ERROR ? H2Code.CANCEL : code, 'upstream'));
    if (!this.complete && this.bodyDelivered && this.failure === undefined) this.complete = true;
    if (!this.complete && this.failure === undefined) this.failure = code === H2Code.CANCEL ? 'client_cancel' : 'client_reset';
    const outcome: HttpOutcome = { status: this.status, grpcStatus: this.grpcStatus, error: this.complete ? this.failure : (this.failure ?? 'reset'), responseBytes: this.forwarded };
    this.call.end(outcome);
  }
}
