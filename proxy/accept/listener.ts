/**
 * A worker's listener on one side: an SO_REUSEPORT socket from the native addon (so that every
 * worker accepts on the same port and the kernel spreads connections), the connection cap applied
 * before any work is spent, then each admitted connection handed on.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/log';
import type { SocketAddr } from '../../core/parse';
import { listenReusePort } from '../transport/native';
import type { LimitGuard } from './limit-guard';

export function listen(addr: SocketAddr, backlog: number, guard: LimitGuard, onConnection: (socket: Socket) => void, log: Logger): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket: Socket) => {
    if (guard.admit(socket)) onConnection(socket);
  });
  return new Promise((resolve, reject) => {
    // Node calls listen(2) again with its own backlog, 511 unless given as the second argument
    // (a `backlog` option is ignored with `fd`): pass the same one. A flood of connections must
    // wait in this queue, not lose SYNs while the worker is busy.
    const fd = listenReusePort(addr.host, addr.port, addr.family, backlog);
    server.once('error', reject);
    server.listen({ fd }, backlog, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error('listener error', { error: err.message }));
      resolve(server);
    });
  });
}
