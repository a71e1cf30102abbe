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
  if (ep.identity && mesh?.tls) {
    // Handshakes before the first certificate wait for it (start-up races), at most a connect timeout.
    if (!mesh.tls.current()) await mesh.tls.ready(side.connectTimeoutMs);
    // An opaque port of a meshed endpoint: opaque transport (see opaque-transport.ts) — mTLS to
    // the peer's inbound port, then a header naming the real port, written before any client byte.
    const otp = ep.opaqueTransportPort;
    const socket = await connectMeshed(ep.ip, otp ?? ep.port, ep.identity, mesh.tls, side.connectTimeoutMs);
    if (otp !== undefined) socket.write(encodeTransportHeader({ port: ep.port }));
    return { socket, addr: ep.address, tls: { tls: 'true', server_id: ep.identity } };
  }
  const socket = await connectTarget(ep.ip, ep.port, side.connectTimeoutMs);
  const reason = ep.identity ? 'local_identity_disabled' : 'not_provided_by_service_discovery';
  return { socket, addr: ep.address, tls: { tls: 'no_identity', no_tls_reason: reason } };
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
