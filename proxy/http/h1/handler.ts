/**
 * The HTTP/1.1 proxy for one client connection: requests, not bytes. Each request head is parsed
 * strictly (parse-head.ts) and rewritten only if it carries hop-by-hop fields; its body is copied
 * through by its framing (content-length countdown, or chunked validated as it passes), with
 * backpressure both ways. Upstream connections come from a keep-alive pool per target. Requests
 * are handled one at a time, so pipelined requests are answered in order; an Upgrade or CONNECT
 * the upstream accepts (101 / 2xx) turns the connection into a byte relay.
 *
 * An HTTP/1.1 request to a meshed endpoint rides the worker's pooled HTTP/2 session to it instead
 * (orig-proto, proxy/http/orig-proto/h2-link.ts): the exchange logic here is the same for both.
 *
 * Failures the proxy answers itself (400/431/502/503/504) carry `l5d-proxy-error`. A refused
 * request is never forwarded in part: the head and the body bytes that arrived with it are
 * validated before the upstream is even chosen, and a body found malformed later resets the
 * upstream connection rather than completing a message.
 */
import type { Socket } from 'node:net';
import type { HttpLabels, HttpOutcome } from '../../metrics/http-metrics';
import { TcpStats } from '../../metrics/tcp-metrics';
import type { ConnContext } from '../../stack/context';
import type { ProtocolHandler } from '../../stack/dispatch';
import { routeRequest, type HttpUpstream } from '../../mesh/http-route';
import { DST_OVERRIDE, logicalDestination, type LogicalDestination } from '../../mesh/ingress';
import { ConnectError, formatAddr } from '../../tcp/connect';
import { relay } from '../../tcp/relay';
import { h2UpstreamPool } from '../h2/serve';
import { canUpgradeToH2 } from '../orig-proto/convert';
import { H2Link } from '../orig-proto/h2-link';
import { connectErrorKind, h1ErrorResponse, HttpProxyError, type ProxyErrorKind } from '../errors';
import { ChunkedError, ChunkedScanner } from './chunked';
import { clientResponseHead, requestAuthority, upstreamRequestHead } from './forward-head';
import {
  parseRequestHead,
  parseResponseHead,
  requestFraming,
  requestKeepAlive,
  responseFraming,
  responseKeepAlive,
  type BodyFraming,
  type HeadLimits,
  type RequestHead,
} from './parse-head';
import { worthParsing } from './reparse';
import { UpstreamPool, type PoolOptions, type UpstreamConn, type UpstreamHandler } from './pool';

export interface H1Settings {
  limits: HeadLimits;
  /** From the request's last byte sent to the response head; 0 disables. */
  responseTimeoutMs: number;
  /**
   * From the start of the wait for a request head (hand-over from detection, or the end of the
   * previous response) until the head is complete; 0 or absent disables. Bounds slowloris.
   */
  headerReadTimeoutMs?: number;
  pool: PoolOptions;
}

/** The handler for the dispatch table, with its own upstream pool (one per worker). */
export interface Http1Handler extends ProtocolHandler {
  pool: UpstreamPool;
  /**
   * Shutdown: idle keep-alive client connections close now, busy ones after their current
   * response (sent with `connection: close`), and idle upstream connections close.
   */
  drain(): void;
}

export function createHttp1Handler(settings: H1Settings): Http1Handler {
  const pool = new UpstreamPool(settings.pool);
  const live = new Set<ClientConnection>();
  let draining = false;
  const handler = (client: Socket, prefix: Buffer, _d: unknown, ctx: ConnContext): Promise<void> =>
    new Promise<void>((resolve) => {
      const conn = new ClientConnection(client, prefix, ctx, settings, pool, () => {
        live.delete(conn);
        resolve();
      });
      live.add(conn);
      conn.start();
      if (draining) conn.drain();
    });
  const drain = () => {
    draining = true;
    for (const c of live) c.drain();
    pool.close();
  };
  return Object.assign(handler, { pool, drain });
}

