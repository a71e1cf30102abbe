/**
 * The app the mesh tests run in pods: a named echo server and a load client that counts which
 * server answered each connection.
 *
 *   node mesh-app.js serve --port 7000 --name s1 [--delay-ms 50]
 *       each connection: read one line, wait delay, answer "<name>\n", close; with --greet, first
 *       send "<name> ready\n" at once (a server-speaks-first protocol)
 *   node mesh-app.js load --to 10.96.0.10:7000 [--concurrency 4] [--duration-ms 5000] [--progress-ms 250]
 *       connections one after another on each of `concurrency` loops; a JSON progress line every
 *       progress-ms and a final {"event":"summary", ok, errors, byName, errorCodes}
 *   node mesh-app.js http-serve --port 8000 --name s1 [--delay-ms 50] [--fail-ratio 0.5 --seed 7]
 *       HTTP/1.1 (keep-alive): every request answered 200 with body "<name>" after delay, or 503
 *       for a fail-ratio share (a seeded pseudo-random sequence, so a run repeats); the answer
 *       carries x-saw-headers (the request's headers as JSON); GET /__stats answers
 *       {requests, failed, cancelled} and is not counted; a request whose client goes away before
 *       the answer is reported as {"event":"cancelled"}
 *   node mesh-app.js http-load --to 10.96.0.20:8000 [--concurrency 2] [--requests 300] [--for-ms 0]
 *       requests over `concurrency` keep-alive connections (stopping after for-ms when set); the same final summary
 */
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';

const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function serve(port: number, name: string, delayMs: number, greet: boolean): void {
  const server = createServer((sock) => {
    let buf = '';
    sock.on('error', () => {});
    // Server speaks first (as SMTP, MySQL, Redis' banner-less cousins): a greeting before any byte.
    if (greet) sock.write(`${name} ready\n`);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\n')) return;
      sock.pause();
      setTimeout(() => sock.end(`${name}\n`), delayMs);
    });
  });
  server.listen(port, '0.0.0.0', () => emit({ event: 'listening', port }));
}

function once(host: string, port: number, timeoutMs: number): Promise<{ name?: string; error?: string }> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let got = '';
    let done = false;
    const finish = (r: { name?: string; error?: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: 'ETIMEDOUT' }), timeoutMs);
    sock.on('connect', () => sock.write('ping\n'));
    sock.on('data', (d) => (got += d.toString('latin1')));
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? 'EIO' }));
    sock.on('close', () => finish(got.endsWith('\n') ? { name: got.trim() } : { error: got ? 'ETRUNCATED' : 'EEMPTY' }));
  });
}

async function load(to: string, concurrency: number, durationMs: number, progressMs: number): Promise<void> {
  const i = to.lastIndexOf(':');
  const host = to.slice(0, i);
  const port = Number(to.slice(i + 1));
  const byName: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  const until = Date.now() + durationMs;
  let stop = false;
  process.on('SIGTERM', () => (stop = true));
  const ticker = setInterval(() => emit({ event: 'progress', ok, errors, byName, errorCodes }), progressMs);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop && Date.now() < until) {
        const r = await once(host, port, 5000);
        if (r.name) {
          ok++;
          byName[r.name] = (byName[r.name] ?? 0) + 1;
        } else {
          errors++;
          errorCodes[r.error!] = (errorCodes[r.error!] ?? 0) + 1;
          await new Promise((res) => setTimeout(res, 5));
        }
      }
    }),
  );
  clearInterval(ticker);
  emit({ event: 'summary', ok, errors, byName, errorCodes });
}

/** mulberry32: a small seeded generator, so a backend's failures repeat from run to run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function httpServe(port: number, name: string, delayMs: number, failRatio = 0, seed = 1): void {
  const random = seeded(seed);
  const stats = { requests: 0, failed: 0, cancelled: 0, bodyBytes: 0 };
  const server = createHttpServer((req, res) => {
    if (req.url === '/__stats') return void res.end(JSON.stringify(stats));
    stats.requests++;
    const fail = failRatio > 0 && random() < failRatio;
    let answered = false;
    res.on('close', () => {
      if (answered) return;
      stats.cancelled++;
      emit({ event: 'cancelled', url: req.url });
    });
    req.on('data', (d: Buffer) => (stats.bodyBytes += d.length));
    req.on('end', () =>
      setTimeout(() => {
        if (res.destroyed) return;
        answered = true;
        res.setHeader('x-saw-headers', JSON.stringify(req.headers));
        if (fail) {
          stats.failed++;
          res.statusCode = 503;
        }
        res.end(fail ? 'failed' : name);
      }, delayMs),
    );
  });
  server.keepAliveTimeout = 30_000;
  server.listen(port, '0.0.0.0', () => emit({ event: 'listening', port }));
}

async function httpLoad(to: string, concurrency: number, requests: number, forMs = 0): Promise<void> {
  const until = forMs > 0 ? Date.now() + forMs : Infinity;
  const i = to.lastIndexOf(':');
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const byName: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let sent = 0;
  const sockets = new Set<unknown>();
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request({ host: to.slice(0, i), port: Number(to.slice(i + 1)), path: '/', agent, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok++;
            byName[body] = (byName[body] ?? 0) + 1;
          } else {
            errors++;
            errorCodes[String(res.statusCode)] = (errorCodes[String(res.statusCode)] ?? 0) + 1;
          }
          resolve();
        });
      });
      req.on('socket', (s) => sockets.add(s));
      req.on('error', (e: NodeJS.ErrnoException) => {
        errors++;
        errorCodes[e.code ?? 'EIO'] = (errorCodes[e.code ?? 'EIO'] ?? 0) + 1;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < requests && Date.now() < until) {
        sent++;
        await one();
      }
    }),
  );
  agent.destroy();
  emit({ event: 'summary', ok, errors, byName, errorCodes, connections: sockets.size });
}

const [cmd, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    port: { type: 'string', default: '7000' },
    name: { type: 'string', default: 'server' },
    'delay-ms': { type: 'string', default: '0' },
    to: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    'duration-ms': { type: 'string', default: '5000' },
    'progress-ms': { type: 'string', default: '250' },
    requests: { type: 'string', default: '300' },
    'for-ms': { type: 'string', default: '0' },
    greet: { type: 'boolean', default: false },
    'fail-ratio': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
  },
});
if (cmd === 'serve') serve(Number(values.port), values.name!, Number(values['delay-ms']), values.greet!);
else if (cmd === 'http-serve') httpServe(Number(values.port), values.name!, Number(values['delay-ms']), Number(values['fail-ratio']), Number(values.seed));
else if (cmd === 'http-load') void httpLoad(values.to!, Number(values.concurrency), Number(values.requests), Number(values['for-ms']));
else if (cmd === 'load') void load(values.to!, Number(values.concurrency), Number(values['duration-ms']), Number(values['progress-ms']));
else {
  process.stderr.write('usage: mesh-app serve|load ...\n');
  process.exit(2);
}
