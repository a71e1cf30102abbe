/**
 * The app of the rolling-restart test: a backend that shuts down as a well-behaved Kubernetes app
 * does, and an open-loop load client at a fixed rate that counts every failure.
 *
 *   node rolling-app.js serve --http-port 8080 --grpc-port 9090 --name b1 [--linger-ms 1000]
 *       HTTP/1.1: every request answered 200 "<name>"; gRPC: /linnet.test.Roll/Echo answers {name}.
 *       On SIGTERM it keeps serving for linger-ms (as a preStop sleep would: the endpoint removal
 *       is still travelling), then stops accepting, finishes what is open and exits 0.
 *   node rolling-app.js load --to 10.96.0.60:8080 --proto http|grpc --rate 500 --duration-ms 8000
 *       one request every 1/rate s whatever the answers (open loop); a JSON progress line every
 *       second, then {"event":"summary", sent, ok, failed, errors: {reason: n}, byName}.
 */
import * as grpc from '@grpc/grpc-js';
import { Agent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';

const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const enc = (m: unknown) => Buffer.from(JSON.stringify(m));
const dec = (b: Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;
const ECHO = { path: '/linnet.test.Roll/Echo', requestStream: false, responseStream: false, requestSerialize: enc, requestDeserialize: dec, responseSerialize: enc, responseDeserialize: dec };

function serve(httpPort: number, grpcPort: number, name: string, lingerMs: number): void {
  const http = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(name) });
      res.end(name);
    });
  });
  http.keepAliveTimeout = 30_000;
  const rpc = new grpc.Server();
  rpc.addService({ Echo: ECHO } as unknown as grpc.ServiceDefinition, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { name }),
  });
  let up = 0;
  const ready = () => {
    if (++up === 2) emit({ event: 'listening', name });
  };
  http.listen(httpPort, '0.0.0.0', ready);
  rpc.bindAsync(`0.0.0.0:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    ready();
  });
  process.once('SIGTERM', () => {
    emit({ event: 'sigterm' });
    setTimeout(() => {
      let left = 2;
      const done = () => {
        if (--left === 0) {
          emit({ event: 'exited' });
          process.exit(0);
        }
      };
      http.close(done);
      http.closeIdleConnections();
      rpc.tryShutdown(done);
      setTimeout(() => process.exit(0), 10_000).unref();
    }, lingerMs);
  });
}

async function load(to: string, proto: 'http' | 'grpc', rate: number, durationMs: number): Promise<void> {
  const [host, port] = [to.slice(0, to.lastIndexOf(':')), Number(to.slice(to.lastIndexOf(':') + 1))];
  const errors: Record<string, number> = {};
  const byName: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const fail = (reason: string) => {
    failed++;
    errors[reason] = (errors[reason] ?? 0) + 1;
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const client = proto === 'grpc' ? new grpc.Client(to, grpc.credentials.createInsecure()) : undefined;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      if (client) {
        client.makeUnaryRequest(ECHO.path, enc, dec, { n: sent }, { deadline: Date.now() + 5000 }, (err, res) => {
          if (err) fail(`grpc ${err.code} ${err.details}`);
          else {
            ok++;
            const n = String(res?.name);
            byName[n] = (byName[n] ?? 0) + 1;
          }
          resolve();
        });
        return;
      }
      const req = request({ host, port, path: '/', agent, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok++;
            byName[body] = (byName[body] ?? 0) + 1;
          } else fail(`http ${res.statusCode} ${String(res.headers['l5d-proxy-error'] ?? body.slice(0, 80))}`);
          resolve();
        });
        res.on('error', (e) => {
          fail(`response ${(e as NodeJS.ErrnoException).code ?? e.message}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        fail(`request ${(e as NodeJS.ErrnoException).code ?? e.message}`);
        resolve();
      });
      req.end();
    });
  const start = Date.now();
  const pending = new Set<Promise<void>>();
  let lastProgress = start;
  emit({ event: 'started' });
  while (Date.now() - start < durationMs) {
    // Open loop: the n-th request leaves at start + n/rate, however long the others take.
    const due = start + (sent * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent++;
    const p = one();
    pending.add(p);
    void p.then(() => pending.delete(p));
    if (Date.now() - lastProgress >= 1000) {
      lastProgress = Date.now();
      emit({ event: 'progress', sent, ok, failed });
    }
  }
  await Promise.all(pending);
  emit({ event: 'summary', sent, ok, failed, errors, byName, elapsedMs: Date.now() - start });
  agent.destroy();
  client?.close();
}

const [cmd, ...rest] = process.argv.slice(2);
const { values: v } = parseArgs({
  args: rest,
  options: {
    'http-port': { type: 'string', default: '8080' },
    'grpc-port': { type: 'string', default: '9090' },
    name: { type: 'string', default: 'backend' },
    'linger-ms': { type: 'string', default: '1000' },
    to: { type: 'string' },
    proto: { type: 'string', default: 'http' },
    rate: { type: 'string', default: '500' },
    'duration-ms': { type: 'string', default: '8000' },
  },
});
if (cmd === 'serve') serve(Number(v['http-port']), Number(v['grpc-port']), v.name!, Number(v['linger-ms']));
else if (cmd === 'load') void load(v.to!, v.proto as 'http' | 'grpc', Number(v.rate), Number(v['duration-ms']));
else {
  process.stderr.write('usage: rolling-app.js serve|load ...\n');
  process.exit(2);
}
