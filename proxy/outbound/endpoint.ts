/**
 * The outbound call path, the one for every protocol: route (the request's logical destination in
 * ingress mode, else the original destination) → balance (Peak-EWMA over discovery's endpoints) →
 * endpoint → dial (TCP, mTLS to a meshed endpoint, opaque transport). A connect that fails before
 * anything was sent is retried on another endpoint, here and nowhere else, and reported to the
 * balancer's failure accrual; each failed connect is counted with the address it tried.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../core/log';
import type { Conn } from '../accept/context';
import { dstLabelsOf, type DstLabels } from '../metrics/dst-labels';
import { noTls, type TlsLabels } from '../metrics/labels';
import type { MeshMetrics } from '../metrics/mesh-metrics';
import type { TcpMetrics } from '../metrics/tcp-metrics';
import { ConnectError } from '../transport/connect';
import { dial } from '../transport/dial';
import { kernelFirstRead } from '../transport/splice-relay';
import type { TlsStore } from '../transport/tls/store';
import type { OutboundBalancers, OutboundRoute } from './balancers';
import type { DiscoveredEndpoint } from './discovery';
import type { LogicalDestination } from './ingress';
import type { AccrualOptions, Pick } from './peak-ewma';

/** A route's backend: its Service's authority, balanced on its own, and the Service's failure accrual. */
export interface RouteBackend {
  dest: LogicalDestination;
  accrual?: AccrualOptions;
}

/** Endpoints tried for one connection or request whose connects fail. */
export const MAX_CONNECT_ATTEMPTS = 3;

/** The worker's outbound services, handed down by the runtime. */
export interface OutboundServices {
  /** Discovery's balancers; undefined: everything goes to its original destination. */
  balancers: OutboundBalancers | undefined;
  /** This proxy's certificates; undefined: no identity, every dial is plain. */
  tls: TlsStore | undefined;
  /** Ingress mode: HTTP is routed by the destination a request names. */
  ingressMode: boolean;
  tcp: TcpMetrics;
  mesh: MeshMetrics;
  log: Logger;
}

/** Where one attempt goes: an endpoint the balancer picked, or the original destination. */
export interface Endpoint {
  /** Pool key: connections are shared only for the same endpoint and TLS identity. */
  key: string;
  /** `ip:port` (the dst side's target_addr). */
  addr: string;
  ip: string;
  port: number;
  tls: TlsLabels;
  /** Discovery's labels of the endpoint (`pod`, `service`, ...; none for the original destination). */
  labels: Readonly<Record<string, string>>;
  /** The same as dst_* metric labels, built once per endpoint. */
  dstLabels: DstLabels | undefined;
  /** Picked by the balancer (the original destination is never retried elsewhere). */
  balanced: boolean;
  /**
   * The same object for every attempt on this endpoint with the same labels (address, TLS,
   * dst_*): metrics find its series by it (HttpMetrics.startAt). Absent: labels built each time.
   */
  site?: object;
  /** Meshed and not behind opaque transport: HTTP/1.1 may ride HTTP/2 to it (orig-proto). */
  meshed: boolean;
  /**
   * Opens a connection to it, counted in the TCP metrics (peer="dst"). `alpn`: TLS offer.
   * `directRead`: for a pool, whose connections' owners take their bytes directly (transport/direct-read.ts).
   */
  dial(alpn?: readonly string[], directRead?: boolean): Promise<Socket>;
  /**
   * A request to it is over: `ok` false for a failure (connect error, 5xx, reset). `sample`
   * false when the attempt says nothing about the endpoint's latency.
   */
  done(ok: boolean, sample?: boolean): void;
  /** A connection to it closed (opaque TCP): the outcome, and its time to first byte. */
  settle(ok: boolean, rttMs: number | undefined): void;
}

const noop = () => {};

/** The endpoint an attempt went to, and what `open` made of it. */
export interface Opened<T> {
  endpoint: Endpoint;
  value: T;
}

