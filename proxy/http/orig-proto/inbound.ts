/**
 * The inbound half of the orig-proto upgrade: an HTTP/2 stream from a peer proxy (over its mTLS)
 * that carries `l5d-orig-proto: HTTP/1.1` is an HTTP/1.1 request the client made; it goes to the
 * app as HTTP/1.1 (the app never sees HTTP/2 or the marker) on a keep-alive connection pooled per
 * worker (Node's http.Agent), and the app's response comes back as HTTP/2: status and fields,
 * the body streamed with backpressure, chunked trailers as HTTP/2 trailers. Failures are answered
 * as on the HTTP/2 path (502/503/504 with `l5d-proxy-error`); a response cut mid-body resets the
 * stream, which the outbound proxy turns into a reset of its client's connection.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { HttpLabels, HttpOutcome } from '../../metrics/http-metrics';
import { TcpStats } from '../../metrics/tcp-metrics';
import type { ConnContext } from '../../stack/context';
import { answerFor, type ProxyFailure } from '../h2/grpc-status';
import { h1RequestFromH2, h2ResponseFromH1, h2Trailers, ORIG_PROTO, ORIG_PROTO_HTTP11 } from './convert';

const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM;
const INTERNAL_ERROR = http2.constants.NGHTTP2_INTERNAL_ERROR;
/** Idle keep-alive connections to the app close after this. */
const APP_IDLE_MS = 60_000;
/** Errors that mean the app was not reached at all (the request never left). */
const CONNECT_ERRNO = /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EADDRNOTAVAIL)$/;

/** A stream to hand to proxyOrigProto: inbound, over a peer proxy's mTLS, marked HTTP/1.1. */
export function isOrigProtoStream(headers: IncomingHttpHeaders, ctx: ConnContext): boolean {
  return ctx.side.direction === 'inbound' && ctx.srcTls?.tls === 'true' && headers[ORIG_PROTO] === ORIG_PROTO_HTTP11;
}

let agent: http.Agent | undefined;
const seen = new WeakSet<Socket>();

function appAgent(): http.Agent {
  // LIFO: the most recently used connection is the one least likely to have been closed by the app.
  return (agent ??= new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: APP_IDLE_MS, maxFreeSockets: 256 }));
}

/** TCP metrics for a new connection to the app (peer="dst"), once per socket. */
function trackSocket(ctx: ConnContext, s: Socket): void {
  if (seen.has(s)) return;
  seen.add(s);
  const { side, target, tcp, open } = ctx;
  const stats = new TcpStats(tcp, { direction: side.direction, peer: 'dst', target_addr: target.addr, tls: 'no_identity', no_tls_reason: side.dstNoTlsReason }, s);
  open.add(stats);
  let errno = '';
  s.on('error', (err: NodeJS.ErrnoException) => (errno = err.code ?? 'EIO'));
  s.once('close', () => {
    stats.close(errno);
    open.remove(stats);
  });
}

export interface OrigProtoOptions {
  /** 504 when no response head within this; 0 = no limit. */
  responseTimeoutMs: number;
}

