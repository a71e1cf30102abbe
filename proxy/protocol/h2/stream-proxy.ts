/**
 * One HTTP/2 stream proxied to the upstream: headers, body and trailers both ways through pipes
 * (so backpressure, and with it HTTP/2 flow control, is per stream), resets carried both ways,
 * the gRPC deadline enforced, proxy failures answered as HTTP 502/503/504 or, for gRPC, as a
 * trailers-only response with grpc-status, each with `l5d-proxy-error`. The stream's call (from
 * proxy/inbound or proxy/outbound) opens the upstream session and hears the end once, when the
 * client's stream closes.
 */
import * as http2 from 'node:http2';
import type { ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { errnoOf, type ConnInfo, type HttpCall, type HttpOutcome } from '../call';
import type { UpstreamSession } from './client-pool';
import {
  answerFor,
  carryRstCode,
  encodeGrpcMessage,
  H2Code,
  isGrpcContentType,
  parseGrpcTimeout,
  readGrpcStatus,
  type ProxyFailure,
} from './grpc-status';
import { forwardHeaders, forwardTrailers } from './headers';

const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM;
/** Request bodies up to this size are kept so a refused stream can be replayed (as linkerd2-proxy). */
const REPLAY_LIMIT = 64 * 1024;
const MAX_ATTEMPTS = 3;

export interface StreamOptions {
  /** Answer 504 (gRPC: DEADLINE_EXCEEDED) when no complete response within this; 0 = no limit. */
  responseTimeoutMs: number;
}

export function proxyStream(
  client: ServerHttp2Stream,
  reqHeaders: IncomingHttpHeaders,
  flags: number,
  call: HttpCall<UpstreamSession>,
  opts: StreamOptions,
  info: ConnInfo,
): void {
  const grpc = isGrpcContentType(reqHeaders['content-type']);
  const log = info.log;

  let up: ClientHttp2Stream | undefined;
  let upError: NodeJS.ErrnoException | undefined;
  let upTrailers: IncomingHttpHeaders | undefined;
  let reqTrailers: IncomingHttpHeaders | undefined;
  /** Trailers the proxy makes itself (deadline passed after the response headers). */
  let ownTrailers: OutgoingHttpHeaders | undefined;
  let status = 0;
  let grpcStatus: number | undefined;
  /** Set once the response to the client is complete (END_STREAM sent). */
  let complete = false;
  /** Every byte of a content-length response was handed to the client. */
  let bodyDelivered = false;
  /** Why the exchange failed, for the metrics' error label. */
  let failure: string | undefined;

  client.on('error', () => {}); // a reset or a dead connection: 'close' tells the rest
  client.on('trailers', (t) => (reqTrailers = t));

  // Two clocks: the gRPC deadline covers the whole call (the client gives up then anyway); the
  // response timeout covers only the wait for response headers, so long streams are not cut.
  const deadlineMs = grpc ? parseGrpcTimeout(reqHeaders['grpc-timeout']) : undefined;
  const timer = deadlineMs === undefined ? undefined : setTimeout(() => fail({ kind: 'timeout', ms: deadlineMs }), deadlineMs);
  let headTimer =
    opts.responseTimeoutMs > 0 ? setTimeout(() => fail({ kind: 'timeout', ms: opts.responseTimeoutMs }), opts.responseTimeoutMs) : undefined;
  const headersCame = () => {
    if (headTimer) clearTimeout(headTimer);
    headTimer = undefined;
  };

  const respondFromProxy = (f: ProxyFailure) => {
    const a = answerFor(f);
    failure = a.error;
    headersCame();
    if (!client.headersSent) {
      if (grpc) {
        status = 200;
        grpcStatus = a.grpc;
        client.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(a.grpc), 'grpc-message': encodeGrpcMessage(a.reason), 'l5d-proxy-error': a.reason },
          { endStream: true },
        );
      } else {
        status = a.http;
        client.respond({ ':status': a.http, 'content-type': 'text/plain; charset=utf-8', 'l5d-proxy-error': a.reason });
        client.end(`${a.reason}\n`);
      }
      complete = true;
      stopReadingClient();
    } else if (grpc && !client.writableEnded) {
      // Headers already went out: the status can still travel in the trailers.
      ownTrailers = { 'grpc-status': String(a.grpc), 'grpc-message': encodeGrpcMessage(a.reason), 'l5d-proxy-error': a.reason };
      up?.unpipe(client);
      client.end();
    } else {
      client.close(H2Code.INTERNAL_ERROR);
    }
  };

  /**
   * The response is out; a request body still coming is not needed, so it is read and dropped.
   * (An RST_STREAM NO_ERROR here could overtake the response headers still queued in nghttp2.)
   */
  const stopReadingClient = () => {
    bodyStopped = true;
    if (!client.readableEnded) client.resume();
  };

  const fail = (f: ProxyFailure) => {
    if (client.closed || client.destroyed || complete) return;
    log.debug('h2 proxy failure', { target: info.target, kind: f.kind, detail: JSON.stringify(f) });
    if (up && !up.closed) up.close(H2Code.CANCEL);
    respondFromProxy(f);
  };

  client.on('close', () => {
    if (timer) clearTimeout(timer);
    headersCame();
    const code = client.rstCode ?? H2Code.NO_ERROR;
    if (up && !up.closed) up.close(code === H2Code.NO_ERROR && complete ? H2Code.NO_ERROR : carryRstCode(code === H2Code.NO_ERROR ? H2Code.CANCEL : code, 'upstream'));
    if (!complete && bodyDelivered && failure === undefined) complete = true;
    if (!complete && failure === undefined) failure = code === H2Code.CANCEL ? 'client_cancel' : `client_reset`;
    const outcome: HttpOutcome = { status, grpcStatus, error: complete ? failure : (failure ?? 'reset') };
    call.end(outcome);
  });

  client.on('wantTrailers', () => {
    const t = ownTrailers ?? forwardTrailers(upTrailers);
    if (grpc) grpcStatus = readGrpcStatus(t as Record<string, unknown>) ?? grpcStatus;
    complete = true;
    if (timer) clearTimeout(timer);
    client.sendTrailers(t);
  });

  call.open(false).then(
    (l) => {
      if (client.closed || client.destroyed || complete) return l.release();
      start(l);
    },
    (err: unknown) => fail({ kind: 'connect', errno: errnoOf(err) }),
  );

  /** Request body kept for a retry while it is small; undefined once it outgrew the limit. */
  let replay: Buffer[] | undefined = [];
  let replayBytes = 0;
  let clientEnded = false;
  let bodyStopped = false;
  let attempts = 0;
  const endStream = (flags & END_STREAM) !== 0;

  if (!endStream) {
    // The body is forwarded by hand rather than piped so that it can be replayed on a new
    // stream when the upstream refuses the first one (REFUSED_STREAM, GOAWAY: never processed).
    client.on('data', (chunk: Buffer) => {
      if (bodyStopped) return;
      if (replay) {
        if (replayBytes + chunk.length <= REPLAY_LIMIT) {
          replay.push(chunk);
          replayBytes += chunk.length;
        } else replay = undefined;
      }
      const u = up;
      if (u && !u.destroyed && !u.writableEnded && !u.write(chunk)) {
        client.pause();
        u.once('drain', () => up === u && client.resume());
      }
    });
    client.on('end', () => {
      clientEnded = true;
      if (!bodyStopped && up && !up.destroyed && !up.writableEnded) up.end();
    });
    client.pause();
  }

  /** Another attempt on a fresh stream is safe: the upstream never processed this one. */
  const retry = (): boolean => {
    if (attempts >= MAX_ATTEMPTS || client.headersSent || (!endStream && replay === undefined)) return false;
    log.debug('h2 upstream refused the stream; retrying on a new stream', { target: info.target, attempt: attempts });
    up = undefined;
    call.open(true).then(
      (l) => {
        if (client.closed || client.destroyed || complete) return l.release();
        start(l);
      },
      (err: unknown) => fail({ kind: 'connect', errno: errnoOf(err) }),
    );
    return true;
  };

  function start(l: UpstreamSession): void {
    attempts++;
    let u: ClientHttp2Stream;
    try {
      u = l.session.request(forwardHeaders(reqHeaders), { endStream, waitForTrailers: !endStream });
    } catch (err) {
      // The session went away (GOAWAY) between acquire and request: nothing was sent.
      l.release();
      if (!retry()) fail({ kind: 'connection-lost', detail: (err as NodeJS.ErrnoException).code ?? 'session closed' });
      return;
    }
    up = u;
    upError = undefined;
    u.on('error', (err: NodeJS.ErrnoException) => (upError = err));
    if (!endStream) {
      for (const c of replay ?? []) u.write(c);
      if (clientEnded) u.end();
      else client.resume();
      u.on('wantTrailers', () => u.sendTrailers(forwardTrailers(reqTrailers)));
    }
    u.on('headers', (h) => {
      // 1xx (100-continue, 103): carried as they come.
      if (!client.headersSent && !client.closed) client.additionalHeaders(forwardHeaders(h));
    });
    u.on('response', (h, fl) => {
      if (client.closed || client.destroyed || complete) return;
      replay = undefined; // a response started: never retried
      headersCame();
      status = Number(h[':status']) || 0;
      const endNow = (fl & END_STREAM) !== 0;
      if (endNow) {
        // Trailers-only (gRPC errors) or no body: kept that shape.
        if (grpc) grpcStatus = readGrpcStatus(h as Record<string, unknown>);
        complete = true;
        if (timer) clearTimeout(timer);
        client.respond(forwardHeaders(h), { endStream: true });
        u.resume();
        stopReadingClient();
      } else {
        client.respond(forwardHeaders(h), { waitForTrailers: true });
        const cl = typeof h['content-length'] === 'string' && /^\d+$/.test(h['content-length']) ? Number(h['content-length']) : -1;
        if (cl >= 0) {
          // A client may hang up once it has content-length bytes, before END_STREAM reaches it.
          let forwarded = 0;
          u.on('data', (chunk: Buffer) => {
            forwarded += chunk.length;
            if (forwarded >= cl) bodyDelivered = true;
          });
        }
        // The whole body handed over counts as complete even if the client then closes before
        // the END_STREAM frame (curl stops at content-length and hangs up).
        client.once('finish', () => {
          complete = true;
          if (timer) clearTimeout(timer);
        });
        u.pipe(client);
      }
    });
    u.on('trailers', (t) => (upTrailers = t));
    u.on('close', () => {
      l.release();
      if (client.closed || client.destroyed || up !== u) return;
      const code = u.rstCode ?? H2Code.NO_ERROR;
      const sessionLost = l.session.destroyed || (upError !== undefined && upError.code !== 'ERR_HTTP2_STREAM_ERROR');
      if (code === H2Code.NO_ERROR && !sessionLost) {
        // A complete response ends the client's stream through the pipe and wantTrailers; an
        // early RST NO_ERROR from the upstream means "response done, stop sending the body".
        if (!client.headersSent) fail({ kind: 'connection-lost', detail: 'stream closed without a response' });
        else if (u.readableEnded && !client.readableEnded) bodyStopped = true;
        return;
      }
      if (code === H2Code.REFUSED_STREAM && retry()) return;
      if (!client.headersSent && sessionLost) {
        fail({ kind: 'connection-lost', detail: upError?.code ?? `session closed (${code})` });
        return;
      }
      // The upstream reset this stream: the client gets the same reset.
      failure = `upstream_reset_${code}`;
      client.close(carryRstCode(code, 'client'));
    });
  }
}
