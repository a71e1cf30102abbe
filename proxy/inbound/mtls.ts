/**
 * The inbound side's mTLS decision and termination. A ClientHello naming our own identity is a
 * peer proxy: terminate it, learn the client's identity, and run detection again on the clear
 * stream. Any other TLS (the app's own, for another name) passes through untouched. Plaintext is
 * accepted unless the port requires mTLS, so a namespace can be meshed gradually.
 */
import type { Socket } from 'node:net';
import type { PrefixOutcome } from '../accept/read-prefix';
import { terminateMeshed, TlsAcceptError } from '../transport/tls/accept';
import type { MeshMetrics } from '../metrics/mesh-metrics';
import type { TlsStore } from '../transport/tls/store';

export type InboundVerdict = 'terminate' | 'refuse' | 'pass';

/** Pure: what to do with an inbound connection given its detection outcome. */
export function inboundVerdict(outcome: PrefixOutcome, port: number, localName: string | undefined, requireTlsPorts: ReadonlySet<number>): InboundVerdict {
  const forUs = localName !== undefined && outcome.kind === 'detected' && outcome.detected.kind === 'tls' && outcome.detected.sni?.toLowerCase() === localName;
  if (forUs) return 'terminate';
  return requireTlsPorts.has(port) ? 'refuse' : 'pass';
}

/** ALPN protocols the inbound accepts on a terminated peer connection (only `h2`: see acceptedAlpn). */
const INBOUND_ALPN = ['h2'];

/**
 * Pure: what to accept by ALPN given the ClientHello's offer. A peer proxy's HTTP/2 pool offers
 * `h2`; agreeing on it lets the HTTP/2 session read the TLS socket itself, with no second
 * detection. Only protocols the client offered are returned (none: ALPN is left unset, which
 * ignores any offer instead of failing the handshake), so peers that offer nothing or something
 * else are served exactly as before.
 */
export function acceptedAlpn(offered: readonly string[]): string[] | undefined {
  const both = INBOUND_ALPN.filter((p) => offered.includes(p));
  return both.length > 0 ? both : undefined;
}

/**
 * Terminates the peer's mTLS; resolves with the clear stream, the client's identity and the ALPN
 * protocol agreed on, or undefined (closed, counted). `offeredAlpn`: the ClientHello's ALPN list,
 * when the caller dispatches on the agreed protocol (opaque transport does not, and agrees none).
 */
export async function acceptMeshed(
  client: Socket,
  prefix: Buffer,
  tls: TlsStore,
  metrics: MeshMetrics,
  targetAddr: string,
  timeoutMs: number,
  offeredAlpn: readonly string[] = [],
): Promise<{ socket: Socket; clientId: string; alpn: string | false } | undefined> {
  try {
    return await terminateMeshed(client, prefix, tls, timeoutMs, acceptedAlpn(offeredAlpn));
  } catch (err) {
    const errno = err instanceof TlsAcceptError ? err.errno : 'EPROTO';
    metrics.handshakeErrors.inc({ direction: 'inbound', target_addr: targetAddr, errno });
    client.destroy();
    return undefined;
  }
}
