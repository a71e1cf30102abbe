/**
 * Constant-rate load for long pod proofs (the certificate rotation's ten minutes): each kind sends
 * at a fixed rate on a 10 ms tick, whether or not earlier answers came back (open loop), over
 * connections opened once and kept, so that a connection the proxies lose shows as such instead of
 * being quietly replaced.
 *
 *   node rate-app.js http  --to HOST:PORT --rate 500 --seconds 600 [--connections 4]
 *       (the connections are opened first, one uncounted request each, then used in turn)
 *   node rate-app.js redis --to HOST:PORT --rate 500 --seconds 600      (one connection, SET then GET)
 *   node rate-app.js grpc  --to HOST:PORT --rate 500 --seconds 600      (one bidirectional stream)
 *
 * Progress: {"event":"progress", kind, sent, ok, errors} every --progress-ms; at the end one
 * {"event":"summary", kind, sent, ok, errors, errorCodes, connections, p99Ms, maxMs}. `connections`
 * is how many connections carried the load (http: distinct sockets; redis and grpc: 1 unless the
 * one was lost, which also counts as errors for everything unanswered).
 */
import * as grpc from '@grpc/grpc-js';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { ECHO_SERVICE } from './grpc-app';

const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

interface Tally {
  sent: number;
  ok: number;
  errors: number;
  errorCodes: Record<string, number>;
  latencies: number[];
  connections: number;
}

const tally = (): Tally => ({ sent: 0, ok: 0, errors: 0, errorCodes: {}, latencies: [], connections: 0 });
const fail = (t: Tally, code: string) => {
  t.errors++;
  t.errorCodes[code] = (t.errorCodes[code] ?? 0) + 1;
};