const enum Phase {
  Head,
  /** Reading the request body from the client. */
  Body,
  /** Request read; waiting for the response to complete. */
  Wait,
  Tunnel,
  Closed,
}

const enum ResPhase {
  Connecting,
  Head,
  Body,
  Done,
}

/** The request head and the body bytes that came with it, in one write where they are contiguous. */
function writeJoined(s: Socket, head: Buffer, parts: Buffer[]): void {
  if (parts.length === 0) {
    s.write(head);
    return;
  }
  const first = parts[0]!;
  if (parts.length === 1 && head.buffer === first.buffer && head.byteOffset + head.length === first.byteOffset) {
    s.write(Buffer.from(head.buffer, head.byteOffset, head.length + first.length));
    return;
  }
  s.cork();
  s.write(head);
  for (const p of parts) s.write(p);
  s.uncork();
}

/**
 * The upstream side of one exchange: a pooled HTTP/1 connection, or a stream on a pooled HTTP/2
 * session (orig-proto). The exchange writes its request in HTTP/1 framing and reads HTTP/1 bytes.
 */
interface UpstreamLink {
  handler: UpstreamHandler | undefined;
  readonly destroyed: boolean;
  /** The request head and the body bytes that came with it. */
  send(head: Buffer, early: Buffer[]): void;
  write(b: Buffer): boolean;
  pause(): void;
  resume(): void;
  /** Closed without reuse. */
  destroy(): void;
  /** Aborted: the upstream must not see a complete request (TCP RST / RST_STREAM). */
  reset(): void;
  /** Exchange complete and the connection reusable: back to its pool. */
  release(): void;
}

class H1Link implements UpstreamLink {
  constructor(
    readonly conn: UpstreamConn,
    private readonly pool: UpstreamPool,
  ) {}
  get handler(): UpstreamHandler | undefined {
    return this.conn.handler;
  }
  set handler(h: UpstreamHandler | undefined) {
    this.conn.handler = h;
  }
  get destroyed(): boolean {
    return this.conn.socket.destroyed;
  }
  send(head: Buffer, early: Buffer[]): void {
    writeJoined(this.conn.socket, head, early);
  }
  write(b: Buffer): boolean {
    return this.conn.socket.write(b);
  }
  pause(): void {
    this.conn.socket.pause();
  }
  resume(): void {
    this.conn.socket.resume();
  }
  destroy(): void {
    this.conn.socket.destroy();
  }
  reset(): void {
    this.conn.socket.resetAndDestroy();
  }
  release(): void {
    this.conn.socket.resume();
    this.pool.release(this.conn);
  }
}

/** Endpoints tried for one request whose connects fail (as proxy/mesh/open-endpoint.ts). */
const MAX_CONNECT_ATTEMPTS = 3;

function errnoOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/** Ingress mode: the destination the request names (l5d-dst-override, else its authority). */
function ingressDestination(head: RequestHead): LogicalDestination | undefined {
  let override: string | undefined;
  for (let i = 0; i < head.names.length; i++) {
    if (head.names[i]!.toLowerCase() === DST_OVERRIDE) {
      override = head.values[i];
      break;
    }
  }
  return logicalDestination(override, requestAuthority(head));
}

/** One request/response exchange on the client connection. */
class Exchange implements UpstreamHandler {
  upstream: UpstreamLink | undefined;
  reused = false;
  retried = false;
  /** Where this request was balanced to (proxy/mesh/http-route). */
  route: HttpUpstream | undefined;
  reqDone = false;
  resPhase = ResPhase.Connecting;
  resBuf: Buffer | undefined;
  resStatus = 0;
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
  timer: NodeJS.Timeout | undefined;
  ended = false;
  readonly tunnel: boolean;
  readonly framing: BodyFraming;
  readonly headBytes: Buffer;
  /** HTTP/1.1, not a tunnel: may ride HTTP/2 when routed to a meshed endpoint. */
  readonly upgradable: boolean;
  private endMetrics: ((o: HttpOutcome) => void) | undefined;

