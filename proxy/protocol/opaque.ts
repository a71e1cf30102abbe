/**
 * Opaque TCP: a connection's bytes relayed both ways, unread, to wherever the layer above
 * connects it (the app, a balanced endpoint, a peer over mTLS or opaque transport). Bytes read
 * during detection are sent first.
 */
import type { Socket } from 'node:net';
import { relay } from '../transport/relay';
import { errnoOf, type ConnInfo } from './call';

export async function forwardOpaque(client: Socket, initial: Buffer | undefined, connect: () => Promise<Socket>, info: ConnInfo): Promise<void> {
  let server: Socket;
  try {
    server = await connect();
  } catch (err) {
    info.log.info('target refused or unreachable; resetting client', { target: info.target, errno: errnoOf(err) });
    // The client already has a connection to "the target": a reset is the closest we can get
    // to the refusal it would have seen without the proxy.
    client.resetAndDestroy();
    return;
  }
  if (client.destroyed) {
    server.destroy();
    return;
  }
  relay(client, server, { initial: initial && initial.length > 0 ? initial : undefined });
}
