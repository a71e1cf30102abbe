/**
 * Opens `--connections` HTTP/1.1 keep-alive connections to a proxy, sends one request on each and
 * reads its whole response (so each is a real keep-alive connection the proxy has parsed a request
 * on, not a bare accepted socket), then holds them all idle. The runner reads the proxy's memory
 * meanwhile and drives this over stdin:
 *
 *   {"event":"held","held":N,"failed":0,...}   all connections opened and answered (stdout)
 *   check  →  {"event":"checked","open":N}       how many are still open now
 *   close  →  {"event":"closed"}, exit 0          closes them all
 *
 *   node idle-conns.js --to 10.1.2.11:11000 --connections 10000 [--concurrency 256] [--once]
 *
 * `--once` closes and exits as soon as they are held (a warm-up).
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { ResponseCounter } from '../http1-response';
import { flags, report } from './args';

const f = flags({ to: 'string', connections: 'string', concurrency: 'string', once: 'boolean' });
const [host, portText] = String(f.to).split(':') as [string, string];
const total = Number(f.connections ?? 1000);
const concurrency = Number(f.concurrency ?? 256);
const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${f.to}\r\nUser-Agent: linnet-bench-idle\r\n\r\n`);

const held: Socket[] = [];
let failed = 0;
let closedAfterHeld = 0;
const firstErrors: string[] = [];
const note = (why: string) => {
  failed++;
  if (firstErrors.length < 5) firstErrors.push(why);
};

/** One connection: connect, one request, its full response; resolves once it is idle and held. */
function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect({ host, port: Number(portText), noDelay: true });
    const counter = new ResponseCounter();
    let state: 'opening' | 'held' | 'done' = 'opening';
    const timer = setTimeout(() => end('no response within 30 s'), 30_000);
    const end = (why: string) => {
      clearTimeout(timer);
      if (state === 'opening') note(why);
      else if (state === 'held') closedAfterHeld++;
      state = 'done';
      sock.destroy();
      resolve();
    };
    sock.once('connect', () => sock.write(request));
    sock.on('data', (d: Buffer) => {
      if (state !== 'opening') return end('bytes on an idle connection');
      try {
        if (counter.feed(d) === 0) return;
      } catch (e) {
        return end((e as Error).message);
      }
      const status = counter.statuses[0]!;
      if (status >= 400) return end(`status ${status}`);
      clearTimeout(timer);
      state = 'held';
      held.push(sock);
      resolve();
    });
    sock.on('error', (e) => end(e.message));
    sock.on('close', () => end('closed by the proxy'));
  });
}

function openFileLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : Infinity;
}

async function main(): Promise<void> {
  const limit = openFileLimit();
  if (limit < total + 64) {
    report({ event: 'held', held: 0, failed: total, seconds: 0, firstErrors: [`the client's open-file limit is ${limit}, below ${total} connections + 64: raise ulimit -n`] });
    process.exit(1);
  }
  const started = performance.now();
  let next = 0;
  // At most `concurrency` connections being set up at once: a flood of SYNs beyond the listen
  // backlog would measure the kernel's retry timers, not what an idle connection weighs.
  const worker = async () => {
    while (next < total) {
      next++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const open = () => held.length - closedAfterHeld;
  report({ event: 'held', held: open(), failed, seconds: (performance.now() - started) / 1000, firstErrors });
  const closeAll = () => {
    for (const s of held) s.destroy();
    report({ event: 'closed' });
    process.exit(0);
  };
  if (f.once) return closeAll();
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'check') report({ event: 'checked', open: open(), closedAfterHeld });
    else if (line.trim() === 'close') closeAll();
  });
  rl.on('close', closeAll);
}

void main();