/**
 * Routes, picks and opens with `open` (which dials, or takes a pooled connection); on a
 * ConnectError another endpoint is tried, up to MAX_CONNECT_ATTEMPTS. Rejects with the last
 * ConnectError, or ENOENDPOINTS when the destination has none.
 *
 * At once, not a promise, when discovery has answered and `open` had a connection at hand: the
 * common case of a request on a pooled connection then takes no async frame and no turn of the
 * microtask queue. Only a connect that may have to be retried runs as an async loop.
 */
export function callEndpoint<T, S>(
  svc: OutboundServices,
  conn: Conn,
  logical: LogicalDestination | undefined,
  open: Open<T, S>,
  self: S,
  backend?: RouteBackend,
): Opened<T> | Promise<Opened<T>> {
  const route = routeOf(svc, conn, logical, backend);
  if (route instanceof Promise) return route.then((r) => tryEndpoints(svc, conn, r, open, self));
  return tryEndpoints(svc, conn, route, open, self);
}

/** Opens an endpoint for `self` (a function and its object rather than a closure per request). */
export type Open<T, S> = (self: S, ep: Endpoint) => T | Promise<T>;

/**
 * A route's backend Service, or in ingress mode the request's logical destination, first; a name
 * discovery does not know falls back to the original destination. The balancers answer at once
 * once discovery has: a promise only while it has not.
 */
function routeOf(svc: OutboundServices, conn: Conn, logical: LogicalDestination | undefined, backend: RouteBackend | undefined): OutboundRoute | undefined | Promise<OutboundRoute | undefined> {
  const balancers = svc.balancers;
  if (!balancers) return undefined;
  const { target } = conn;
  const dest = backend?.dest ?? (svc.ingressMode ? logical : undefined);
  if (!dest) return balancers.route(target.host, target.port, target.addr);
  const afterDest = (route: OutboundRoute): OutboundRoute | Promise<OutboundRoute> => {
    if (route.kind === 'balanced' && backend?.accrual) route.balancer.configure(backend.accrual, backend.accrual, true);
    return route.kind === 'original' ? balancers.route(target.host, target.port, target.addr) : route;
  };
  const r = balancers.route(dest.host, dest.port);
  return r instanceof Promise ? r.then(afterDest) : afterDest(r);
}

function tryEndpoints<T, S>(svc: OutboundServices, conn: Conn, route: OutboundRoute | undefined, open: Open<T, S>, self: S): Opened<T> | Promise<Opened<T>> {
  if (!route || route.kind === 'original') {
    const ep = originalEndpoint(svc, conn);
    const v = openOn(ep, open, self);
    if (!(v instanceof Promise)) return { endpoint: ep, value: v };
    return v.then(
      (value) => ({ endpoint: ep, value }),
      (err: unknown) => {
        if (err instanceof ConnectError) countConnectError(svc, conn, ep.addr, err.errno);
        throw err;
      },
    );
  }
  if (route.kind === 'balanced') {
    const pick = route.balancer.pick(undefined);
    if (pick) {
      const ep = new BalancedEndpoint(svc, conn, pick);
      const v = openOn(ep, open, self);
      if (!(v instanceof Promise)) return { endpoint: ep, value: v };
      return balancedAttempts(svc, conn, route, open, self, { ep, pick, pending: v });
    }
  }
  countConnectError(svc, conn, conn.target.addr, 'ENOENDPOINTS');
  return Promise.reject(new ConnectError(conn.target.addr, 'ENOENDPOINTS'));
}

