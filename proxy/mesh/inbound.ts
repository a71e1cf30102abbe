/**
 * The inbound side's mTLS decision and termination. A ClientHello naming our own identity is a
 * peer proxy: terminate it, learn the client's identity, and run detection again on the clear
 * stream. Any other TLS (the app's own, for another name) passes through untouched. Plaintext is
 * accepted unless the port requires mTLS, so a namespace can be meshed gradually.
 */
import type { Socket } from 'node:net';
import type { PrefixOutcome } from '../stack/read-prefix';
import { terminateMeshed, TlsAcceptError } from '../tls/accept';
import type { MeshContext } from './context';

export type InboundVerdict = 'terminate' | 'refuse' | 'pass';

/** Pure: what to do with an inbound connection given its detection outcome. */
export function inboundVerdict(outcome: PrefixOutcome, port: number, localName: string | undefined, requireTlsPorts: ReadonlySet<number>): InboundVerdict {
  const forUs = localName !== undefined && outcome.kind === 'detected' && outcome.detected.kind === 'tls' && outcome.detected.sni?.toLowerCase() === localName;
  if (forUs) return 'terminate';
  return requireTlsPorts.has(port) ? 'refuse' : 'pass';
}

/** Terminates the peer's mTLS; resolves with the clear stream and the client's identity, or undefined (closed, counted). */
export async function acceptMeshed(
  client: Socket,
  prefix: Buffer,
  mesh: MeshContext,
  targetAddr: string,
  timeoutMs: number,
): Promise<{ socket: Socket; clientId: string } | undefined> {
  try {
    return await terminateMeshed(client, prefix, mesh.tls!, timeoutMs);
  } catch (err) {
    const errno = err instanceof TlsAcceptError ? err.errno : 'EPROTO';
    mesh.metrics.handshakeErrors.inc({ direction: 'inbound', target_addr: targetAddr, errno });
    client.destroy();
    return undefined;
  }
}
