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

/** One worker side's HTTP/1 server: its live connections, so that a drain reaches them. */
export class Http1Server {
  private readonly live = new Set<ClientConnection>();
  private draining = false;

  constructor(private readonly settings: H1Settings) {}

  /** Serves one client connection until it closes; `prefix` holds the bytes detection read. */
  serve(client: Socket, prefix: Buffer, info: ConnInfo, dispatch: H1Dispatch): Promise<void> {
    return new Promise<void>((resolve) => {
      const conn = new ClientConnection(client, prefix, info, this.settings, dispatch, () => {
        this.live.delete(conn);
        resolve();
      });
      this.live.add(conn);
      conn.start();
      if (this.draining) conn.drain();
    });
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
