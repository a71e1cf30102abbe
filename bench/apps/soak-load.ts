/**
 * The soak's load: a constant total rate for a long time, mixed the way a sidecar's traffic is
 * (bench/memory.ts SOAK_MIX): HTTP/1.1 over a pool of keep-alive connections, HTTP/1.1 on a new
 * connection per request (`Connection: close`, so accept, protocol detection and connection
 * set-up and teardown run all the time), and gRPC unary calls over a channel that is replaced
 * every 10 s (new HTTP/2 connections too). Open loop: requests are due on schedule whatever the
 * path does, so a path that falls behind shows as requests unanswered at the end (errors), not as
 * a lower rate quietly offered.
 *
 *   node soak-load.js --http1 10.1.2.11:12000 --grpc 10.1.2.11:12002 --rate 2000 --duration 600
 *
 * Prints {ops, seconds, errors, sent, kinds: {h1KeepAlive, h1NewConnection, grpc: {ops, errors}}}.
 */
import * as grpc from '@grpc/grpc-js';
import { connect, type Socket } from 'node:net';
import { ResponseCounter } from '../http1-response';
import { IdleQueue } from '../idle-queue';
import { soakDue } from '../memory';
import { flags, report } from './args';
import { GRPC_SERVICE } from './grpc-def';

const f = flags({ http1: 'string', grpc: 'string', rate: 'string', duration: 'string', connections: 'string' });
const [host, portText] = String(f.http1).split(':') as [string, string];
const rate = Number(f.rate ?? 2000);
const durationS = Number(f.duration ?? 600);
const poolSize = Number(f.connections ?? 16);
/** A call or request not answered within this is an error (the open loop does not wait for ever). */
const DEADLINE_MS = 10_000;
const CHANNEL_LIFETIME_MS = 10_000;

type Kind = 'h1KeepAlive' | 'h1NewConnection' | 'grpc';
const kinds: Record<Kind, { ops: number; errors: number; sent: number }> = {
  h1KeepAlive: { ops: 0, errors: 0, sent: 0 },
  h1NewConnection: { ops: 0, errors: 0, sent: 0 },
  grpc: { ops: 0, errors: 0, sent: 0 },
};
const firstErrors: string[] = [];
const fail = (k: Kind, why: string) => {
  kinds[k].errors++;
  if (firstErrors.length < 5) firstErrors.push(`${k}: ${why}`);
};

// --- HTTP/1.1 keep-alive: a pool used in turn, one request in flight per connection.
const keepAliveRequest = Buffer.from(`GET / HTTP/1.1\r\nHost: ${f.http1}\r\nUser-Agent: linnet-bench-soak\r\n\r\n`);
interface Conn {
  sock: Socket;
  counter: ResponseCounter;
  busy: boolean;
  open: boolean;
}
const idle = new IdleQueue<Conn>();
let backlog = 0; // keep-alive requests due but not yet sent (no idle connection)

function openPooled(): void {
  const sock = connect({ host, port: Number(portText), noDelay: true });
  const c: Conn = { sock, counter: new ResponseCounter(), busy: false, open: true };
  sock.once('connect', () => {
    idle.push(c);
    pump();
  });
  sock.on('data', (d: Buffer) => {
    let n: number;
    try {
      n = c.counter.feed(d);
    } catch (e) {
      fail('h1KeepAlive', (e as Error).message);
      sock.destroy();
      return;
    }
    if (n > 0 && c.busy) {
      const status = c.counter.statuses[c.counter.statuses.length - 1]!;
      if (status >= 400) fail('h1KeepAlive', `status ${status}`);
      else kinds.h1KeepAlive.ops++;
      c.busy = false;
      idle.push(c);
      pump();
    }
  });
  const lost = (why: string) => {
    if (!c.open) return;
    c.open = false;
    if (c.busy) fail('h1KeepAlive', `connection lost with a request in flight (${why})`);
    // Keep the pool's size: a proxy closing kept-alive connections is counted above if it lost a request.
    if (running) openPooled();
  };
  sock.on('error', (e) => lost(e.message));
  sock.on('close', () => lost('closed'));
}

function pump(): void {
  while (backlog > 0 && idle.size) {
    const c = idle.shift()!;
    if (!c.open) continue;
    backlog--;
    c.busy = true;
    kinds.h1KeepAlive.sent++;
    c.sock.write(keepAliveRequest);
  }
}

// --- HTTP/1.1 on a new connection per request.
const closeRequest = Buffer.from(`GET / HTTP/1.1\r\nHost: ${f.http1}\r\nUser-Agent: linnet-bench-soak\r\nConnection: close\r\n\r\n`);
let newInFlight = 0;