export function proxyOrigProto(
  client: ServerHttp2Stream,
  reqHeaders: IncomingHttpHeaders,
  flags: number,
  ctx: ConnContext,
  opts: OrigProtoOptions,
  labels: HttpLabels,
): void {
  const endMetrics = ctx.http.start(labels);
  const endStream = (flags & END_STREAM) !== 0;
  const r = h1RequestFromH2(reqHeaders, endStream);
  const noResponseBody = r.method === 'HEAD';
  let req: http.ClientRequest | undefined;
  let responded = false;
  let complete = false;
  let status = 0;
  let failure: string | undefined;
  let reqTrailers: IncomingHttpHeaders | undefined;
  let retried = false;

  client.on('error', () => {}); // a reset or a dead session: 'close' tells the rest
  let headTimer: NodeJS.Timeout | undefined =
    opts.responseTimeoutMs > 0 ? setTimeout(() => fail({ kind: 'timeout', ms: opts.responseTimeoutMs }), opts.responseTimeoutMs) : undefined;
  const stopTimer = () => {
    if (headTimer) clearTimeout(headTimer);
    headTimer = undefined;
  };

  const fail = (f: ProxyFailure) => {
    stopTimer();
    req?.destroy();
    if (client.closed || client.destroyed || complete) return;
    const a = answerFor(f);
    failure = a.error;
    if (client.headersSent) {
      client.close(INTERNAL_ERROR);
      return;
    }
    status = a.http;
    complete = true;
    client.respond({ ':status': a.http, 'content-type': 'text/plain; charset=utf-8', 'l5d-proxy-error': a.reason });
    client.end(`${a.reason}\n`);
    if (!client.readableEnded) client.resume(); // the rest of the request body is not needed
  };

  client.on('close', () => {
    stopTimer();
    if (!complete) {
      req?.destroy();
      failure ??= client.rstCode === http2.constants.NGHTTP2_CANCEL ? 'client_cancel' : 'reset';
    }
    endMetrics({ status, error: complete ? failure : (failure ?? 'reset') } satisfies HttpOutcome);
  });

  const send = () => {
    let q: http.ClientRequest;
    try {
      q = http.request({
        host: ctx.target.host,
        port: ctx.target.port,
        method: r.method,
        path: r.path,
        headers: r.headers,
        agent: appAgent(),
        setHost: false,
      });
    } catch (err) {
      return fail({ kind: 'connection-lost', detail: (err as NodeJS.ErrnoException).code ?? 'invalid request' });
    }
    req = q;
    q.on('socket', (s) => trackSocket(ctx, s));
    q.on('information', (info) => {
      if (!client.headersSent && !client.closed) client.additionalHeaders(h2ResponseFromH1(info.statusCode, info.rawHeaders));
    });
    q.on('error', (err: NodeJS.ErrnoException) => {
      if (req !== q) return;
      const errno = err.code ?? 'EIO';
      // A pooled connection the app had closed just before we reused it: resent once when the
      // request has no body (nothing of it can have been processed twice without a response).
      if (!responded && q.reusedSocket && endStream && !retried && (errno === 'ECONNRESET' || errno === 'EPIPE')) {
        retried = true;
        return send();
      }
      if (responded) {
        failure = `app ${errno} mid-response`;
        if (!client.closed) client.close(INTERNAL_ERROR);
        return;
      }
      fail(CONNECT_ERRNO.test(errno) && !q.reusedSocket ? { kind: 'connect', errno } : { kind: 'connection-lost', detail: errno });
    });
    q.on('response', (res) => {
      if (req !== q || client.closed || client.destroyed || complete) {
        res.resume();
        return;
      }
      responded = true;
      stopTimer();
      status = res.statusCode ?? 0;
      const h = h2ResponseFromH1(status, res.rawHeaders);
      const noBody = noResponseBody || status === 204 || status === 304;
      const hasLength = h['content-length'] !== undefined;
      if (noBody) {
        complete = true;
        client.respond(h, { endStream: true });
        res.resume();
        return;
      }
      // Trailers can only come with a chunked response (no content-length).
      client.respond(h, { waitForTrailers: !hasLength });
      client.on('wantTrailers', () => {
        complete = true;
        client.sendTrailers(h2Trailers(res.trailers));
      });
      res.on('data', (d: Buffer) => {
        if (!client.write(d)) {
          res.pause();
          client.once('drain', () => res.resume());
        }
      });
      res.on('end', () => {
        if (hasLength) complete = true;
        client.end();
      });
      res.on('close', () => {
        if (!res.complete && !client.closed) {
          failure = 'app closed mid-response';
          client.close(INTERNAL_ERROR);
        }
      });
    });
    // A body is written as it arrives (below); only a request without one is resent.
    if (endStream) q.end();
  };

  const finishBody = (q: http.ClientRequest) => {
    if (r.chunked && reqTrailers) q.addTrailers(h2Trailers(reqTrailers) as Record<string, string>);
    q.end();
  };

  // The request body, streamed with backpressure.
  if (!endStream) {
    client.on('trailers', (t) => (reqTrailers = t));
    client.on('data', (d: Buffer) => {
      const q = req;
      if (!q || complete) return;
      if (!q.write(d)) {
        client.pause();
        q.once('drain', () => client.resume());
      }
    });
    client.on('end', () => {
      if (req && !complete) finishBody(req);
    });
  }
  send();
}
