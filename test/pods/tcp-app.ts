/**
 * A small TCP app for pods: a server and a client whose every connection reports, as one JSON
 * line on stdout, how many bytes went each way and their sha256. Tests run it inside pods (as an
 * app uid, so its traffic goes through the proxy) and compare both ends' reports.
 *
 *   node tcp-app.js serve --port 7000 [--host 0.0.0.0] [--send N] [--after-eof] [--echo] [--reset] [--stall-ms MS]
 *   node tcp-app.js connect --to 10.1.2.3:7000 [--send N] [--pause-after N --pause-ms MS] [--hold] [--stall-ms MS]
 *                           [--connections K] [--rate R --duration-ms MS]
 *
 * Data are fresh random bytes, so a lost, duplicated or reordered chunk changes the hash.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const CHUNK = 64 * 1024;

export interface ConnReport {
  event: 'closed' | 'done';
  received: number;
  receivedSha: string;
  sent: number;
  sentSha: string;
  /** error.code (ECONNRESET, ECONNREFUSED, ...) when the connection ended with an error. */
  error?: string;
  ms: number;
}

function emit(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

/** Writes `n` random bytes with backpressure, hashing them; optionally pauses once midway. */
async function source(sock: Socket, n: number, hash: ReturnType<typeof createHash>, pauseAfter = -1, pauseMs = 0): Promise<number> {
  let sent = 0;
  let paused = false;
  const buf = Buffer.allocUnsafe(CHUNK);
  while (sent < n && !sock.destroyed) {
    if (!paused && pauseAfter >= 0 && sent >= pauseAfter) {
      paused = true;
      emit({ event: 'paused', sent });
      await sleep(pauseMs);
      continue;
    }
    const limit = pauseAfter >= 0 && !paused ? Math.min(n, pauseAfter) : n;
    const len = Math.min(CHUNK, limit - sent);
    const chunk = Buffer.from(randomFillSync(buf, 0, len).subarray(0, len));
    hash.update(chunk);
    sent += len;
    if (!sock.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          sock.off('drain', done);
          sock.off('close', done);
          resolve();
        };
        sock.on('drain', done);
        sock.on('close', done);
      });
    }
  }
  return sent;
}

/** Runs one connection's both directions; resolves with the report when the socket closes. */
function exchange(
  sock: Socket,
  opts: {
    send: number;
    afterEof: boolean;
    echo: boolean;
    end: boolean;
    pauseAfter?: number;
    pauseMs?: number;
    resetOnData?: boolean;
    /** Do not read for this long after connecting: the peer's writes must meet backpressure. */
    stallMs?: number;
  },
  event: 'closed' | 'done',
): Promise<ConnReport> {
  const start = Date.now();
  const rx = createHash('sha256');
  const tx = createHash('sha256');
  let received = 0;
  let sent = 0;
  let error: string | undefined;
  let eof!: () => void;
  const gotEof = new Promise<void>((r) => (eof = r));
  sock.on('data', (b: Buffer) => {
    received += b.length;
    rx.update(b);
    if (opts.resetOnData) {
      sock.resetAndDestroy();
      return;
    }
    if (opts.echo) {
      sent += b.length;
      tx.update(b);
      sock.write(b);
    }
  });
  if (opts.stallMs) {
    sock.pause();
    setTimeout(() => sock.resume(), opts.stallMs);
  }
  sock.on('end', () => {
    eof();
    if (opts.echo) sock.end();
  });
  sock.on('error', (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message;
  });
  const writing = (async () => {
    if (opts.echo || opts.resetOnData) return;
    if (opts.afterEof) await gotEof;
    sent = await source(sock, opts.send, tx, opts.pauseAfter, opts.pauseMs);
    if (opts.end && !sock.destroyed) sock.end();
  })();
  return new Promise((resolve) => {
    sock.on('close', () => {
      void writing.finally(() =>
        resolve({ event, received, receivedSha: rx.digest('hex'), sent, sentSha: tx.digest('hex'), ...(error ? { error } : {}), ms: Date.now() - start }),
      );
    });
  });
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '0.0.0.0' },
      port: { type: 'string' },
      send: { type: 'string', default: '0' },
      'after-eof': { type: 'boolean', default: false },
      echo: { type: 'boolean', default: false },
      reset: { type: 'boolean', default: false },
      'stall-ms': { type: 'string', default: '0' },
    },
  });
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    emit({ event: 'accepted', remote: `${sock.remoteAddress}:${sock.remotePort}` });
    void exchange(sock, { send: Number(values.send), afterEof: values['after-eof'], echo: values.echo, end: true, resetOnData: values.reset, stallMs: Number(values['stall-ms']) }, 'closed').then(emit);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: values.host, port: Number(values.port) }, resolve);
  });
  emit({ event: 'listening', host: values.host, port: Number(values.port) });
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  server.close();
  return 0;
}

function once(target: string, send: number, opts: { pauseAfter?: number; pauseMs?: number; hold: boolean; stallMs?: number }): Promise<ConnReport> {
  const i = target.lastIndexOf(':');
  const sock = connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)), allowHalfOpen: true });
  sock.once('connect', () => emit({ event: 'connected', local: `${sock.localAddress}:${sock.localPort}` }));
  return exchange(sock, { send, afterEof: false, echo: false, end: !opts.hold, pauseAfter: opts.pauseAfter, pauseMs: opts.pauseMs, stallMs: opts.stallMs }, 'done');
}

async function client(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string' },
      send: { type: 'string', default: '0' },
      'pause-after': { type: 'string', default: '-1' },
      'pause-ms': { type: 'string', default: '0' },
      hold: { type: 'boolean', default: false },
      connections: { type: 'string', default: '1' },
      rate: { type: 'string' },
      'duration-ms': { type: 'string', default: '0' },
      'stall-ms': { type: 'string', default: '0' },
    },
  });
  const to = values.to!;
  const send = Number(values.send);
  const opts = { pauseAfter: Number(values['pause-after']), pauseMs: Number(values['pause-ms']), hold: values.hold, stallMs: Number(values['stall-ms']) };
  const reports: Promise<ConnReport>[] = [];
  if (values.rate !== undefined) {
    // Steady load: `rate` new connections a second until duration (0 = until SIGTERM/SIGINT).
    const interval = 1000 / Number(values.rate);
    const until = Number(values['duration-ms']) > 0 ? Date.now() + Number(values['duration-ms']) : Infinity;
    let stop = false;
    process.once('SIGTERM', () => (stop = true));
    process.once('SIGINT', () => (stop = true));
    while (!stop && Date.now() < until) {
      const size = send > 0 ? send : 1024 + Math.floor(Math.random() * 15 * 1024);
      reports.push(once(to, size, opts).then((r) => (emit(r), r)));
      await sleep(interval);
    }
  } else {
    for (let k = 0; k < Number(values.connections); k++) reports.push(once(to, send, opts).then((r) => (emit(r), r)));
  }
  const all = await Promise.all(reports);
  return all.some((r) => r.error !== undefined) ? 3 : 0;
}

if (require.main === module) {
  const [mode, ...rest] = process.argv.slice(2);
  const run = mode === 'serve' ? serve : mode === 'connect' ? client : undefined;
  if (!run) {
    process.stderr.write('usage: tcp-app serve|connect [options] (see the header of tcp-app.ts)\n');
    process.exit(2);
  }
  run(rest).then(
    (code) => process.exit(code),
    (err: NodeJS.ErrnoException) => {
      emit({ event: 'fatal', error: err.code ?? err.message });
      process.exit(4);
    },
  );
}
