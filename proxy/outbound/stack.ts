/**
 * The outbound side, layer by layer: a connection the app made (redirected to 4140) is detected
 * unless its port or its destination is opaque, then served by its protocol; each HTTP request or
 * opaque connection goes through the one call path (endpoint.ts: route → balance → endpoint →
 * dial, retry on another endpoint). HTTP/1.1 to a meshed endpoint rides the pooled HTTP/2 session
 * to it (orig-proto). Request metrics are recorded here, at the call, once per request.
 */
import type { Socket } from 'node:net';
import type { Conn, Side } from '../accept/context';
import type { Stack } from '../accept/connection';
import type { Detected } from '../accept/detect/detect';
import { readPrefix } from '../accept/read-prefix';
import { Dispatch } from '../accept/serve';
import type { HttpLabels, HttpMetrics } from '../metrics/http-metrics';
import { noTls, type TlsLabels } from '../metrics/labels';
import type { TapHub, TapRecorder } from '../tap/hub';
import { tapHeadOf, type TapHeadSource } from '../tap/heads';
import { errnoOf, type ConnInfo, type HttpCall, type HttpOutcome } from '../protocol/call';
import { requestAuthority } from '../protocol/h1/forward-head';
import { H1Link, type UpstreamLink } from '../protocol/h1/link';
import type { RequestHead } from '../protocol/h1/parse-head';
import type { H1Request, H1Settings } from '../protocol/h1/server';
import type { UpstreamSession } from '../protocol/h2/client-pool';
import { authorityOf, fieldValue } from '../protocol/h2/headers';
import type { Fields } from '../protocol/h2/semantics';
import { HttpSide } from '../protocol/http-side';
import type { H2Settings } from '../protocol/h2/settings';
import { proxyStream } from '../protocol/h2/stream-proxy';
import { forwardOpaque } from '../protocol/opaque';
import { H2Link } from '../protocol/orig-proto/client';
import { canUpgradeToH2 } from '../protocol/orig-proto/convert';
import type { RequestView } from '../../core/policy/model';
import { callEndpoint, callSameEndpoint, settleOnClose, type Endpoint, type Opened, type OutboundServices, type RouteBackend } from './endpoint';
import { routeRequest, type RoutedRequest, type RouteServices } from './route/route-call';
import { DST_OVERRIDE, logicalDestination, type LogicalDestination } from './ingress';
import { merged } from '../../core/merged';

export interface OutboundSettings {
  side: Side;
  http1: H1Settings;
  http2: H2Settings;
  /** `orig-proto`: HTTP/1.1 to a meshed endpoint rides the pooled HTTP/2 session; `http1`: it does not. */
  meshedHttp1?: 'orig-proto' | 'http1';
}

export interface OutboundDeps extends OutboundServices {
  http: HttpMetrics;
  /** The lane's taps; absent: tap is off in this proxy. */
  tap?: TapHub;
  /** Outbound routes (a policy service is configured); undefined: no route layer. */
  routes?: RouteServices;
}

/** The HTTP/2 pool offers ALPN h2: a peer's inbound that agrees runs the session on its TLS socket. */
const H2_ALPN: readonly string[] = ['h2'];
const EMPTY = Buffer.alloc(0);
const OPAQUE_PORT: Detected = Object.freeze({ kind: 'opaque', reason: 'undecided', detail: 'opaque port' });
/** Declared by appProtocol; the request line is the HTTP/1 server's to read. */
const DECLARED_HTTP1: Detected = Object.freeze({ kind: 'http1', method: '', target: '', version: '1.1' });
const DECLARED_H2: Detected = Object.freeze({ kind: 'h2' });

export class Outbound implements Stack {
  readonly side: Side;
  readonly acceptsDirect = false;
  private readonly dispatch: Dispatch;
  /** The HTTP servers and pools of this side. */
  private readonly http: HttpSide;
  private readonly origProto: boolean;