  constructor(
    readonly conn: ClientConnection,
    readonly head: RequestHead,
    raw: Buffer,
    headLength: number,
  ) {
    this.framing = requestFraming(head);
    this.tunnel = head.method === 'CONNECT' || (head.upgrade !== undefined && head.connection.includes('upgrade'));
    // Not copied: a socket's read buffers are never reused, so a retry can resend these bytes.
    this.headBytes = upstreamRequestHead(raw, headLength, head, this.tunnel && head.method !== 'CONNECT');
    if (this.framing.kind === 'length') this.reqRemaining = this.framing.length;
    if (this.framing.kind === 'chunked') this.reqScanner = new ChunkedScanner();
    this.upgradable = canUpgradeToH2(head, this.tunnel);
  }

  /**
   * Metrics start once the request is routed, so that outbound labels name the endpoint and its
   * TLS (as the HTTP/2 path does); a request that fails before that is counted with the original
   * destination. The first call wins (a stale-connection retry keeps the labels).
   */
  startMetrics(route: HttpUpstream | undefined): void {
    if (this.endMetrics) return;
    const ctx = this.conn.ctx;
    // Inbound: the client's TLS (client_id over a peer proxy's mTLS); outbound: the endpoint's.
    const tls =
      ctx.side.direction === 'inbound'
        ? (ctx.srcTls ?? { tls: 'no_identity' as const, no_tls_reason: ctx.side.srcNoTlsReason })
        : (route?.tls ?? { tls: 'no_identity' as const, no_tls_reason: ctx.side.dstNoTlsReason });
    const labels: HttpLabels = {
      direction: ctx.side.direction,
      authority: requestAuthority(this.head),
      target_addr: route?.addr ?? ctx.target.addr,
      ...tls,
    };
    this.endMetrics = ctx.http.start(labels);
  }

