/**
 * The outbound side's connection to where a connection should go: the original destination, or
 * an endpoint chosen by the balancer (per connection for opaque TCP) — over mTLS when discovery
 * gave the endpoint an identity, in plain text otherwise. A failed connect is retried on another
 * endpoint (nothing was sent yet, so it is safe), and reported to the balancer's failure accrual.
 */
import type { Socket } from 'node:net';
import type { DiscoveredEndpoint } from '../discovery';
import { connectTarget, ConnectError } from '../tcp/connect';
import { connectMeshed } from '../tls/connect';
import { encodeTransportHeader } from './transport-header';
import type { Pick } from '../balance/peak-ewma';
import type { TlsStore } from '../tls/store';
import type { ConnContext } from '../stack/context';
import type { TlsLabels } from './context';

export interface OpenedEndpoint {
  socket: Socket;
  /** The address dialed: the endpoint's, or the original destination's. */
  addr: string;
  tls: TlsLabels;
}

/** Endpoints tried for one connection before giving up. */
const MAX_ATTEMPTS = 3;

export async function openEndpoint(ctx: ConnContext): Promise<OpenedEndpoint> {
  const { side, target, mesh } = ctx;
  const original = async (): Promise<OpenedEndpoint> => ({
    socket: await connectTarget(target.host, target.port, side.connectTimeoutMs),
    addr: target.addr,
    tls: { tls: 'no_identity', no_tls_reason: side.dstNoTlsReason },
  });
  if (side.direction !== 'outbound' || !mesh?.balancers) return original();
  const route = await mesh.balancers.route(target.host, target.port);
  if (route.kind === 'original') return original();
  if (route.kind === 'no-endpoints') throw new ConnectError(target.addr, 'ENOENDPOINTS');

  const tried = new Set<string>();
  let last: unknown;
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const pick = route.balancer.pick(tried);
    if (!pick) break;
    tried.add(pick.key);
    try {
      const opened = await dial(pick.endpoint, ctx);
      settleOnClose(opened.socket, pick);
      return opened;
    } catch (err) {
      pick.done('failure');
      if (err instanceof ConnectError && err.errno !== 'ETIMEDOUT' && !/^E(CONN|HOST|NET)/.test(err.errno)) {
        mesh.metrics.handshakeErrors.inc({ direction: 'outbound', target_addr: pick.key, errno: err.errno });
      }
      ctx.log.info('endpoint connect failed; trying another', { target: target.addr, endpoint: pick.key, error: (err as Error).message });
      last = err;
    }
  }
  throw last ?? new ConnectError(target.addr, 'ENOENDPOINTS');
}

async function dial(ep: DiscoveredEndpoint, ctx: ConnContext): Promise<OpenedEndpoint> {
  const { side, mesh } = ctx;
  const meshed = ep.identity !== undefined && mesh?.tls !== undefined;
  const socket = meshed ? await dialMeshed(ep, mesh!.tls!, side.connectTimeoutMs) : await connectTarget(ep.ip, ep.port, side.connectTimeoutMs);
  return { socket, addr: ep.address, tls: endpointTls(ep, meshed) };
}

/** The TLS labels of a connection to `ep`: its identity when dialled over mTLS, else why not. */
export function endpointTls(ep: DiscoveredEndpoint, meshed: boolean): TlsLabels {
  if (meshed) return { tls: 'true', server_id: ep.identity! };
  return { tls: 'no_identity', no_tls_reason: ep.identity ? 'local_identity_disabled' : 'not_provided_by_service_discovery' };
}

/**
 * mTLS to a meshed endpoint (its `identity` set). On a port its proxy treats as opaque this is
 * opaque transport (see opaque-transport.ts): mTLS to the peer's inbound port, then a header
 * naming the real port, written before any client byte — and no ALPN, since the bytes after the
 * header are the app's. A dial before the first certificate waits for it, at most `timeoutMs`.
 */
export async function dialMeshed(ep: DiscoveredEndpoint, tls: TlsStore, timeoutMs: number, alpn?: readonly string[]): Promise<Socket> {
  if (!tls.current()) await tls.ready(timeoutMs);
  const otp = ep.opaqueTransportPort;
  const socket = await connectMeshed(ep.ip, otp ?? ep.port, ep.identity!, tls, timeoutMs, otp === undefined ? alpn : undefined);
  if (otp !== undefined) socket.write(encodeTransportHeader({ port: ep.port }));
  return socket;
}

/**
 * The connection's outcome for the balancer: the RTT sample is the time to the endpoint's first
 * byte (for request/response protocols, the first response's latency); a connection that ends in
 * an error before the endpoint said anything counts as a failure. The pick stays pending while
 * the connection is open, so the balancer sees open connections as load.
 */
function settleOnClose(socket: Socket, pick: Pick<DiscoveredEndpoint>): void {
  const start = performance.now();
  let rtt: number | undefined;
  let failed = false;
  socket.once('data', () => {
    rtt = performance.now() - start;
  });
  socket.on('error', () => {
    if (rtt === undefined) failed = true;
  });
  socket.once('close', () => pick.done(failed ? 'failure' : 'success', rtt));
}