function newConnectionRequest(): void {
  kinds.h1NewConnection.sent++;
  newInFlight++;
  const counter = new ResponseCounter();
  let settled = false;
  const sock = connect({ host, port: Number(portText), noDelay: true });
  const settle = (ok: boolean, why = '') => {
    if (settled) return;
    settled = true;
    newInFlight--;
    clearTimeout(timer);
    if (ok) kinds.h1NewConnection.ops++;
    else fail('h1NewConnection', why);
    sock.destroy();
  };
  const timer = setTimeout(() => settle(false, 'no response within the deadline'), DEADLINE_MS);
  sock.once('connect', () => sock.write(closeRequest));
  sock.on('data', (d: Buffer) => {
    try {
      if (counter.feed(d) > 0) {
        const status = counter.statuses[0]!;
        settle(status < 400, `status ${status}`);
      }
    } catch (e) {
      settle(false, (e as Error).message);
    }
  });
  sock.on('error', (e) => settle(false, e.message));
  sock.on('close', () => settle(false, 'closed before the response'));
}

// --- gRPC unary over a channel replaced every CHANNEL_LIFETIME_MS.
const Client = grpc.makeGenericClientConstructor(GRPC_SERVICE, 'Echo');
type EchoClient = { unary(req: Buffer, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void): void; close(): void };
let client = new Client(String(f.grpc), grpc.credentials.createInsecure()) as unknown as EchoClient;
const msg = Buffer.alloc(64, 'm');
let grpcInFlight = 0;

function grpcCall(): void {
  kinds.grpc.sent++;
  grpcInFlight++;
  client.unary(msg, { deadline: Date.now() + DEADLINE_MS }, (err) => {
    grpcInFlight--;
    if (err) fail('grpc', `${err.code} ${err.details}`);
    else kinds.grpc.ops++;
  });
}

function rotateChannel(): void {
  // New calls go to a new channel; the old one is closed once its calls have had their deadline
  // (closing it at once fails a call still waiting for its transport: "Channel closed before call
  // started", the generator's doing, not the path's).
  const old = client;
  client = new Client(String(f.grpc), grpc.credentials.createInsecure()) as unknown as EchoClient;
  setTimeout(() => old.close(), DEADLINE_MS + 1000).unref();
}

// --- The schedule.
let running = true;
const scheduled = { h1KeepAlive: 0, h1NewConnection: 0, grpc: 0 };
const start = performance.now();

function tick(): void {
  const elapsed = (performance.now() - start) / 1000;
  const due = soakDue(Math.min(elapsed, durationS), rate);
  while (scheduled.h1KeepAlive < due.h1KeepAlive) {
    scheduled.h1KeepAlive++;
    backlog++;
  }
  pump();
  while (scheduled.h1NewConnection < due.h1NewConnection) {
    scheduled.h1NewConnection++;
    newConnectionRequest();
  }
  while (scheduled.grpc < due.grpc) {
    scheduled.grpc++;
    grpcCall();
  }
  // A 1 ms timer, not a busy loop: the generator must not take the core from what it measures.
  if (elapsed < durationS) setTimeout(tick, 1);
  else void finish();
}

async function finish(): Promise<void> {
  clearInterval(rotation);
  const giveUp = Date.now() + DEADLINE_MS + 1000;
  const busy = () => backlog > 0 || newInFlight > 0 || grpcInFlight > 0 || kinds.h1KeepAlive.ops + kinds.h1KeepAlive.errors < kinds.h1KeepAlive.sent;
  while (busy() && Date.now() < giveUp) {
    pump();
    await new Promise((r) => setTimeout(r, 10));
  }
  running = false;
  // What never got an answer (or was never sent: the path fell that far behind) is an error.
  const k = kinds.h1KeepAlive;
  const unanswered = scheduled.h1KeepAlive - k.ops - k.errors;
  if (unanswered > 0) {
    k.errors += unanswered;
    firstErrors.push(`h1KeepAlive: ${unanswered} requests unanswered at the end`);
  }
  kinds.h1NewConnection.errors += newInFlight;
  kinds.grpc.errors += grpcInFlight;
  const ops = kinds.h1KeepAlive.ops + kinds.h1NewConnection.ops + kinds.grpc.ops;
  const errors = kinds.h1KeepAlive.errors + kinds.h1NewConnection.errors + kinds.grpc.errors;
  const sent = kinds.h1KeepAlive.sent + kinds.h1NewConnection.sent + kinds.grpc.sent;
  report({ ops, seconds: durationS, errors, sent, rate, kinds, firstErrors });
  process.exit(0);
}

for (let i = 0; i < poolSize; i++) openPooled();
const rotation = setInterval(rotateChannel, CHANNEL_LIFETIME_MS);
tick();