  constructor(
    settings: OutboundSettings,
    private readonly deps: OutboundDeps,
  ) {
    this.side = settings.side;
    this.origProto = (settings.meshedHttp1 ?? 'orig-proto') === 'orig-proto';
    this.http = new HttpSide(settings.http1, settings.http2, deps.log);
    const streamOptions = { responseTimeoutMs: settings.http1.responseTimeoutMs };
    this.dispatch = new Dispatch(
      {
        http1: (client, prefix, _d, conn) => this.http.h1.serve(client, prefix, info(conn), (req) => this.h1Call(conn, req)),
        h2: (client, prefix, _d, conn) => {
          const ci = info(conn);
          return this.http.h2.serve(client, prefix, ci, (stream, fields, endStream, neverIndexed) =>
            proxyStream(stream, fields, endStream, neverIndexed, this.h2Call(conn, fields), streamOptions, ci),
          );
        },
        // TLS the proxy does not terminate (the app's own) passes through as bytes.
        tls: (client, prefix, _d, conn) => this.forward(client, prefix, conn),
        opaque: (client, prefix, _d, conn) => this.forward(client, prefix, conn),
      },
      deps.tcp,
    );
  }

  async accept(client: Socket, conn: Conn): Promise<void> {
    const { side, target } = conn;
    conn.clientAddr = client.remoteAddress;
    conn.clientPort = client.remotePort;
    if (side.opaquePorts.has(target.port)) return this.dispatch.serve(client, EMPTY, OPAQUE_PORT, conn);
    // A destination discovery marks opaque (every endpoint's port) is not detected either.
    if (this.deps.balancers) {
      const route = await this.deps.balancers.route(target.host, target.port);
      if (route.kind === 'balanced' && route.opaque) return this.dispatch.serve(client, EMPTY, OPAQUE_PORT, conn);
      // A port that declares HTTP (its Service's appProtocol) is served as such, not detected:
      // a client that waits for the server, or sends its request slowly, is never taken for opaque.
      if (route.kind === 'balanced' && route.protocol) return this.dispatch.serve(client, EMPTY, route.protocol === 'h2' ? DECLARED_H2 : DECLARED_HTTP1, conn);
    }
    const prefix = await readPrefix(client, side.detectTimeoutMs);
    return this.dispatch.serveDetected(client, prefix, conn);
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

  /** Shutdown: no new requests on kept-alive connections, GOAWAY to HTTP/2 clients, idle upstreams closed. */
  drain(): void {
    this.http.drain();
  }

  /**
   * Opaque TCP: a balanced endpoint per connection (mTLS when meshed), or the original destination.
   * The app's connection is always plain TCP here (outbound never terminates TLS; the app's own
   * TLS is bytes to us), so the kernel relays it unless the endpoint is dialled over mTLS.
   */
  private async forward(client: Socket, prefix: Buffer, conn: Conn): Promise<void> {
    const kind = await forwardOpaque(
      client,
      true,
      prefix,
      async () => {
        try {
          const { endpoint, value: socket } = await callEndpoint(this.deps, conn, undefined, dialOpaque, undefined);
          conn.open.track(socket);
          settleOnClose(socket, endpoint);
          // tls "true" exactly when the dial was mTLS (a meshed endpoint, opaque transport or not).
          return { socket, plain: endpoint.tls.tls !== 'true' };
        } catch (err) {
          // The client is reset for it: its side closes with the connect's errno.
          conn.src?.failed(errnoOf(err));
          throw err;
        }
      },
      info(conn),
    );
    if (kind) this.deps.tcp.relays.inc({ direction: conn.side.direction, relay: kind });
  }

  /**
   * One HTTP/1 request: a pooled HTTP/1 connection to its endpoint, or a stream on the pooled
   * HTTP/2 session to a meshed endpoint. Metrics start once the request is routed, so that they
   * name the endpoint and its TLS; a request that fails before that is counted with the original
   * destination.
   */
  private h1Call(conn: Conn, req: H1Request | undefined): HttpCall<UpstreamLink> {
    const authority = req ? requestAuthority(req.head) : '';
    const upgradable = this.origProto && req !== undefined && canUpgradeToH2(req.head, req.tunnel);
    const logical = req && this.deps.ingressMode ? h1Destination(req.head) : undefined;
    const routing = req && !req.tunnel ? this.routing(conn, logical, false, () => h1View(req.head, authority)) : undefined;
    return new H1OutboundCall(this.deps, conn, authority, routing, this.http, req, logical, upgradable);
  }

  /** One HTTP/2 stream: a stream on the pooled session to its endpoint. */
  private h2Call(conn: Conn, fields: Fields): HttpCall<UpstreamSession> {
    const authority = authorityOf(fields);
    const logical = this.deps.ingressMode ? logicalDestination(fieldValue(fields, DST_OVERRIDE), authority) : undefined;
    const grpc = (fieldValue(fields, 'content-type') ?? '').startsWith('application/grpc');
    return new H2OutboundCall(this.deps, conn, authority, this.routing(conn, logical, grpc, () => h2View(fields)), this.http, fields, logical);
  }

  /** The route layer's view of a request's target, when routes are on. */
  private routing(conn: Conn, logical: LogicalDestination | undefined, grpc: boolean, view: () => RequestView): Routing | undefined {
    const routes = this.deps.routes;
    if (!routes) return undefined;
    return logical
      ? { svc: routes, key: `${logical.host}:${logical.port}`, kind: 'authority', grpc, view }
      : { svc: routes, key: conn.target.addr, kind: 'addr', grpc, view };
  }
}

/**
 * As linkerd2-proxy: outbound requests carry the endpoint's TLS (server_id when meshed) and its
 * discovery labels as dst_*. A function made once: HttpMetrics.startAt calls it with the call.
 */
function outboundLabels(call: OutboundCall<unknown>): HttpLabels {
  const ep = call.labelsEp;
  const side = call.conn.side;
  return {
    direction: side.direction,
    authority: call.authority,
    target_addr: ep?.addr ?? call.conn.target.addr,
    ...(ep?.tls ?? noTls(side.dstNoTlsReason)),
    ...(ep && ep.dstLabels ? { dst: ep.dstLabels } : {}),
  };
}

/**
 * One request's way through the call path: the endpoint it was sent to, its metrics, and the
 * balancer told how it went. The one place an outbound request's events pass. It is the request's
 * HttpCall itself (a subclass per protocol says how an endpoint is opened): no wrapper object and
 * no closures per request. (A wrapper object literal with a `get policy()` accessor cost a hidden
 * class per request, which V8 keeps in old space; its getter's closure then held the whole request
 * (head, read buffer, call) through every young-generation collection until the next full one:
 * about 10% of all that the proxy allocated was promoted, a full collection ran every 0.6 s under
 * load, and the heap grew 20 MB between them.)
 */
abstract class OutboundCall<L> implements HttpCall<L> {
  endpoint: Endpoint | undefined;
  /** The request's route (filters, retries, timeouts), once the first open has routed it. */
  policy: RoutedRequest | undefined;
  private routed = false;
  /** The attempt's `again` (kept for openChosen, which the call path calls with the call alone). */
  private again = false;
  private finish: ((o: HttpOutcome) => void) | undefined;
  private tapped: TapRecorder | undefined;
  /** The endpoint the metrics' labels are for (outboundLabels). */
  labelsEp: Endpoint | undefined;

