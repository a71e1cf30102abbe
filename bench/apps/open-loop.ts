/**
 * Constant-rate (open-loop) HTTP/1.1 load, corrected for coordinated omission: request i is due
 * at start + i/rate whatever the server does, and its latency is measured from that intended
 * time, not from when a connection became free to send it. So a stall shows as the latency every
 * waiting request really saw (what wrk2 does). Latencies go into an HdrHistogram (µs, 3 digits).
 * Requests go to the idle connections in turn, so every connection carries traffic (idle-queue.ts);
 * `--warmup S` runs the schedule S seconds before counting, on the same connections.
 *
 *   node open-loop.js --to 10.1.2.11:11000 --rate 1000 --duration 5 --warmup 1 --connections 64
 *
 * Prints {ops, seconds, errors, sent, p50, p90, p99, p99.9, max} (latencies in ms).
 */
import * as hdr from 'hdr-histogram-js';
import { connect, type Socket } from 'node:net';
import { dueCount, ResponseCounter } from '../http1-response';
import { IdleQueue } from '../idle-queue';
import { flags, report } from './args';

const f = flags({ to: 'string', path: 'string', rate: 'string', duration: 'string', warmup: 'string', connections: 'string' });
const [host, portText] = String(f.to).split(':') as [string, string];
const rate = Number(f.rate ?? 1000);
const durationS = Number(f.duration ?? 5);
const warmupS = Number(f.warmup ?? 0);
const nConn = Number(f.connections ?? 64);
const request = Buffer.from(`GET ${f.path ?? '/'} HTTP/1.1\r\nHost: ${f.to}\r\nUser-Agent: linnet-bench\r\n\r\n`);
const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

const now = () => Number(process.hrtime.bigint());
const pending: number[] = []; // intended send times (ns) not yet sent
let pendingHead = 0;
let errors = 0;
let recorded = 0;
let sent = 0;
let startNs = 0;
let measureFromNs = 0;
let endNs = 0;
let outstanding = 0;

interface Conn {
  sock: Socket;
  counter: ResponseCounter;
  inflight: number | undefined; // intended time of the request on the wire
  open: boolean;
}
// Used in turn, so that every connection carries traffic (see idle-queue.ts for why it matters).
const idle = new IdleQueue<Conn>();

function record(intended: number, t: number): void {
  if (intended < measureFromNs) return; // warm-up: sent, answered, not counted
  hist.recordValue(Math.max(1, Math.round((t - intended) / 1000)));
  recorded++;
}

function dispatch(): void {
  while (idle.size && pendingHead < pending.length) {
    const c = idle.shift()!;
    if (!c.open) continue;
    c.inflight = pending[pendingHead++]!;
    sent++;
    c.sock.write(request);
  }
  if (pendingHead > 4096) {
    pending.splice(0, pendingHead);
    pendingHead = 0;
  }
}

function openConn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port: Number(portText), noDelay: true });
    const c: Conn = { sock, counter: new ResponseCounter(), inflight: undefined, open: true };
    sock.once('connect', () => {
      idle.push(c);
      resolve();
    });
    sock.on('data', (d: Buffer) => {
      let n: number;
      try {
        n = c.counter.feed(d);
      } catch {
        errors++;
        sock.destroy();
        return;
      }
      if (n > 0 && c.inflight !== undefined) {
        const status = c.counter.statuses[c.counter.statuses.length - 1]!;
        if (status >= 400) errors++;
        else record(c.inflight, now());
        c.inflight = undefined;
        outstanding--;
        idle.push(c);
        dispatch();
      }
    });
    const lost = () => {
      if (!c.open) return;
      c.open = false;
      if (c.inflight !== undefined) {
        errors++;
        outstanding--;
      }
      // Replace a lost connection so the pool keeps its size (counted: a proxy closing kept-alive
      // connections under load is something to see).
      if (Date.now() < endWall) openConn().catch(() => errors++);
    };
    sock.on('error', (e) => {
      if (!c.inflight && !sock.connecting) return lost();
      reject(e);
      lost();
    });
    sock.on('close', lost);
  });
}

let endWall = Infinity;
let scheduled = 0;

function tick(): void {
  const t = now();
  const due = Math.min(dueCount(startNs, t, rate), Math.floor((durationS + warmupS) * rate));
  const interval = 1e9 / rate;
  while (scheduled < due) {
    pending.push(startNs + scheduled * interval);
    scheduled++;
    outstanding++;
  }
  dispatch();
  // A 1 ms timer, not a busy loop: the generator must not eat the core the backend shares. A
  // request sent up to ~1 ms after its intended time has that delay counted in its latency (as
  // coordinated-omission correction requires); it is the same for every target, so the latency
  // added over direct is unaffected.
  if (t < endNs) setTimeout(tick, 1);
  else finish();
}

async function finish(): Promise<void> {
  // Wait for the answers still due (they are part of the measurement), but not for ever.
  const giveUp = Date.now() + 10_000;
  while ((outstanding > 0 || pendingHead < pending.length) && Date.now() < giveUp) {
    dispatch();
    await new Promise((r) => setTimeout(r, 5));
  }
  const unanswered = outstanding;
  const p = (q: number) => hist.getValueAtPercentile(q) / 1000;
  report({ ops: recorded, seconds: durationS, errors: errors + unanswered, sent, rate, p50: p(50), p90: p(90), p99: p(99), 'p99.9': p(99.9), max: hist.maxValue / 1000 });
  process.exit(0);
}

(async () => {
  try {
    await Promise.all(Array.from({ length: nConn }, openConn));
  } catch (e) {
    report({ ops: 0, seconds: 0, errors: 1, error: (e as Error).message });
    process.exit(1);
  }
  startNs = now();
  measureFromNs = startNs + warmupS * 1e9;
  endNs = startNs + (warmupS + durationS) * 1e9;
  endWall = Date.now() + (warmupS + durationS) * 1000;
  tick();
})();
