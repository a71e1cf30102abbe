/**
 * Closed-loop WebSocket load: `--connections` sockets, each sending one message and waiting for
 * its echo before the next, for `--duration` seconds. Prints {ops, seconds, errors}.
 */
import WebSocket from 'ws';
import { flags, report } from './args';

const f = flags({ url: 'string', connections: 'string', duration: 'string', size: 'string' });
const n = Number(f.connections ?? 16);
const durationMs = Number(f.duration ?? 3) * 1000;
const msg = Buffer.alloc(Number(f.size ?? 64), 'w');
let ops = 0;
let errors = 0;
let running = true;
const sockets: WebSocket[] = [];

async function open(): Promise<WebSocket> {
  const ws = new WebSocket(String(f.url), { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', () => errors++);
  ws.on('message', () => {
    ops++;
    if (running) ws.send(msg);
  });
  return ws;
}

(async () => {
  try {
    sockets.push(...(await Promise.all(Array.from({ length: n }, open))));
  } catch (err) {
    report({ ops: 0, seconds: 0, errors: 1, error: (err as Error).message });
    process.exit(1);
  }
  const start = performance.now();
  for (const ws of sockets) ws.send(msg);
  await new Promise((r) => setTimeout(r, durationMs));
  running = false;
  report({ ops, seconds: (performance.now() - start) / 1000, errors });
  for (const ws of sockets) ws.terminate();
  process.exit(0);
})();