  constructor(
    protected readonly deps: OutboundDeps,
    readonly conn: Conn,
    readonly authority: string,
    private readonly head: TapHeadSource,
    private readonly routing: Routing | undefined,
    protected readonly logical: LogicalDestination | undefined,
  ) {}

  abstract open(again: boolean): L | Promise<L>;

  /**
   * Opens an attempt: the first routes the request (route → backend by weight), every one is
   * balanced over its backend's endpoints. `again`: an earlier attempt failed before the request
   * was processed (stale connection, refused stream) or was answered with something the route
   * retries. `sameFirst`: an HTTP/2 stream the endpoint refused goes to that endpoint first.
   */
  protected attempt(again: boolean, sameFirst: boolean): L | Promise<L> {
    if (!this.routed) {
      this.routed = true;
      const r = this.routing;
      if (r) {
        // Synchronous once the target's policy is known: no extra turn of the microtask queue.
        const routed = routeRequest(r.svc, r.key, r.kind, r.grpc, r.view(), 'http');
        if (routed instanceof Promise) {
          return routed.then((p) => {
            this.policy = p;
            return this.attemptRouted(again, sameFirst);
          });
        }
        this.policy = routed;
      }
    }
    return this.attemptRouted(again, sameFirst);
  }

  private attemptRouted(again: boolean, sameFirst: boolean): L | Promise<L> {
    const p = this.policy;
    const answeredBadly = p?.lastAttemptFailed ?? false;
    if (p) p.lastAttemptFailed = false;
    p?.attempt();
    const backend = p ? { dest: p.dest, ...(p.accrual ? { accrual: p.accrual } : {}) } : undefined;
    this.again = again;
    if (again && sameFirst && !answeredBadly && this.endpoint) return this.attemptSame(backend);
    return this.balanced(answeredBadly, backend);
  }

