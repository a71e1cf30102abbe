/**
 * Per-request balancing for the HTTP handlers: where the next request on a connection goes. For
 * a destination discovery knows, each request picks an endpoint with the Peak-EWMA balancer and
 * is sent on a pooled connection to that endpoint (mTLS when it is meshed); otherwise it goes to
 * the original destination as before. The handler reports the request's outcome and latency back
 * with `done`, which feeds the RTT estimate and failure accrual.
 */
import type { Socket } from 'node:net';
import { ConnectError } from '../tcp/connect';
import type { ConnContext } from '../stack/context';
import type { TlsLabels } from './context';
import { dialMeshed, endpointTls } from './open-endpoint';
import type { LogicalDestination } from './ingress';

export interface HttpUpstream {
  /** Pool key: connections are reused only for the same endpoint and TLS identity. */
  key: string;
  host: string;
  port: number;
  /** `ip:port` of the endpoint (the dst side's target_addr). */
  addr: string;
  tls: TlsLabels;
  /**
   * Opens a new connection when the pool has none; undefined: a plain TCP connect. `alpn`: what
   * the connection's TLS offers (the HTTP/2 pool: `h2`); ignored through opaque transport, whose
   * bytes after the header belong to the app.
   */
  dial?: (alpn?: readonly string[]) => Promise<Socket>;
  /** The balancer's key of the chosen endpoint; undefined for the original destination. */
  pickKey?: string;
  /** The endpoint is meshed (mTLS with an identity): HTTP/1.1 may ride HTTP/2 to it. */
  meshed: boolean;
  /**
   * The request is over: `ok` false for a failure (connect error, 5xx, reset). `sample` false when
   * the attempt says nothing about the endpoint (a stale pooled connection being retried).
   */
  done(ok: boolean, sample?: boolean): void;
}

const noop = () => {};

/**
 * `exclude`: endpoint keys already tried for this request (their connect failed); none of them
 * is chosen again. `logical`: in ingress mode, the destination the request names
 * (proxy/mesh/ingress.ts). Rejects with ConnectError ENOENDPOINTS when nothing is left.
 */
export async function routeRequest(ctx: ConnContext, exclude?: ReadonlySet<string>, logical?: LogicalDestination): Promise<HttpUpstream> {
  const { side, target, mesh } = ctx;
  const original: HttpUpstream = {
    key: `${side.direction} ${target.addr}`,
    host: target.host,
    port: target.port,
    addr: target.addr,
    tls: { tls: 'no_identity', no_tls_reason: side.dstNoTlsReason },
    meshed: false,
    done: noop,
  };
  if (side.direction !== 'outbound' || !mesh?.balancers) return original;
  // Ingress mode: the request's logical destination first; a name discovery does not know falls
  // back to the original destination.
  let route = logical && mesh.ingressMode ? await mesh.balancers.route(logical.host, logical.port) : undefined;
  if (!route || route.kind === 'original') route = await mesh.balancers.route(target.host, target.port);
  if (route.kind === 'original') return original;
  const pick = route.kind === 'balanced' ? route.balancer.pick(exclude) : undefined;
  if (!pick) throw new ConnectError(target.addr, 'ENOENDPOINTS');
  const ep = pick.endpoint;
  const start = performance.now();
  const meshed = ep.identity !== undefined && mesh.tls !== undefined;
  return {
    key: `${side.direction} ${ep.address}${meshed ? ` ${ep.identity}` : ''}`,
    host: ep.ip,
    port: ep.port,
    addr: ep.address,
    tls: endpointTls(ep, meshed),
    dial: meshed ? (alpn?: readonly string[]) => dialMeshed(ep, mesh.tls!, side.connectTimeoutMs, alpn) : undefined,
    pickKey: pick.key,
    // A port its proxy treats as opaque is reached through opaque transport (dialMeshed): the bytes
    // go to the app untouched, so HTTP/1.1 stays HTTP/1.1 there rather than riding HTTP/2.
    meshed: meshed && ep.opaqueTransportPort === undefined,
    done: (ok, sample = true) => pick.done(ok ? 'success' : 'failure', sample ? performance.now() - start : undefined),
  };
}