  end(o: HttpOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.route?.done(!o.error && o.status > 0 && o.status < 500);
    this.startMetrics(undefined);
    this.endMetrics!(o);
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

class ClientConnection {
  phase = Phase.Head;
  /** Client bytes read but not yet consumed. */
  private buf: Buffer | undefined;
  private ex: Exchange | undefined;
  private keepAlive = true;
  private clientEnded = false;
  /** Running while a request head is awaited (see H1Settings.headerReadTimeoutMs). */
  private headTimer: NodeJS.Timeout | undefined;
  /** Backing store a head arriving in pieces is appended to (doubling), instead of a concat per read. */
  private headStore: Buffer | undefined;
  /** Buffer length at the last parse that needed more (0: none yet for this head). */
  private parsedLen = 0;
  private readonly srcStats: TcpStats;

  constructor(
    readonly client: Socket,
    prefix: Buffer,
    readonly ctx: ConnContext,
    private readonly settings: H1Settings,
    private readonly pool: UpstreamPool,
    private readonly done: () => void,
  ) {
    this.buf = prefix.length > 0 ? prefix : undefined;
    const { side, target, tcp, open } = ctx;
    this.srcStats = new TcpStats(
      tcp,
      { direction: side.direction, peer: 'src', target_addr: target.addr, ...(this.ctx.srcTls ?? { tls: 'no_identity', no_tls_reason: side.srcNoTlsReason }) },
      client,
    );
    open.add(this.srcStats);
  }

  start(): void {
    const c = this.client;
    c.setNoDelay(true);
    c.on('data', (chunk: Buffer) => this.onClientData(chunk));
    c.on('end', () => this.onClientEnd());
    c.on('drain', () => {
      if (this.ex?.resPhase === ResPhase.Body || this.ex?.resPhase === ResPhase.Head) this.ex.upstream?.resume();
    });
    let errno = '';
    c.on('error', (err) => {
      errno = errnoOf(err);
    });
    c.on('close', () => {
      this.stopHeadTimer();
      this.srcStats.close(errno);
      this.ctx.open.remove(this.srcStats);
      if (this.phase !== Phase.Tunnel) this.abort(errno || 'client closed');
      this.done();
    });
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
        this.appendHead(chunk);
        this.nextRequest();
        return;
      case Phase.Body:
        this.forwardBody(chunk);
        return;
      case Phase.Wait:
        // Pipelined bytes: kept for after the response (the socket is paused; this is what was in flight).
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
    this.client.pause();
    const ex = new Exchange(this, r.head, b, r.length);
    this.ex = ex;
    this.keepAlive = requestKeepAlive(r.head) && !ex.tunnel;
    // Validate the body bytes that came with the head before anything is sent upstream.
    let p = r.length;
    const q = ex.takeBody(b, p);
    if (q < 0) return this.refuse(new HttpProxyError('badRequest', 'invalid chunked body'), ex);
    if (q > p) ex.early.push(b.subarray(p, q));
    p = q;
    this.buf = p < b.length ? b.subarray(p) : undefined;
    this.phase = ex.reqDone ? Phase.Wait : Phase.Body;
    this.connect(ex, false);
  }

  /** Appends to the head being read: into a doubling store, so a trickled head is copied O(n) times in all. */
  private appendHead(chunk: Buffer): void {
    const b = this.buf;
    if (!b || b.length === 0) {
      this.buf = chunk;
      return;
    }
    const need = b.length + chunk.length;
    const st = this.headStore;
    // Only ever written past the end of a buffer that starts the store: bytes an exchange still
    // holds (its head, kept for a retry) lie before a consumed prefix and are never overwritten.
    if (st && b.buffer === st.buffer && b.byteOffset === st.byteOffset && need <= st.length) {
      chunk.copy(st, b.length);
      this.buf = st.subarray(0, need);
      return;
    }
    const next = Buffer.allocUnsafe(Math.max(need * 2, 4096));
    b.copy(next, 0);
    chunk.copy(next, b.length);
    this.headStore = next;
    this.buf = next.subarray(0, need);
  }

  private connect(ex: Exchange, fresh: boolean): void {
    // A retry on a fresh connection re-balances; the stale attempt says nothing about the endpoint.
    ex.route?.done(true, false);
    ex.route = undefined;
    this.attempt(ex, fresh, new Set(), undefined);
  }

  /**
   * Routes the request and opens (or reuses) its upstream: a stream on the pooled HTTP/2 session
   * when the endpoint is meshed and the request may be upgraded, else a pooled HTTP/1 connection.
   * A balanced endpoint whose connect fails is set aside for this request and another one tried
   * (nothing was sent yet); the failure feeds the balancer's failure accrual.
   */
  private attempt(ex: Exchange, fresh: boolean, tried: Set<string>, lastErr: unknown): void {
    const { side, target, tcp, open } = this.ctx;
    routeRequest(this.ctx, tried, this.ctx.mesh?.ingressMode ? ingressDestination(ex.head) : undefined)
      .then(async (route): Promise<UpstreamLink> => {
        ex.route = route;
        // The original destination is never retried elsewhere: its metrics start now, connect
        // included. A balanced request's start once an endpoint is connected (a failed one is
        // retried on another), so that they name the endpoint that served it.
        if (route.pickKey === undefined) ex.startMetrics(route);
        if (route.meshed && ex.upgradable) {
          const lease = await h2UpstreamPool(this.ctx).acquire(this.ctx, route);
          return new H2Link(lease, ex.head, ex.framing, route.addr);
        }
        const { conn, reused } = await this.pool.acquire(
          route.key,
          route.host,
          route.port,
          (s) => {
            // Not in `open.track`: a pooled connection idles between clients and must not hold up
            // a drain; one in use is tied to a tracked client connection, which the drain waits for.
            const stats = new TcpStats(
              tcp,
              { direction: side.direction, peer: 'dst', target_addr: route.addr, ...route.tls },
              s,
            );
            open.add(stats);
            let errno = '';
            s.on('error', (err) => (errno = errnoOf(err)));
            s.on('close', () => {
              stats.close(errno);
              open.remove(stats);
            });
          },
          fresh,
          route.dial,
        );
        ex.reused = reused;
        return new H1Link(conn, this.pool);
      })
      .then(
        (link) => {
          if (this.ex !== ex || this.phase === Phase.Closed) {
            // The client went away while we connected.
            link.release();
            return;
          }
          ex.startMetrics(ex.route);
          ex.upstream = link;
          link.handler = ex;
          ex.resPhase = ResPhase.Head;
          link.send(ex.headBytes, ex.early);
          if (!ex.retried) ex.early = []; // kept only while a retry could still need them
          if (ex.reqDone) this.armTimer(ex);
          else if (this.phase === Phase.Body) this.client.resume();
          link.resume();
        },
        (err: unknown) => {
          if (this.ex !== ex) return;
          const route = ex.route;
          let final = err;
          if (route?.pickKey !== undefined && err instanceof ConnectError) {
            // The endpoint failed before anything was sent: counted against it, and another tried.
            ex.route = undefined;
            route.done(false, false);
            tried.add(route.pickKey);
            tcp.connectErrors.inc({ direction: side.direction, target_addr: route.addr, errno: err.errno });
            if (err.errno !== 'ETIMEDOUT' && !/^E(CONN|HOST|NET)/.test(err.errno)) {
              this.ctx.mesh?.metrics.handshakeErrors.inc({ direction: side.direction, target_addr: route.pickKey, errno: err.errno });
            }
            this.ctx.log.info('http: endpoint connect failed; trying another', { target: target.addr, endpoint: route.pickKey, errno: err.errno });
            if (tried.size < MAX_CONNECT_ATTEMPTS) return this.attempt(ex, fresh, tried, err);
          } else if (err instanceof ConnectError && err.errno === 'ENOENDPOINTS' && lastErr !== undefined) {
            // Every endpoint was tried: the last connect failure is the answer.
            final = lastErr;
          } else if (err instanceof ConnectError) {
            tcp.connectErrors.inc({ direction: side.direction, target_addr: route?.addr ?? target.addr, errno: err.errno });
          }
          const errno = final instanceof ConnectError ? final.errno : errnoOf(final);
          this.ctx.log.info('http: upstream connect failed', { target: target.addr, errno });
          this.fail(ex, connectErrorKind(errno), `${errno} connecting to ${formatAddr(target.host, target.port)}`);
        },
      );
  }

  private forwardBody(chunk: Buffer): void {
    const ex = this.ex!;
    const q = ex.takeBody(chunk, 0);
    if (q < 0) {
      // Malformed chunked data mid-stream: reset the upstream so it never sees a complete message.
      if (ex.upstream) ex.upstream.reset();
      return this.fail(ex, 'badRequest', 'invalid chunked body', true);
    }
    const up = ex.upstream!;
    const more = up.write(q === chunk.length ? chunk : chunk.subarray(0, q));
    if (ex.reqDone) {
      if (q < chunk.length) this.buf = this.buf ? Buffer.concat([this.buf, chunk.subarray(q)]) : chunk.subarray(q);
      this.phase = Phase.Wait;
      this.client.pause();
      this.armTimer(ex);
      if (ex.resPhase === ResPhase.Done) this.finish(ex);
    } else if (!more) this.client.pause();
  }

  // ---- upstream side ----

  onResponseData(ex: Exchange, chunk: Buffer): void {
    if (this.ex !== ex) return;
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
      ex.resStatus = h.status;
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
      const out = clientResponseHead(b, r.length, h, { close, keepAlive10, upgrade: false, dropTransferEncoding: dechunk });
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
        this.client.resetAndDestroy();
        return;
      }
    }
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
      if ((ex.reused || retrySafe) && !ex.retried && ex.resBytes === 0 && ex.framing.kind === 'none' && !ex.tunnel) {
        ex.retried = true;
        ex.upstream = undefined;
        ex.resPhase = ResPhase.Connecting;
        this.disarmTimer(ex);
        this.ctx.log.debug('http: stale pooled connection; retrying on a fresh one', { target: this.ctx.target.addr });
        return this.connect(ex, true);
      }
      return this.fail(ex, ex.resBytes > 0 ? 'badResponse' : 'upstreamReset', reason, !ex.reqDone);
    }
    // Mid-response: the client sees the cut as a reset, not as a complete message.
    ex.end({ status: ex.resStatus, error: `upstream ${reason} mid-response` });
    this.ex = undefined;
    this.phase = Phase.Closed;
    this.client.resetAndDestroy();
  }

  /** Armed once per awaited head: bytes dribbling in do not restart it. */
  private startHeadTimer(): void {
    const ms = this.settings.headerReadTimeoutMs ?? 0;
    if (ms <= 0 || this.headTimer) return;
    this.headTimer = setTimeout(() => {
      this.headTimer = undefined;
      if (this.phase !== Phase.Head || this.client.destroyed) return;
      // An idle keep-alive connection is simply closed; a head begun but unfinished gets a 408.
      if (!this.buf || this.buf.length === 0) return this.close();
      this.refuse(new HttpProxyError('headerReadTimeout'), undefined);
    }, ms);
  }

  private stopHeadTimer(): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }

  private armTimer(ex: Exchange): void {
    const ms = this.settings.responseTimeoutMs;
    if (ms <= 0 || ex.timer || ex.resPhase !== ResPhase.Head) return;
    ex.timer = setTimeout(() => {
      ex.timer = undefined;
      if (this.ex !== ex || ex.resPhase !== ResPhase.Head) return;
      ex.upstream?.destroy();
      this.fail(ex, 'responseTimeout', `no response within ${ms} ms`);
    }, ms);
  }

  private disarmTimer(ex: Exchange): void {
    if (ex.timer) clearTimeout(ex.timer);
    ex.timer = undefined;
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
  private fail(ex: Exchange, kind: ProxyErrorKind, detail: string, closeAfter = !ex.reqDone): void {
    this.disarmTimer(ex);
    const err = new HttpProxyError(kind, detail);
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
      this.client.resetAndDestroy();
      return;
    }
    this.client.write(h1ErrorResponse(err, { close: !this.keepAlive }));
    this.phase = Phase.Head;
    this.nextRequest();
  }

  /** A request the proxy will not forward: 400/431 and the connection closes. */
  private refuse(err: HttpProxyError, ex: Exchange | undefined): void {
    this.ctx.log.debug('http: refused request', { target: this.ctx.target.addr, why: err.message });
    // A 4xx the proxy answers is the client's failure, not the route's: classified by status
    // (success), as Linkerd does; the reason travels in l5d-proxy-error.
    if (ex) ex.end({ status: err.status });
    else {
      const end = this.ctx.http.start({
        direction: this.ctx.side.direction,
        authority: '',
        target_addr: this.ctx.target.addr,
        tls: 'no_identity',
        no_tls_reason: this.ctx.side.srcNoTlsReason,
      });
      end({ status: err.status });
    }
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
    const up = ex.upstream;
    // Tunnels never ride HTTP/2 (canUpgradeToH2): the upstream is an HTTP/1 connection.
    if (!(up instanceof H1Link)) throw new Error('tunnel over a non-HTTP/1 upstream');
    const server = up.conn.detach();
    if (upstreamRest.length > 0) this.client.write(upstreamRest);
    const c = this.client;
    c.removeAllListeners('data');
    c.removeAllListeners('end');
    c.removeAllListeners('drain');
    relay(c, server, {
      initial: this.buf,
      onClose: () => {},
    });
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