  /** An HTTP/2 stream the endpoint refused: that endpoint first, then balanced anew if it takes no connection. */
  private async attemptSame(backend: RouteBackend | undefined): Promise<L> {
    const same = await callSameEndpoint(this.deps, this.conn, this.endpoint!, OutboundCall.openChosen, this);
    if (same) return same.value;
    return this.balanced(false, backend);
  }

  private balanced(answeredBadly: boolean, backend: RouteBackend | undefined): L | Promise<L> {
    // Sent again: re-balanced. A stale connection said nothing about the endpoint; an answer the
    // route retried (a 5xx, a timed-out attempt) counts against it.
    this.endpoint?.done(!answeredBadly, false);
    this.endpoint = undefined;
    const r = callEndpoint(this.deps, this.conn, this.logical, OutboundCall.openChosen, this, backend);
    if (r instanceof Promise) return r.then((o) => this.opened(o));
    return this.opened(r);
  }

  private opened(o: Opened<L>): L {
    this.endpoint = o.endpoint;
    this.start(o.endpoint);
    return o.value;
  }

  private static openChosen<L>(self: OutboundCall<L>, ep: Endpoint): L | Promise<L> {
    // The original destination is never retried elsewhere: its metrics start now, connect included.
    if (!ep.balanced) self.start(ep);
    return self.openOn(ep, self.again);
  }

  /** Opens `ep` for this request: a pooled connection or session, or a new one. */
  protected abstract openOn(ep: Endpoint, again: boolean): L | Promise<L>;

  end(o: HttpOutcome): void {
    // Feed the balancer: a 5xx, a reset or a proxy failure counts against the endpoint.
    this.endpoint?.done(!o.error && o.status > 0 && o.status < 500);
    this.endpoint = undefined;
    this.policy?.end(o, this.routing?.grpc ?? false);
    this.start(undefined)(o);
    this.tapped?.end(o);
  }

  respond(status: number): void {
    this.tapped?.respond(status);
  }

  private start(ep: Endpoint | undefined): (o: HttpOutcome) => void {
    if (this.finish) return this.finish;
    this.labelsEp = ep;
    this.finish = ep?.site ? this.deps.http.startAt(ep.site, this.authority, outboundLabels, this) : this.deps.http.start(outboundLabels(this));
    // Tap sits beside the metrics: one boolean read while no tap is open.
    const tap = this.deps.tap;
    if (tap?.active) {
      const { side, target } = this.conn;
      const h = tapHeadOf(this.head);
      const { src, dst } = tapTls(ep?.tls ?? noTls(side.dstNoTlsReason));
      this.tapped = tap.request({
        direction: side.direction,
        sourceIp: this.conn.clientAddr ?? '',
        sourcePort: this.conn.clientPort ?? 0,
        destinationIp: ep?.ip ?? target.host,
        destinationPort: ep?.port ?? target.port,
        sourceLabels: src,
        destinationLabels: merged(ep?.labels ?? {}, dst),
        routeLabels: {},
        method: h.method,
        scheme: h.scheme,
        authority: this.authority,
        path: h.path,
        target: h.target,
      });
    }
    return this.finish;
  }
}

/** An HTTP/1 request: a pooled HTTP/1 connection, or a stream on the pooled HTTP/2 session to a meshed endpoint (orig-proto). */
class H1OutboundCall extends OutboundCall<UpstreamLink> {
  constructor(
    deps: OutboundDeps,
    conn: Conn,
    authority: string,
    routing: Routing | undefined,
    private readonly http: HttpSide,
    private readonly req: H1Request | undefined,
    logical: LogicalDestination | undefined,
    private readonly upgradable: boolean,
  ) {
    super(deps, conn, authority, req?.head, routing, logical);
  }

  open(again: boolean): UpstreamLink | Promise<UpstreamLink> {
    return this.attempt(again, false);
  }

  protected openOn(ep: Endpoint, again: boolean): UpstreamLink | Promise<UpstreamLink> {
    if (ep.meshed && this.upgradable) {
      const lease = this.http.h2Pool.acquire(ep.key, ep.addr, dialH2, ep);
      return lease instanceof Promise ? lease.then((l) => this.h2Link(l, ep)) : this.h2Link(lease, ep);
    }
    const a = this.http.h1Pool.acquire(ep.key, dialH1, ep, again);
    return a instanceof Promise ? a.then(H1Link.of) : H1Link.of(a);
  }

