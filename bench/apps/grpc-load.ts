/**
 * Closed-loop gRPC load: `--concurrency` calls in flight (unary), or that many bidi streams each
 * echoing one message at a time (stream), for `--duration` seconds over one channel (as a real
 * gRPC client would: one HTTP/2 connection, many streams). Prints {ops, seconds, errors}.
 */
import * as grpc from '@grpc/grpc-js';
import { flags, report } from './args';
import { GRPC_SERVICE } from './grpc-def';

const f = flags({ to: 'string', mode: 'string', concurrency: 'string', duration: 'string', size: 'string' });
const concurrency = Number(f.concurrency ?? 16);
const durationMs = Number(f.duration ?? 3) * 1000;
const msg = Buffer.alloc(Number(f.size ?? 64), 'm');
const Client = grpc.makeGenericClientConstructor(GRPC_SERVICE, 'Echo');
const client = new Client(String(f.to), grpc.credentials.createInsecure()) as unknown as {
  unary(req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): void;
  stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
  close(): void;
  waitForReady(deadline: number, cb: (err?: Error) => void): void;
};

let ops = 0;
let errors = 0;
let running = true;
let start = 0;

function unaryLoop(): Promise<void> {
  return new Promise((resolve) => {
    const next = () => {
      if (!running) return resolve();
      client.unary(msg, (err) => {
        if (err) errors++;
        else ops++;
        next();
      });
    };
    next();
  });
}

function streamLoop(): Promise<void> {
  return new Promise((resolve) => {
    const call = client.stream();
    call.on('data', () => {
      ops++;
      if (running) call.write(msg);
      else call.end();
    });
    call.on('error', () => {
      errors++;
      resolve();
    });
    call.on('end', () => resolve());
    call.on('status', () => resolve());
    call.write(msg);
  });
}

client.waitForReady(Date.now() + 10_000, async (err) => {
  if (err) {
    report({ ops: 0, seconds: 0, errors: 1, error: err.message });
    process.exit(1);
  }
  start = performance.now();
  setTimeout(() => {
    running = false;
  }, durationMs);
  const loops = Array.from({ length: concurrency }, () => (f.mode === 'stream' ? streamLoop() : unaryLoop()));
  // Count what completed within the window; the calls still in flight at the end are not ops.
  await new Promise((r) => setTimeout(r, durationMs));
  const seconds = (performance.now() - start) / 1000;
  const done = ops;
  report({ ops: done, seconds, errors });
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))]);
  client.close();
  process.exit(0);
});
