/**
 * The inbound side, layer by layer: a connection for the app (redirected to 4143) gets the mTLS
 * verdict (a peer proxy's TLS is terminated and detected again; plaintext is refused where the
 * port requires mTLS), then is served by its protocol towards the app. The future home of
 * authorization: every connection and request passes the verdict and the call here. HTTP/1 and
 * orig-proto (HTTP/1.1 a peer sent over HTTP/2) share one keep-alive pool to the app. Request
 * metrics are recorded here, at the call, once per request.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../core/log';
import type { Stack } from '../accept/connection';
import type { Conn, Side } from '../accept/context';
import type { Detected } from '../accept/detect/detect';
import { readPrefix } from '../accept/read-prefix';
import { Dispatch } from '../accept/serve';
import type { HttpLabels, HttpMetrics } from '../metrics/http-metrics';
import { noTls } from '../metrics/labels';
import type { MeshMetrics } from '../metrics/mesh-metrics';
import type { TcpMetrics } from '../metrics/tcp-metrics';
import type { TapHub, TapRecorder } from '../tap/hub';
import { tapHeadOf, type TapHeadSource } from '../tap/heads';
import { errnoOf, type ConnInfo, type HttpCall, type HttpOutcome } from '../protocol/call';
import type { Acquired, UpstreamPool } from '../protocol/h1/client-pool';
import { requestAuthority } from '../protocol/h1/forward-head';
import { H1Link, type UpstreamLink } from '../protocol/h1/link';
import type { H1Request, H1Settings } from '../protocol/h1/server';
import type { H2ClientPool, UpstreamSession } from '../protocol/h2/client-pool';
import { authorityOf, fieldValue } from '../protocol/h2/headers';
import { isGrpcContentType } from '../protocol/h2/grpc-status';
import type { ProxyProtocol, RequestView } from '../../core/policy/model';
import type { Authorizer, HttpAuthz } from './policy/authz';
import { resetConnection } from '../transport/reset';
import type { Fields } from '../protocol/h2/semantics';
import { HttpSide } from '../protocol/http-side';
import type { H2Settings } from '../protocol/h2/settings';
import { proxyStream } from '../protocol/h2/stream-proxy';
import { forwardOpaque } from '../protocol/opaque';
import { isOrigProtoStream, serveOrigProto } from '../protocol/orig-proto/server';
import { ConnectError, connectTarget } from '../transport/connect';
import type { TlsStore } from '../transport/tls/store';
import { acceptMeshed, inboundVerdict } from './mtls';
import { acceptOpaqueTransport } from './opaque-transport';
import { merged } from '../../core/merged';

export interface InboundSettings {
  side: Side;
  http1: H1Settings;
  http2: H2Settings;
  /** Ports where plaintext (no mTLS from a peer proxy) is refused. */
  requireTlsPorts: ReadonlySet<number>;
}

export interface InboundDeps {
  /** This proxy's certificates; undefined: no identity, so no mTLS is terminated. */
  tls: TlsStore | undefined;
  tcp: TcpMetrics;
  http: HttpMetrics;
  mesh: MeshMetrics;
  log: Logger;
  /**
   * Authorization (Servers, policies, routes, rate limits); undefined when no policy is
   * configured, so the stack pays nothing for it.
   */
  authz?: Authorizer;
  /** The lane's taps; absent: tap is off in this proxy. */
  tap?: TapHub;
}

const EMPTY = Buffer.alloc(0);
const OPAQUE_PORT: Detected = Object.freeze({ kind: 'opaque', reason: 'undecided', detail: 'opaque port' });
const H2_BY_ALPN: Detected = Object.freeze({ kind: 'h2' });
/** How long a connection to a port whose policy has not arrived yet waits for it before the default applies. */
const FIRST_POLICY_WAIT_MS = 1000;
const H1_BY_POLICY: Detected = Object.freeze({ kind: 'http1' }) as Detected;
const H2_BY_POLICY: Detected = Object.freeze({ kind: 'h2' });

/** What a Server's proxyProtocol makes of a port's traffic after the mTLS verdict (undefined: detect). */
function forcedBy(protocol: ProxyProtocol | undefined): Detected | undefined {
  switch (protocol) {
    case 'opaque':
    case 'tls':
      return OPAQUE_PORT;
    case 'http1':
      return H1_BY_POLICY;
    case 'http2':
    case 'grpc':
      return H2_BY_POLICY;
    default:
      return undefined;
  }
}

