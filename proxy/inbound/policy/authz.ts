/**
 * Inbound authorization, where the inbound stack asks it: once per connection for opaque, TLS and
 * undetected traffic, once per request for HTTP (the route match runs per request; the route's
 * decision is cached on the connection until the port's policy changes, so an allowed keep-alive
 * connection pays a map lookup beyond the match). Denials are answered by the servers (403,
 * gRPC PERMISSION_DENIED, 404 route not found) through an HttpProxyError the call rejects with,
 * counted with Linkerd's metric names, and logged at most once a second per client and reason.
 * Opaque connections a policy change no longer allows are closed at once.
 */
import type { Logger } from '../../../core/log';
import { decideConnection, defaultRoute, isAudit, matchRoute, authorize, type Authz, type Client, type InboundRoute, type RequestView } from '../../../core/policy/model';
import { parseIp } from '../../../core/policy/net';
import type { Conn } from '../../accept/context';
import type { AuthzMetrics } from '../../metrics/authz-metrics';
import { srvLabelsOf, type SrvLabels } from '../../metrics/labels';
import type { TcpLabeler } from '../../metrics/tcp-metrics';
import { HttpProxyError } from '../../protocol/errors';
import type { InboundPolicies, PortPolicy } from './client';
import { RateLimiter } from './rate-limit';
import { merged } from '../../../core/merged';

/** At most one log line per client and reason per second, and a bounded memory of who was logged. */
class DenyLog {
  private readonly last = new Map<string, number>();
  constructor(private readonly log: Logger) {}
  note(key: string, message: string, fields: Record<string, string | number | boolean | undefined>): void {
    const now = Date.now();
    const t = this.last.get(key);
    if (t !== undefined && now - t < 1000) return;
    if (this.last.size > 4096) this.last.clear();
    this.last.set(key, now);
    this.log.info(message, fields);
  }
}

function clientOf(conn: Conn): Client {
  return { ip: conn.clientAddr ? parseIp(conn.clientAddr) : undefined, identity: conn.srcTls.tls === 'true' ? conn.srcTls.client_id : undefined };
}

