/**
 * The HTTP/1.1 server of one worker side: it serves each client connection it is handed
 * (client-connection.ts: requests one at a time, each an Exchange) and keeps the live ones, so
 * that a drain reaches them.
 */
import type { Socket } from 'node:net';
import type { ConnInfo } from '../call';
import { ClientConnection } from './client-connection';
import type { H1Dispatch } from './exchange';
import type { H1Settings } from './settings';

export type { H1Dispatch, H1Request } from './exchange';
export type { H1Settings } from './settings';

const SERVED = Promise.resolve();

/** One worker side's HTTP/1 server: its live connections, so that a drain reaches them. */
export class Http1Server {
  private readonly live = new Set<ClientConnection>();
  private draining = false;

  constructor(private readonly settings: H1Settings) {}

  /**
   * Serves one client connection; `prefix` holds the bytes detection read. Resolves at once: the
   * connection is served from then on, and a promise chain held open for its life would cost an
   * idle keep-alive connection a few hundred bytes.
   */
  serve(client: Socket, prefix: Buffer, info: ConnInfo, dispatch: H1Dispatch): Promise<void> {
    const conn = new ClientConnection(client, prefix, info, this.settings, dispatch, this);
    this.live.add(conn);
    conn.start();
    if (this.draining) conn.drain();
    return SERVED;
  }

  /** A connection closed (ClientConnection calls this once). */
  closed(conn: ClientConnection): void {
    this.live.delete(conn);
  }

  /**
   * Shutdown: idle keep-alive client connections close now, busy ones after their current
   * response (sent with `connection: close`).
   */
  drain(): void {
    this.draining = true;
    for (const c of this.live) c.drain();
  }
}