export class Inbound implements Stack {
  readonly side: Side;
  /** With mTLS, a peer proxy's opaque transport connects to 4143 itself. */
  readonly acceptsDirect: boolean;
  private readonly dispatch: Dispatch;
  /**
   * This side's HTTP servers and pools; its HTTP/1 pool is the one pool to the app, the HTTP/1
   * server's and orig-proto's.
   */
  private readonly http: HttpSide;
  /** The TCP metrics; under a policy, a view that labels every connection with its port's Server. */
  private readonly tcp: TcpMetrics;

  constructor(
    private readonly settings: InboundSettings,
    private readonly deps: InboundDeps,
  ) {
    this.side = settings.side;
    this.acceptsDirect = deps.tls !== undefined;
    this.tcp = deps.authz ? deps.tcp.labelled(deps.authz.tcpLabeler) : deps.tcp;
    this.http = new HttpSide(settings.http1, settings.http2, deps.log);
    const streamOptions = { responseTimeoutMs: settings.http1.responseTimeoutMs };
    // Response heads from the app are bounded as on the HTTP/1 path.
    const origProtoOptions = { responseTimeoutMs: settings.http1.responseTimeoutMs, limits: settings.http1.limits };
    this.dispatch = new Dispatch(
      {
        http1: (client, prefix, _d, conn) => {
          const authz = deps.authz?.http(conn);
          return this.http.h1.serve(client, prefix, info(conn), (req) => this.h1Call(conn, req, authz));
        },
        h2: (client, prefix, _d, conn) => {
          const ci = info(conn);
          // An HTTP/1.1 request a peer proxy upgraded to ride its HTTP/2 session goes to the app as
          // HTTP/1.1 again; any other stream is proxied as HTTP/2.
          const meshed = conn.srcTls.tls === 'true';
          const authz = deps.authz?.http(conn);
          return this.http.h2.serve(client, prefix, ci, (stream, fields, endStream, neverIndexed) =>
            meshed && isOrigProtoStream(fields)
              ? serveOrigProto(stream, fields, endStream, this.checked(this.appCall(conn, authorityOf(fields), fields), authz, fields, false), origProtoOptions)
              : proxyStream(stream, fields, endStream, neverIndexed, this.checked(this.h2Call(conn, fields), authz, fields, true), streamOptions, ci),
          );
        },
        // TLS for another name than ours (the app's own) passes through as bytes.
        tls: (client, prefix, _d, conn) => this.forward(client, prefix, conn),
        opaque: (client, prefix, _d, conn) => this.forward(client, prefix, conn),
      },
      this.tcp,
    );
  }

  accept(client: Socket, conn: Conn, direct: boolean): Promise<void> {
    conn.clientAddr = client.remoteAddress;
    conn.clientPort = client.remotePort;
    const authz = this.deps.authz;
    // A port seen for the first time: its policy is asked for now; wait briefly for it rather than
    // let the first connections through under the default (ports in LINNET_PROXY_INBOUND_PORTS
    // were asked for at start and never wait).
    if (authz?.policies.watching && !direct && !authz.policy(conn.target.port).fromControlPlane) {
      return authz.policies.ready(conn.target.port, FIRST_POLICY_WAIT_MS).then(() => this.acceptNow(client, conn, direct));
    }
    return this.acceptNow(client, conn, direct);
  }

  private acceptNow(client: Socket, conn: Conn, direct: boolean): Promise<void> {
    const { tls, mesh } = this.deps;
    const { side, target, log } = conn;
    // Straight to our inbound port from a peer proxy: opaque transport (mTLS, then a header).
    if (direct && tls) return acceptOpaqueTransport(client, conn, tls, mesh, (s, rest, inner) => this.dispatch.serve(s, rest, OPAQUE_PORT, inner));
    if (side.opaquePorts.has(target.port)) {
      // Meshed peers reach an opaque port through opaque transport, never here, so nothing on it
      // is detected: plaintext is forwarded at once, or refused where the port requires mTLS.
      if (tls && this.settings.requireTlsPorts.has(target.port)) {
        mesh.plaintextRefused.inc({ target_addr: target.addr, reason: 'opaque' });
        log.info('port requires mTLS; closing a connection without it', { target: target.addr, peer: client.remoteAddress });
        resetConnection(client);
        return Promise.resolve();
      }
      return this.dispatch.serve(client, EMPTY, OPAQUE_PORT, conn);
    }
    return this.detect(client, conn);
  }

  /**
   * Serves a connection whose protocol is already known, bound for `conn.target`: what accept
   * does after detection (tests use it to skip iptables and detection).
   */
  serve(client: Socket, prefix: Buffer, detected: Detected, conn: Conn): Promise<void> {
    return this.dispatch.serve(client, prefix, detected, conn);
  }