  private h2Link(lease: UpstreamSession, ep: Endpoint): UpstreamLink {
    const req = this.req!;
    const head = this.policy?.editHead ? this.policy.editHead(req.head) : req.head;
    return new H2Link(lease, head, req.framing, ep.addr);
  }
}

/** An HTTP/2 stream: a stream on the pooled session to its endpoint. */
class H2OutboundCall extends OutboundCall<UpstreamSession> {
  constructor(
    deps: OutboundDeps,
    conn: Conn,
    authority: string,
    routing: Routing | undefined,
    private readonly http: HttpSide,
    fields: Fields,
    logical: LogicalDestination | undefined,
  ) {
    super(deps, conn, authority, fields, routing, logical);
  }

  open(again: boolean): UpstreamSession | Promise<UpstreamSession> {
    // A refused stream goes again to the same endpoint first (endpoint.ts, callSameEndpoint).
    return this.attempt(again, true);
  }

  protected openOn(ep: Endpoint): UpstreamSession | Promise<UpstreamSession> {
    return this.http.h2Pool.acquire(ep.key, ep.addr, dialH2, ep);
  }
}

/** Dialers the pools and the call path take with their argument (no closure per request). */
const dialH1 = (ep: Endpoint): Promise<Socket> => ep.dial(undefined, true);
const dialH2 = (ep: Endpoint): Promise<Socket> => ep.dial(H2_ALPN, true);
const dialOpaque = (_: unknown, ep: Endpoint): Promise<Socket> => ep.dial();

/** An outbound request's TLS as tap's labels: the endpoint's (server_id) on the destination side. */
function tapTls(tls: TlsLabels): { src: Record<string, string>; dst: Record<string, string> } {
  const dst: Record<string, string> = { tls: tls.tls };
  if (tls.tls === 'true') {
    if (tls.server_id) dst.server_id = tls.server_id;
  } else dst.no_tls_reason = tls.no_tls_reason;
  return { src: { tls: 'no_identity', no_tls_reason: 'loopback' }, dst };
}

/** Where the route layer looks a request's target up, and how it reads the request. */
interface Routing {
  svc: RouteServices;
  key: string;
  kind: 'addr' | 'authority';
  grpc: boolean;
  view: () => RequestView;
}

function splitTarget(target: string): { path: string; query: string } {
  // Absolute-form (a proxy request): the path starts after the authority.
  let t = target;
  if (!t.startsWith('/')) {
    const s = t.indexOf('://');
    const slash = s < 0 ? -1 : t.indexOf('/', s + 3);
    t = slash < 0 ? '/' : t.slice(slash);
  }
  const q = t.indexOf('?');
  return q < 0 ? { path: t, query: '' } : { path: t.slice(0, q), query: t.slice(q + 1) };
}

const hostOf = (authority: string) => authority.replace(/:\d+$/, '').toLowerCase();

function h1View(head: RequestHead, authority: string): RequestView {
  const { path, query } = splitTarget(head.target);
  let byName: Map<string, string> | undefined;
  return {
    method: head.method,
    path,
    query,
    host: hostOf(authority),
    // Lower-cased once per request, on the first lookup (a route table asks many times).
    header: (name) => {
      if (!byName) {
        byName = new Map();
        for (let i = head.names.length - 1; i >= 0; i--) byName.set(head.names[i]!.toLowerCase(), head.values[i]!);
      }
      return byName.get(name);
    },
  };
}

function h2View(fields: Fields): RequestView {
  const { path, query } = splitTarget(fieldValue(fields, ':path') ?? '/');
  return { method: fieldValue(fields, ':method') ?? 'GET', path, query, host: hostOf(authorityOf(fields)), header: (name) => fieldValue(fields, name) };
}

function info(conn: Conn): ConnInfo {
  return { target: conn.target.addr, log: conn.log };
}


/** Ingress mode: the destination an HTTP/1 request names (l5d-dst-override, else its authority). */
function h1Destination(head: RequestHead): LogicalDestination | undefined {
  let override: string | undefined;
  for (let i = 0; i < head.names.length; i++) {
    if (head.names[i]!.toLowerCase() === DST_OVERRIDE) {
      override = head.values[i];
      break;
    }
  }
  return logicalDestination(override, requestAuthority(head));
}
