/**
 * Opaque TCP: a connection's bytes relayed both ways, unread, to wherever the layer above
 * connects it (the app, a balanced endpoint, a peer over mTLS or opaque transport). Bytes read
 * during detection are sent first.
 *
 * Which relay carries them is the caller's to say, because only the stack knows whether TLS is
 * involved: when the client's bytes arrive on a plain TCP socket (not a stream the proxy
 * decrypts) and the upstream was dialled as plain TCP (not mTLS, not opaque transport), the
 * kernel relays them (transport/splice-relay.ts, splice(2) off the event loop); otherwise, or
 * where the kernel relay is not available, the JavaScript relay (transport/relay.ts) does.
 */
import type { Socket } from 'node:net';
import { relay } from '../transport/relay';
import { spliceRelay } from '../transport/splice-relay';
import { errnoOf, type ConnInfo } from './call';
import { resetConnection } from '../transport/reset';

/** Which relay carries an opaque connection: the kernel's (splice) or JavaScript's. */
export type RelayKind = 'splice' | 'userspace';

/** The proxy's connection to where the bytes go. */
export interface OpaqueUpstream {
  socket: Socket;
  /** Dialled as plain TCP: no mTLS to a peer, no opaque transport. */
  plain: boolean;
}

/**
 * `clientPlain`: the client's bytes arrive on the accepted TCP socket itself (no TLS the proxy
 * terminated). Resolves with the relay that carries the connection, or undefined when the target
 * could not be reached (the client is reset) or the client left meanwhile.
 */
export async function forwardOpaque(
  client: Socket,
  clientPlain: boolean,
  initial: Buffer | undefined,
  connect: () => Promise<OpaqueUpstream>,
  info: ConnInfo,
): Promise<RelayKind | undefined> {
  let upstream: OpaqueUpstream;
  try {
    upstream = await connect();
  } catch (err) {
    info.log.info('target refused or unreachable; resetting client', { target: info.target, errno: errnoOf(err) });
    // The client already has a connection to "the target": a reset is the closest we can get
    // to the refusal it would have seen without the proxy.
    resetConnection(client);
    return undefined;
  }
  const server = upstream.socket;
  if (client.destroyed) {
    server.destroy();
    return undefined;
  }
  const opts = { initial: initial && initial.length > 0 ? initial : undefined };
  const kind: RelayKind = clientPlain && upstream.plain && spliceRelay(client, server, opts) ? 'splice' : 'userspace';
  if (kind === 'userspace') relay(client, server, opts);
  info.log.debug('opaque relay', { target: info.target, relay: kind });
  return kind;
}