  /** Closes the idle keep-alive connections of the HTTP/1 pool (in-flight exchanges keep theirs). */
  closeIdleConnections(): void {
    this.http.closeIdleConnections();
  }

  /** Shutdown: no new requests on kept-alive connections, GOAWAY to HTTP/2 clients, idle app connections closed. */
  drain(): void {
    this.http.drain();
  }

  /** Detection, then the verdict; runs a second time on the clear stream of a terminated mTLS connection. */
  private async detect(client: Socket, conn: Conn): Promise<void> {
    const { tls, mesh } = this.deps;
    const { side, target, log } = conn;
    const prefix = await readPrefix(client, side.detectTimeoutMs);
    const o = prefix.outcome;
    if (o.kind !== 'gone' && conn.srcTls.tls !== 'true') {
      const verdict = inboundVerdict(o, target.port, tls?.localName, this.settings.requireTlsPorts);
      if (verdict === 'refuse') {
        mesh.plaintextRefused.inc({ target_addr: target.addr, reason: o.kind === 'detected' ? o.detected.kind : o.kind });
        log.info('port requires mTLS; closing a connection without it', { target: target.addr, peer: client.remoteAddress });
        resetConnection(client);
        return;
      }
      if (verdict === 'terminate') {
        const offered = o.kind === 'detected' && o.detected.kind === 'tls' ? o.detected.alpn : [];
        const t = await acceptMeshed(client, prefix.bytes, tls!, mesh, target.addr, side.detectTimeoutMs + side.connectTimeoutMs, offered);
        if (!t) return;
        conn.open.track(t.socket);
        t.socket.on('error', () => {});
        const peer: Conn = merged(conn, { srcTls: { tls: 'true', client_id: t.clientId }, metricsSite: undefined });
        // The peer's HTTP/2 pool agreed on h2: no second detection, and nothing read off the
        // clear stream, so the HTTP/2 session reads the TLS socket itself (h2/server.ts).
        if (t.alpn === 'h2') {
          log.debug('detected', { direction: side.direction, target: target.addr, protocol: 'h2', alpn: 'h2' });
          return this.dispatch.serve(t.socket, EMPTY, H2_BY_ALPN, peer);
        }
        return this.detect(t.socket, peer);
      }
    }
    // A Server's proxyProtocol replaces detection on its port (the mTLS verdict above still ran):
    // opaque is never parsed; an HTTP port is never relayed as opaque, but keeps the HTTP version
    // detection found (a peer proxy may have upgraded HTTP/1 to HTTP/2 between proxies).
    const forced = this.deps.authz && o.kind !== 'gone' ? forcedBy(this.deps.authz.policy(target.port).policy.protocol) : undefined;
    if (forced) {
      const found = o.kind === 'detected' ? o.detected.kind : undefined;
      const keep = forced !== OPAQUE_PORT && (found === 'http1' || found === 'h2');
      if (!keep) return this.dispatch.serve(client, prefix.bytes, forced, conn);
    }
    return this.dispatch.serveDetected(client, prefix, conn);
  }

  /** dialApp as the pools take it (made once: a request that finds a pooled connection allocates no dialer). */
  private readonly dialAppFor = (conn: Conn): Promise<Socket> => this.dialApp(conn, true);

  /**
   * A connection to the app, counted in the TCP metrics (peer="dst"); a failure is counted too.
   * `directRead`: for the pools, whose connections' owners take their bytes directly
   * (transport/direct-read.ts); an opaque connection is relayed and read the stream's way.
   */
  private async dialApp(conn: Conn, directRead = false): Promise<Socket> {
    const { side, target } = conn;
    let socket: Socket;
    try {
      socket = await connectTarget(target.host, target.port, side.connectTimeoutMs, directRead);
    } catch (err) {
      if (err instanceof ConnectError) this.tcp.connectErrors.inc({ direction: side.direction, target_addr: target.addr, errno: err.errno });
      throw err;
    }
    this.tcp.track({ direction: side.direction, peer: 'dst', target_addr: target.addr, ...noTls(side.dstNoTlsReason) }, socket);
    return socket;
  }

