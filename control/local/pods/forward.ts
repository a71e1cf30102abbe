/**
 * A port inside a pod made reachable from the root namespace (where a user's terminal and browser
 * are): socat in the pod bridges a Unix socket to the pod's 127.0.0.1:PORT, and a small TCP server
 * here relays each connection to that socket. `npm start` uses it for the viz service; the tests
 * for the dashboard's browser.
 */
import { existsSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PodError } from './errors';
import type { Pod } from './pod';

export interface Forward {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function forwardFromPod(pod: Pod, podPort: number, listen: { host?: string; port?: number } = {}): Promise<Forward> {
  const sock = join(pod.cluster.logDir, `${pod.name}-fwd-${podPort}.sock`);
  const bridge = pod.spawn('socat', [`UNIX-LISTEN:${sock},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${podPort}`], { name: `fwd-${podPort}` });
  for (let i = 0; i < 150 && !existsSync(sock); i++) await sleep(20);
  if (!existsSync(sock)) throw new PodError('LINNET_POD_COMMAND_FAILED', `socat in pod ${pod.name} did not create ${sock}`, bridge.logTail(10));
  const open = new Set<import('node:net').Socket>();
  const server: Server = createServer((c) => {
    const up = connect({ path: sock });
    open.add(c);
    c.on('close', () => open.delete(c));
    c.pipe(up).pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('error', end);
    up.on('error', end);
  });
  const host = listen.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(listen.port ?? 0, host, () => ok());
  });
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      for (const c of open) c.destroy();
      await closed;
      await bridge.stop(1000);
    },
  };
}