/** Calls `send` `rate` times a second for `seconds`, then resolves once `settled()` or 10 s on. */
async function paced(rate: number, seconds: number, send: () => void, settled: () => boolean): Promise<void> {
  const t0 = Date.now();
  let due = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Date.now() - t0;
      const target = Math.min(rate * seconds, Math.floor((elapsed * rate) / 1000));
      while (due < target) {
        due++;
        send();
      }
      if (elapsed >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  const end = Date.now() + 10_000;
  while (!settled() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

function split(to: string): { host: string; port: number } {
  const i = to.lastIndexOf(':');
  return { host: to.slice(0, i), port: Number(to.slice(i + 1)) };
}

async function http(to: string, rate: number, seconds: number, connections: number, t: Tally): Promise<void> {
  const { host, port } = split(to);
  // fifo: requests take the sockets in turn, so none sits idle long enough to be closed for it.
  const agent = new Agent({ keepAlive: true, maxSockets: connections, scheduling: 'fifo' });
  const sockets = new Set<unknown>();
  let answered = 0;
  const send = () => {
    t.sent++;
    const start = performance.now();
    const req = request({ host, port, path: `/rate/${t.sent}`, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => {
        answered++;
        if (res.statusCode === 200) {
          t.ok++;
          t.latencies.push(performance.now() - start);
        } else fail(t, String(res.statusCode));
      });
    });
    req.on('socket', (s) => sockets.add(s));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      answered++;
      fail(t, e.code ?? 'EIO');
    });
    req.end();
  };
  // Every connection opened up front (one request each, not counted), so that the load spreads
  // over all of them from the start rather than over as many as a burst happened to need.
  await Promise.all(
    Array.from({ length: connections }, () => new Promise<void>((resolve) => {
      const req = request({ host, port, path: '/rate/warm-up', agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('socket', (s) => sockets.add(s));
      req.on('error', (e: NodeJS.ErrnoException) => {
        fail(t, `warm-up ${e.code ?? 'EIO'}`);
        resolve();
      });
      req.end();
    })),
  );
  await paced(rate, seconds, send, () => answered === t.sent);
  t.connections = sockets.size;
  agent.destroy();
}

/** RESP replies as they come: simple strings, errors and bulk strings (what SET and GET answer). */
function* replies(buf: { data: Buffer<ArrayBufferLike> }): Generator<string | Error | null> {
  for (;;) {
    const d = buf.data;
    const nl = d.indexOf('\r\n');
    if (nl < 0) return;
    const head = d.toString('latin1', 0, nl);
    if (head[0] === '+' || head[0] === '-') {
      buf.data = d.subarray(nl + 2);
      yield head[0] === '+' ? head.slice(1) : new Error(head.slice(1));
      continue;
    }
    if (head[0] !== '$') throw new Error(`unexpected RESP reply ${JSON.stringify(head)}`);
    const n = Number(head.slice(1));
    if (n < 0) {
      buf.data = d.subarray(nl + 2);
      yield null;
      continue;
    }
    if (d.length < nl + 2 + n + 2) return;
    buf.data = d.subarray(nl + 4 + n);
    yield d.toString('latin1', nl + 2, nl + 2 + n);
  }
}

const resp = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

async function redis(to: string, rate: number, seconds: number, t: Tally): Promise<void> {
  const { host, port } = split(to);
  const sock = connect({ host, port });
  sock.setNoDelay(true);
  t.connections = 1;
  // Each command's expected answer and start time, in order: RESP answers in order on one connection.
  const pending: { expect: string; start: number }[] = [];
  let closed = false;
  const buf: { data: Buffer<ArrayBufferLike> } = { data: Buffer.alloc(0) };
  sock.on('data', (d: Buffer) => {
    buf.data = buf.data.length ? Buffer.concat([buf.data, d]) : d;
    for (const r of replies(buf)) {
      const p = pending.shift();
      if (!p) return fail(t, 'EXTRA_REPLY');
      if (r === p.expect) {
        t.ok++;
        t.latencies.push(performance.now() - p.start);
      } else fail(t, r instanceof Error ? 'REDIS_ERROR' : 'WRONG_VALUE');
    }
  });
  const lost = (code: string) => {
    if (closed) return;
    closed = true;
    for (const _ of pending.splice(0)) fail(t, code);
  };
  sock.on('error', (e: NodeJS.ErrnoException) => lost(e.code ?? 'EIO'));
  sock.on('close', () => lost('ECLOSED'));
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  // Even commands SET a key, odd ones GET it back: a lost or reordered byte shows as a wrong value.
  const send = () => {
    const i = t.sent++;
    if (closed) return fail(t, 'ECLOSED');
    const key = `rate:${(i >> 1) % 1000}`;
    const value = `v${i >> 1}`;
    pending.push({ expect: i % 2 === 0 ? 'OK' : value, start: performance.now() });
    sock.write(i % 2 === 0 ? resp('SET', key, value) : resp('GET', key));
  };
  await paced(rate, seconds, send, () => pending.length === 0);
  if (closed) t.connections = 2; // lost: the summary's connection count says so
  sock.end();
}

async function grpcBidi(to: string, rate: number, seconds: number, t: Tally): Promise<void> {
  const Ctor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const c = new Ctor(to, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Bidi: () => grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>> };
  const s = c.Bidi();
  t.connections = 1;
  const pending: { payload: string; start: number }[] = [];
  let ended = false;
  s.on('data', (m: { echo?: string }) => {
    const p = pending.shift();
    if (!p) return fail(t, 'EXTRA_MESSAGE');
    if (m.echo === p.payload) {
      t.ok++;
      t.latencies.push(performance.now() - p.start);
    } else fail(t, 'WRONG_ECHO');
  });
  const lost = (code: string) => {
    if (ended) return;
    ended = true;
    for (const _ of pending.splice(0)) fail(t, code);
  };
  s.on('error', (e: grpc.ServiceError) => lost(`grpc-${e.code}`));
  const send = () => {
    const i = t.sent++;
    if (ended) return fail(t, 'ENDED');
    const payload = `m${i}-${'x'.repeat(48)}`;
    pending.push({ payload, start: performance.now() });
    s.write({ payload });
  };
  await paced(rate, seconds, send, () => pending.length === 0 || ended);
  if (ended) t.connections = 2;
  s.end();
  await new Promise<void>((resolve) => {
    s.on('status', () => resolve());
    setTimeout(resolve, 2000);
  });
  c.close();
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

if (require.main === module) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      to: { type: 'string' },
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '60' },
      connections: { type: 'string', default: '4' },
      'progress-ms': { type: 'string', default: '5000' },
    },
  });
  const kind = positionals[0] ?? '';
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const t = tally();
  const run =
    kind === 'http'
      ? http(values.to!, rate, seconds, Number(values.connections), t)
      : kind === 'redis'
        ? redis(values.to!, rate, seconds, t)
        : kind === 'grpc'
          ? grpcBidi(values.to!, rate, seconds, t)
          : undefined;
  if (!run || !values.to) {
    process.stderr.write('usage: rate-app.js http|redis|grpc --to HOST:PORT [--rate 500] [--seconds 60] [--connections 4]\n');
    process.exit(2);
  }
  const progress = setInterval(() => emit({ event: 'progress', kind, sent: t.sent, ok: t.ok, errors: t.errors }), Number(values['progress-ms']));
  run.then(
    () => {
      clearInterval(progress);
      const sorted = Float64Array.from(t.latencies).sort();
      const ms = (x: number) => Math.round(x * 100) / 100;
      emit({
        event: 'summary',
        kind,
        sent: t.sent,
        ok: t.ok,
        errors: t.errors,
        errorCodes: t.errorCodes,
        connections: t.connections,
        p50Ms: ms(quantile(Array.from(sorted), 0.5)),
        p99Ms: ms(quantile(Array.from(sorted), 0.99)),
        maxMs: ms(sorted.length ? sorted[sorted.length - 1]! : 0),
      });
      process.exit(0);
    },
    (err: unknown) => {
      clearInterval(progress);
      emit({ event: 'failed', kind, message: String(err) });
      process.exit(1);
    },
  );
}