  /**
   * Opaque TCP to the app. The app connection is plain TCP; the client's is plain unless the
   * proxy terminated a peer's mTLS on it (srcTls "true": a meshed peer, opaque transport
   * included), so a plaintext client's bytes are relayed by the kernel.
   */
  private async forward(client: Socket, prefix: Buffer, conn: Conn): Promise<void> {
    const authz = this.deps.authz;
    if (authz) {
      // Decided before the app is dialled: a refused client never reaches it, not even its first bytes.
      // A later policy that no longer allows it resets it, so the client's side sees a reset, not an end.
      if (!authz.connection(conn, () => resetConnection(client))) {
        resetConnection(client);
        return;
      }
      client.once('close', () => authz.connectionClosed(conn));
    }
    const kind = await forwardOpaque(
      client,
      conn.srcTls.tls !== 'true',
      prefix,
      async () => {
        try {
          const socket = await this.dialApp(conn);
          conn.open.track(socket);
          return { socket, plain: true };
        } catch (err) {
          // The client is reset for it: its side closes with the connect's errno.
          conn.src?.failed(errnoOf(err));
          throw err;
        }
      },
      info(conn),
    );
    if (kind) this.tcp.relays.inc({ direction: conn.side.direction, relay: kind });
  }

  /** One HTTP/1 request to the app, on the shared pool. */
  private h1Call(conn: Conn, req: H1Request | undefined, authz?: HttpAuthz): HttpCall<UpstreamLink> {
    const authority = req ? requestAuthority(req.head) : '';
    return new InboundH1Call(this.appCall(conn, authority, req?.head), req, authority, authz);
  }

  /**
   * An HTTP/2 stream's call behind its authorization: a refused request's open rejects with the
   * answer (403, 404, 429), which the server gives it.
   */
  private checked<L>(call: InboundCall & HttpCall<L>, authz: HttpAuthz | undefined, fields: Fields, h2: boolean): HttpCall<L> {
    if (!authz) return call;
    return new CheckedCall(call, authz, fields, h2);
  }

  /** A request to the app on a pooled HTTP/1 connection (the HTTP/1 server's and orig-proto's). */
  private appCall(conn: Conn, authority: string, head: TapHeadSource): AppCall {
    return new AppCall(this.deps, conn, authority, head, this.http.h1Pool, this.dialAppFor);
  }

  /** One HTTP/2 stream to the app, on a pooled session. */
  private h2Call(conn: Conn, fields: Fields): AppH2Call {
    return new AppH2Call(this.deps, conn, authorityOf(fields), fields, this.http.h2Pool, this.dialAppFor);
  }
}

/** One inbound request's metrics and tap: the one place its events pass. */
class InboundCall {
  private finish: ((o: HttpOutcome) => void) | undefined;
  private tapped: TapRecorder | undefined;

  constructor(
    private readonly deps: InboundDeps,
    readonly conn: Conn,
    readonly authority: string,
    private readonly head: TapHeadSource,
  ) {}

  start(): (o: HttpOutcome) => void {
    if (this.finish) return this.finish;
    const { side, target, srcTls } = this.conn;
    // As linkerd2-proxy: inbound requests carry the client's TLS (client_id over mTLS) and, under
    // a policy, the Server that governs the port (srv_kind, srv_name).
    const srv = this.deps.authz?.policy(target.port).policy.server;
    // Every label but the authority is fixed by the connection and its port's Server: the series
    // are found by a site object per (connection, Server), with no label set built per request.
    let site = this.conn.metricsSite;
    if (site === undefined || site.srv !== srv) this.conn.metricsSite = site = { srv };
    this.finish = this.deps.http.startAt(site, this.authority, inboundLabels, this);
    // Tap sits beside the metrics: one boolean read while no tap is open.
    const tap = this.deps.tap;
    if (tap?.active) {
      const h = tapHeadOf(this.head);
      const src: Record<string, string> = { tls: srcTls.tls };
      if (srcTls.tls === 'true') {
        if (srcTls.client_id) src.client_id = srcTls.client_id;
      } else src.no_tls_reason = srcTls.no_tls_reason;
      this.tapped = tap.request({
        direction: side.direction,
        sourceIp: this.conn.clientAddr ?? '',
        sourcePort: this.conn.clientPort ?? 0,
        destinationIp: target.host,
        destinationPort: target.port,
        sourceLabels: src,
        destinationLabels: {},
        routeLabels: srv ? { srv_kind: srv.kind, srv_name: srv.name } : {},
        method: h.method,
        scheme: h.scheme,
        authority: this.authority,
        path: h.path,
        target: h.target,
      });
    }
    return this.finish;
  }

  respond(status: number): void {
    this.tapped?.respond(status);
  }

  end(o: HttpOutcome): void {
    this.start()(o);
    this.tapped?.end(o);
  }
}

/** The labels of an inbound request (HttpMetrics.startAt calls it once per site and authority). */
function inboundLabels(call: InboundCall): HttpLabels {
  const { side, target, srcTls } = call.conn;
  const srv = call.conn.metricsSite?.srv;
  return { direction: side.direction, authority: call.authority, target_addr: target.addr, ...srcTls, ...(srv ? { srv_kind: srv.kind, srv_name: srv.name } : {}) };
}