/** The port of an `ip:port` or `[ip]:port` target address. */
function portOf(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

function tlsLabels(conn: Conn): { tls: string; client_id?: string } {
  return conn.srcTls.tls === 'true' ? { tls: 'true', client_id: conn.srcTls.client_id } : { tls: 'no_identity' };
}

export class Authorizer {
  private readonly denies: DenyLog;
  /** Open opaque connections per port, re-checked when that port's policy changes. */
  private readonly opaque = new Map<number, Map<Conn, () => void>>();
  private readonly limits = new Map<number, { version: number; limiter: RateLimiter | undefined }>();
  private readonly srv = new Map<number, { version: number; labels: SrvLabels }>();

  constructor(
    readonly policies: InboundPolicies,
    private readonly metrics: AuthzMetrics,
    private readonly log: Logger,
  ) {
    this.denies = new DenyLog(log);
    policies.onChange((port) => this.recheckOpaque(port));
  }

  policy(port: number): PortPolicy {
    return this.policies.get(port);
  }

  /** The srv_* labels of a port's current policy, built once per policy version. */
  srvLabels(port: number): SrvLabels {
    const p = this.policies.get(port);
    let s = this.srv.get(port);
    if (!s || s.version !== p.version) {
      s = { version: p.version, labels: srvLabelsOf(p.policy.server.kind, p.policy.server.name) };
      this.srv.set(port, s);
    }
    return s.labels;
  }

  /** Labels every TCP side with the Server of its target port (the inbound stack's view of the TCP metrics). */
  readonly tcpLabeler: TcpLabeler = (labels) => merged(labels, { srv: this.srvLabels(portOf(labels.target_addr)) });

  /**
   * A connection served as bytes (opaque, TLS passthrough, undetected): allowed or not, counted.
   * `close` ends it should a later policy stop allowing it.
   */
  connection(conn: Conn, close: () => void): boolean {
    const { policy } = this.policies.get(conn.target.port);
    const c = clientOf(conn);
    const d = decideConnection(policy, c);
    const srv = { target_addr: conn.target.addr, srv_kind: policy.server.kind, srv_name: policy.server.name };
    const tls = tlsLabels(conn);
    if (!d.allowed) {
      this.metrics.tcpDeny.inc(merged(srv, tls));
      this.denies.note(`tcp ${conn.clientAddr} ${tls.client_id ?? ''} ${conn.target.addr}`, 'connection denied by inbound policy', { target: conn.target.addr, client: conn.clientAddr, client_id: tls.client_id, server: `${policy.server.kind}/${policy.server.name}` });
      return false;
    }
    this.metrics.tcpAllow.inc(merged(srv, { authz_kind: d.authz.kind, authz_name: d.authz.name, ...tls }));
    if (d.audit) this.denies.note(`audit tcp ${conn.clientAddr} ${tls.client_id ?? ''}`, 'audit: connection allowed that the policy would deny', { target: conn.target.addr, client: conn.clientAddr, client_id: tls.client_id });
    let open = this.opaque.get(conn.target.port);
    if (!open) this.opaque.set(conn.target.port, (open = new Map()));
    open.set(conn, close);
    return true;
  }

  /** The connection ended: forget it. */
  connectionClosed(conn: Conn): void {
    this.opaque.get(conn.target.port)?.delete(conn);
  }

  private recheckOpaque(port: number): void {
    const open = this.opaque.get(port);
    if (!open || open.size === 0) return;
    const { policy } = this.policies.get(port);
    for (const [conn, close] of [...open]) {
      if (decideConnection(policy, clientOf(conn)).allowed) continue;
      open.delete(conn);
      this.metrics.tcpTerminate.inc({ target_addr: conn.target.addr, srv_kind: policy.server.kind, srv_name: policy.server.name, ...tlsLabels(conn) });
      this.log.info('policy changed: closing a connection it no longer allows', { target: conn.target.addr, client: conn.clientAddr });
      try {
        close();
      } catch (err) {
        this.log.warn('closing a connection the policy no longer allows failed', { error: (err as Error).message });
      }
    }
  }

  /** The per-connection authorizer for HTTP requests. */
  http(conn: Conn): HttpAuthz {
    return new HttpAuthz(this, conn);
  }

  /** @internal */ limiter(port: number, p: PortPolicy): RateLimiter | undefined {
    let l = this.limits.get(port);
    if (!l || l.version !== p.version) {
      const rl = p.policy.rateLimit;
      // A new policy with the same limits keeps its buckets, so an edit elsewhere resets nobody.
      const keep = l?.limiter && rl && l.limiter.sameAs(rl) ? l.limiter : undefined;
      l = { version: p.version, limiter: keep ?? (rl ? new RateLimiter(rl) : undefined) };
      this.limits.set(port, l);
    }
    return l.limiter;
  }

  /**
   * Counts a request's decision; returns the bound counter so the connection's cache counts the
   * next request on the same route without building labels again.
   */
  /** @internal */ countHttp(conn: Conn, p: PortPolicy, route: InboundRoute | undefined, authz: Authz | undefined): () => void {
    const { policy } = p;
    const srv = { target_addr: conn.target.addr, srv_kind: policy.server.kind, srv_name: policy.server.name };
    if (!route) {
      this.metrics.routeNotFound.inc(srv);
      return () => {};
    }
    const tls = tlsLabels(conn);
    const r = merged(srv, { route_kind: route.kind, route_name: route.name });
    const count = authz ? this.metrics.httpAllow.bind(merged(r, { authz_kind: authz.kind, authz_name: authz.name, ...tls })) : this.metrics.httpDeny.bind(merged(r, tls));
    count();
    this.noteHttp(conn, p, route, authz);
    return count;
  }

  /** @internal */ noteHttp(conn: Conn, p: PortPolicy, route: InboundRoute, authz: Authz | undefined): void {
    const tls = tlsLabels(conn);
    if (authz) {
      if (isAudit(authz)) this.denies.note(`audit http ${conn.clientAddr} ${tls.client_id ?? ''} ${route.name}`, 'audit: request allowed that the policy would deny', { target: conn.target.addr, client: conn.clientAddr, client_id: tls.client_id, route: route.name });
    } else {
      this.denies.note(`http ${conn.clientAddr} ${tls.client_id ?? ''} ${route.name}`, 'request denied by inbound policy', { target: conn.target.addr, client: conn.clientAddr, client_id: tls.client_id, server: `${p.policy.server.kind}/${p.policy.server.name}`, route: route.name });
    }
  }

  /** @internal */ countLimited(conn: Conn, p: PortPolicy, scope: string): void {
    this.metrics.rateLimited.inc({ target_addr: conn.target.addr, srv_kind: p.policy.server.kind, srv_name: p.policy.server.name, ratelimit_name: p.policy.rateLimit?.name ?? '', scope, ...tlsLabels(conn) });
  }
}

/** One connection's HTTP authorization, with its decisions cached per route and policy version. */
export class HttpAuthz {
  private version = -1;
  /** Per route of the current policy: its decision for this client and its bound counter. */
  private readonly cache = new Map<InboundRoute, { authz: Authz | null; count: () => void }>();
  private readonly client: Client;

  constructor(
    private readonly parent: Authorizer,
    private readonly conn: Conn,
  ) {
    this.client = clientOf(conn);
  }

  private connRoute: { version: number; routes: InboundRoute[] } | undefined;
  private connectionRoute(p: PortPolicy): InboundRoute[] {
    if (this.connRoute?.version !== p.version) this.connRoute = { version: p.version, routes: [defaultRoute(p.policy.authorizations)] };
    return this.connRoute.routes;
  }

  /** Undefined: the request may go on; else the answer to give it. */
  check(r: RequestView, grpc: boolean): HttpProxyError | undefined {
    const p = this.parent.policy(this.conn.target.port);
    if (p.version !== this.version) {
      this.version = p.version;
      this.cache.clear();
    }
    // HTTP on a port whose Server says opaque or TLS (a peer proxy that did not know and upgraded
    // it): the Server's connection authorizations decide, as if it were one route.
    const routes = p.policy.routes.length === 0 && (p.policy.protocol === 'opaque' || p.policy.protocol === 'tls') ? this.connectionRoute(p) : p.policy.routes;
    const route = matchRoute(routes, grpc, r);
    if (!route) {
      this.parent.countHttp(this.conn, p, undefined, undefined);
      return new HttpProxyError('routeNotFound', `${r.method} ${r.path}`);
    }
    let hit = this.cache.get(route);
    if (hit === undefined) {
      const authz = authorize(route.authorizations, this.client) ?? null;
      hit = { authz, count: this.parent.countHttp(this.conn, p, route, authz ?? undefined) };
      this.cache.set(route, hit);
    } else {
      hit.count();
      if (!hit.authz || isAudit(hit.authz)) this.parent.noteHttp(this.conn, p, route, hit.authz ?? undefined);
    }
    const authz = hit.authz;
    if (!authz) return new HttpProxyError('forbidden', `${route.kind === 'default' ? 'server' : 'route'} ${route.name}`);
    const limiter = p.policy.rateLimit ? this.parent.limiter(this.conn.target.port, p) : undefined;
    if (limiter) {
      const refused = limiter.admit(this.client.identity, Date.now());
      if (refused) {
        this.parent.countLimited(this.conn, p, refused.scope);
        const e = new HttpProxyError('rateLimited', `${refused.scope} limit of ${refused.rps} requests per second`);
        e.headers = [['retry-after', String(Math.max(1, Math.ceil(refused.retryAfterMs / 1000)))]];
        return e;
      }
    }
    return undefined;
  }
}
