/**
 * What any Node.js proxy pays before doing anything of its own (a reference for Linnet's CPU and
 * memory targets, not a bench target): a bare `net` server in a child process that answers each
 * HTTP/1.1 request with a fixed response, measured two ways.
 *  - CPU per request at a constant rate: one keep-alive client sends `--rate` requests a second
 *    for `--seconds`; the server's user + system CPU over the requests it answered. Every request
 *    is one read and one write, as each hop of a proxy is at least.
 *  - Memory per idle keep-alive connection: `--connections` clients each send one request, read
 *    the answer and stay open; the server's private memory (smaps_rollup) before and after, over
 *    their number.
 * The server runs with the proxy's Node options (core/proxy-node-options.ts).
 *
 *   node dist/bench/apps/node-floor.js [--rate 1000] [--seconds 5] [--connections 5000]
 *
 * Prints {cpuMicrosPerRequest, userMicros, systemMicros, privateBytesPerConnection, rssBytesPerConnection}.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { PROXY_NODE_OPTIONS } from '../../core/proxy-node-options';
import { flags } from './args';

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
const REQUEST = 'GET / HTTP/1.1\r\nHost: floor\r\n\r\n';

interface Usage {
  user: number;
  system: number;
  privateKiB: number;
  rssKiB: number;
}

if (process.argv[2] === '--serve') {
  // The server: answers every read with one response; reports its usage when asked.
  const server = createServer((s) => {
    s.on('data', () => s.write(RESPONSE));
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => {
    const r = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(r)?.[1] ?? 0);
    const u = process.cpuUsage();
    process.send!({ user: u.user, system: u.system, privateKiB: kib('Private_Clean') + kib('Private_Dirty'), rssKiB: kib('Rss') } satisfies Usage);
  });
} else {
  void main();
}

async function main(): Promise<void> {
  const f = flags({ rate: 'string', seconds: 'string', connections: 'string' });
  const rate = Number(f.rate ?? 1000);
  const seconds = Number(f.seconds ?? 5);
  const n = Number(f.connections ?? 5000);
  const execArgv = PROXY_NODE_OPTIONS.split(' ');
  const server = fork(__filename, ['--serve'], { execArgv });
  const [{ port }] = (await once(server, 'message')) as [{ port: number }];
  const usage = async (): Promise<Usage> => {
    server.send('usage');
    return ((await once(server, 'message')) as [Usage])[0];
  };
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => resolve(c));
      c.once('error', reject);
    });

  // CPU at a constant rate, after a second's warm-up on the same connection.
  const c = await open();
  let answered = 0;
  c.on('data', (d: Buffer) => (answered += Math.max(1, Math.round(d.length / RESPONSE.length))));
  const send = async (ms: number) => {
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < ms) {
      const due = Math.floor(((performance.now() - t0) * rate) / 1000);
      for (; sent < due; sent++) c.write(REQUEST);
      await new Promise((r) => setTimeout(r, 1));
    }
    return sent;
  };
  await send(1000);
  await new Promise((r) => setTimeout(r, 200));
  const a = await usage();
  const before = answered;
  await send(seconds * 1000);
  await new Promise((r) => setTimeout(r, 200));
  const b = await usage();
  const requests = answered - before;
  c.destroy();

  // Memory per idle keep-alive connection: one exchange on each, then held.
  await new Promise((r) => setTimeout(r, 500));
  const m0 = await usage();
  const held: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = await open();
    s.write(REQUEST);
    await once(s, 'data');
    held.push(s);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const m1 = await usage();
  for (const s of held) s.destroy();
  server.kill();

  process.stdout.write(
    `${JSON.stringify({
      rate,
      requests,
      cpuMicrosPerRequest: round((b.user + b.system - a.user - a.system) / requests),
      userMicros: round((b.user - a.user) / requests),
      systemMicros: round((b.system - a.system) / requests),
      connections: n,
      privateBytesPerConnection: Math.round(((m1.privateKiB - m0.privateKiB) * 1024) / n),
      rssBytesPerConnection: Math.round(((m1.rssKiB - m0.rssKiB) * 1024) / n),
    })}\n`,
  );
  process.exit(0);
}

const round = (x: number) => Math.round(x * 10) / 10;