type Dialer = (conn: Conn) => Promise<Socket>;

/**
 * The calls the servers get are class instances (one hidden class, no closures per request): the
 * app's HTTP/1 pool (the HTTP/1 server's and orig-proto's requests), its HTTP/2 pool, an HTTP/1
 * request behind the port's authorization, an HTTP/2 one behind it.
 */
class AppCall extends InboundCall implements HttpCall<Acquired> {
  constructor(
    deps: InboundDeps,
    conn: Conn,
    authority: string,
    head: TapHeadSource,
    private readonly pool: UpstreamPool,
    private readonly dial: Dialer,
  ) {
    super(deps, conn, authority, head);
  }

  open(again: boolean): Acquired | Promise<Acquired> {
    this.start();
    return this.pool.acquire(this.conn.target.addr, this.dial, this.conn, again);
  }
}

class AppH2Call extends InboundCall implements HttpCall<UpstreamSession> {
  constructor(
    deps: InboundDeps,
    conn: Conn,
    authority: string,
    head: TapHeadSource,
    private readonly pool: H2ClientPool,
    private readonly dial: Dialer,
  ) {
    super(deps, conn, authority, head);
  }

  open(): UpstreamSession | Promise<UpstreamSession> {
    this.start();
    const addr = this.conn.target.addr;
    return this.pool.acquire(addr, addr, this.dial, this.conn);
  }
}

class InboundH1Call implements HttpCall<UpstreamLink> {
  constructor(
    private readonly call: AppCall,
    private readonly req: H1Request | undefined,
    private readonly authority: string,
    private readonly authz: HttpAuthz | undefined,
  ) {}

  respond(status: number): void {
    this.call.respond(status);
  }

  open(again: boolean): UpstreamLink | Promise<UpstreamLink> {
    const { authz, req } = this;
    if (authz && req && !again) {
      const refused = authz.check(h1View(req, this.authority), false);
      if (refused) {
        this.call.start();
        throw refused;
      }
    }
    const a = this.call.open(again);
    return a instanceof Promise ? a.then(H1Link.of) : H1Link.of(a);
  }

  end(o: HttpOutcome): void {
    this.call.end(o);
  }
}

class CheckedCall<L> implements HttpCall<L> {
  constructor(
    private readonly call: InboundCall & HttpCall<L>,
    private readonly authz: HttpAuthz,
    private readonly fields: Fields,
    private readonly h2: boolean,
  ) {}

  open(again: boolean): L | Promise<L> {
    if (!again) {
      const grpc = this.h2 && isGrpcContentType(fieldValue(this.fields, 'content-type'));
      const refused = this.authz.check(h2View(this.fields), grpc);
      if (refused) return Promise.reject(refused);
    }
    return this.call.open(again);
  }

  respond(status: number): void {
    this.call.respond(status);
  }

  end(o: HttpOutcome): void {
    this.call.end(o);
  }
}

/** What a route match reads of an HTTP/1 request. */
function h1View(req: H1Request, authority: string): RequestView {
  const t = req.head.target;
  const q = t.indexOf('?');
  let path = q < 0 ? t : t.slice(0, q);
  // absolute-form: the path after the authority.
  if (path.charCodeAt(0) !== 0x2f) {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*(\/.*)?$/.exec(path);
    path = m ? (m[1] ?? '/') : path;
  }
  // Header fields are read only if a route matches on them (the head builds them on first use).
  const head = req.head;
  return {
    method: req.head.method,
    path,
    query: q < 0 ? '' : t.slice(q + 1),
    host: authority.replace(/:\d+$/, ''),
    header: (name) => {
      const { names, values } = head;
      for (let i = 0; i < names.length; i++) if (names[i]!.toLowerCase() === name) return values[i];
      return undefined;
    },
  };
}

/** What a route match reads of an HTTP/2 request. */
function h2View(fields: Fields): RequestView {
  const p = fieldValue(fields, ':path') ?? '/';
  const q = p.indexOf('?');
  return {
    method: fieldValue(fields, ':method') ?? 'GET',
    path: q < 0 ? p : p.slice(0, q),
    query: q < 0 ? '' : p.slice(q + 1),
    host: authorityOf(fields).replace(/:\d+$/, ''),
    header: (name) => fieldValue(fields, name),
  };
}

function info(conn: Conn): ConnInfo {
  return { target: conn.target.addr, log: conn.log };
}