/** `open(ep)`, with a synchronous throw turned into a rejection (one way for failures to come). */
function openOn<T, S>(ep: Endpoint, open: Open<T, S>, self: S): T | Promise<T> {
  try {
    return open(self, ep);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The balanced endpoints tried in turn while connects fail, from a first attempt already under way. */
async function balancedAttempts<T, S>(
  svc: OutboundServices,
  conn: Conn,
  route: Extract<OutboundRoute, { kind: 'balanced' }>,
  open: Open<T, S>,
  self: S,
  first: { ep: BalancedEndpoint; pick: Pick<DiscoveredEndpoint>; pending: Promise<T> },
): Promise<Opened<T>> {
  const { target } = conn;
  // The endpoints whose connect failed; made only when one does.
  let failed: Set<string> | undefined;
  let last: unknown;
  for (let attempt = 0; attempt < MAX_CONNECT_ATTEMPTS; attempt++) {
    let ep = first.ep;
    let pick = first.pick;
    let pending = first.pending;
    if (attempt > 0) {
      const next = route.balancer.pick(failed);
      if (!next) break;
      pick = next;
      ep = new BalancedEndpoint(svc, conn, pick);
      pending = Promise.resolve(openOn(ep, open, self));
    }
    try {
      return { endpoint: ep, value: await pending };
    } catch (err) {
      (failed ??= new Set()).add(pick.key);
      // The endpoint failed before anything was sent: counted against it, and another tried.
      ep.done(false, false);
      if (!(err instanceof ConnectError)) throw err;
      countConnectError(svc, conn, ep.addr, err.errno);
      if (err.errno !== 'ETIMEDOUT' && !/^E(CONN|HOST|NET)/.test(err.errno)) {
        svc.mesh.handshakeErrors.inc({ direction: conn.side.direction, target_addr: pick.key, errno: err.errno });
      }
      svc.log.info('endpoint connect failed; trying another', { target: target.addr, endpoint: pick.key, errno: err.errno });
      last = err;
    }
  }
  if (last !== undefined) throw last;
  countConnectError(svc, conn, target.addr, 'ENOENDPOINTS');
  throw new ConnectError(target.addr, 'ENOENDPOINTS');
}

/**
 * Sends again to the endpoint a request was just on (an HTTP/2 stream it refused: the request was
 * not processed, and the endpoint is likely fine); undefined when that endpoint no longer takes
 * connections (a replica going away sent GOAWAY, then closed its listener): that failed connect
 * is counted like any other, and the caller balances anew.
 */
export async function callSameEndpoint<T, S>(svc: OutboundServices, conn: Conn, ep: Endpoint, open: Open<T, S>, self: S): Promise<Opened<T> | undefined> {
  try {
    return { endpoint: ep, value: await open(self, ep) };
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    ep.done(false, false);
    countConnectError(svc, conn, ep.addr, err.errno);
    svc.log.info('endpoint connect failed; balancing anew', { target: conn.target.addr, endpoint: ep.addr, errno: err.errno });
    return undefined;
  }
}

function countConnectError(svc: OutboundServices, conn: Conn, addr: string, errno: string): void {
  svc.tcp.connectErrors.inc({ direction: conn.side.direction, target_addr: addr, errno });
}

function tracked(svc: OutboundServices, conn: Conn, addr: string, tls: TlsLabels, socket: Socket, dst?: DstLabels): Socket {
  svc.tcp.track({ direction: conn.side.direction, peer: 'dst', target_addr: addr, ...tls, ...(dst ? { dst } : {}) }, socket);
  return socket;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
/** dst_* sets by endpoint: discovery replaces an endpoint's object when its labels change. */
const dstCache = new WeakMap<DiscoveredEndpoint, DstLabels | null>();

function dstOf(ep: DiscoveredEndpoint): DstLabels | undefined {
  let d = dstCache.get(ep);
  if (d === undefined) dstCache.set(ep, (d = dstLabelsOf(ep.labels) ?? null));
  return d ?? undefined;
}

function originalEndpoint(svc: OutboundServices, conn: Conn): Endpoint {
  const { side, target } = conn;
  const tls = noTls(side.dstNoTlsReason);
  return {
    key: target.addr,
    addr: target.addr,
    ip: target.host,
    port: target.port,
    tls,
    labels: NO_LABELS,
    dstLabels: undefined,
    balanced: false,
    meshed: false,
    dial: async (_alpn, directRead) => tracked(svc, conn, target.addr, tls, await dial(target, side.connectTimeoutMs, undefined, undefined, directRead)),
    done: noop,
    settle: noop,
  };
}

/** The TLS labels of a connection to `ep`: its identity when dialled over mTLS, else why not. */
export function endpointTls(ep: DiscoveredEndpoint, meshed: boolean): TlsLabels {
  if (meshed) return { tls: 'true', server_id: ep.identity! };
  return noTls(ep.identity ? 'local_identity_disabled' : 'not_provided_by_service_discovery');
}

/** What an endpoint's attempts share, made once per discovered endpoint (and TLS or not). */
interface EndpointBase {
  key: string;
  tls: TlsLabels;
  target: { host: string; port: number; identity?: string; opaqueTransportPort?: number };
  dst: DstLabels | undefined;
  /** Dialled over mTLS. */
  mtls: boolean;
  /** HTTP/1.1 may ride HTTP/2 to it. */
  meshed: boolean;
}

const bases = new WeakMap<DiscoveredEndpoint, { plain?: EndpointBase; mtls?: EndpointBase }>();

function baseOf(ep: DiscoveredEndpoint, mtls: boolean): EndpointBase {
  let b = bases.get(ep);
  if (!b) bases.set(ep, (b = {}));
  const have = mtls ? b.mtls : b.plain;
  if (have) return have;
  const made: EndpointBase = {
    key: `${ep.address}${mtls ? ` ${ep.identity}` : ''}`,
    tls: endpointTls(ep, mtls),
    target: mtls ? { host: ep.ip, port: ep.port, identity: ep.identity, opaqueTransportPort: ep.opaqueTransportPort } : { host: ep.ip, port: ep.port },
    dst: dstOf(ep),
    mtls,
    // A port its proxy treats as opaque is reached through opaque transport: the bytes go to the
    // app untouched, so HTTP/1.1 stays HTTP/1.1 there rather than riding HTTP/2.
    meshed: mtls && ep.opaqueTransportPort === undefined,
  };
  if (mtls) b.mtls = made;
  else b.plain = made;
  return made;
}

/** One attempt on a balanced endpoint: its pick, and what its endpoint shares with every attempt. */
class BalancedEndpoint implements Endpoint {
  readonly key: string;
  readonly addr: string;
  readonly ip: string;
  readonly port: number;
  readonly tls: TlsLabels;
  readonly labels: Readonly<Record<string, string>>;
  readonly dstLabels: DstLabels | undefined;
  readonly balanced = true;
  readonly meshed: boolean;
  readonly site: object;
  private readonly base: EndpointBase;
  private readonly start = performance.now();

  constructor(
    private readonly svc: OutboundServices,
    private readonly conn: Conn,
    private readonly pick: Pick<DiscoveredEndpoint>,
  ) {
    const ep = pick.endpoint;
    const b = (this.base = baseOf(ep, ep.identity !== undefined && svc.tls !== undefined));
    this.key = b.key;
    this.addr = ep.address;
    this.ip = ep.ip;
    this.port = ep.port;
    this.tls = b.tls;
    this.labels = ep.labels;
    this.dstLabels = b.dst;
    this.meshed = b.meshed;
    this.site = b;
  }

  async dial(alpn?: readonly string[], directRead?: boolean): Promise<Socket> {
    const b = this.base;
    return tracked(this.svc, this.conn, this.addr, b.tls, await dial(b.target, this.conn.side.connectTimeoutMs, b.mtls ? this.svc.tls : undefined, alpn, directRead), b.dst);
  }

  done(ok: boolean, sample = true): void {
    this.pick.done(ok ? 'success' : 'failure', sample ? performance.now() - this.start : undefined);
  }

  settle(ok: boolean, rttMs: number | undefined): void {
    this.pick.done(ok ? 'success' : 'failure', rttMs);
  }
}

/** For a pick held by an open connection: its outcome once the connection closes (opaque TCP). */
export function settleOnClose(socket: Socket, ep: Endpoint): void {
  // The RTT sample is the time to the endpoint's first byte (for request/response protocols, the
  // first response's latency); a connection that ends in an error before the endpoint said
  // anything counts as a failure. The pick stays pending while the connection is open, so the
  // balancer sees open connections as load.
  const start = performance.now();
  let rtt: number | undefined;
  let failed = false;
  socket.once('data', () => {
    rtt = performance.now() - start;
  });
  socket.on('error', () => {
    if (rtt === undefined && kernelFirstRead(socket) === undefined) failed = true;
  });
  socket.once('close', () => {
    // A socket the kernel relay carried emits no 'data': its first byte's time comes from the relay.
    if (rtt === undefined) {
      const first = kernelFirstRead(socket);
      if (first !== undefined) rtt = Math.max(0, first - start);
    }
    ep.settle(!failed, rtt);
  });
}
