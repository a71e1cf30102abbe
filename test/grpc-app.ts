/**
 * A small gRPC app for pod tests, built on @grpc/grpc-js with JSON messages (no .proto to ship):
 * a server with the four call kinds, and a client that runs one scenario and prints its result
 * as one JSON line. The server prints one JSON line per finished or cancelled call, so a test can
 * check what reached the other side.
 *
 *   node grpc-app.js serve --port 7500
 *   node grpc-app.js call --to 10.1.2.3:7500 --scenario unary|server-stream|client-stream|bidi|deadline|cancel|error|fail-once [--count N] [--pace-ms MS]
 *
 * fail-once: `count` unary calls, one after another, each with its own key that the server answers
 * UNAVAILABLE the first time it sees it and serves the second time (a retry's proof).
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

type Msg = Record<string, unknown>;
const enc = (m: Msg) => Buffer.from(JSON.stringify(m));
const dec = (b: Buffer) => JSON.parse(b.toString()) as Msg;
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/linnet.test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: enc,
  requestDeserialize: dec,
  responseSerialize: enc,
  responseDeserialize: dec,
});

export const ECHO_SERVICE = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
} as const;

const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
/** Calls that finished normally: grpc-js also emits 'cancelled' when such a call's stream closes. */
const finished = new WeakSet<object>();
/** fail-once keys seen: the first call with a key fails UNAVAILABLE. */
const seenKeys = new Set<string>();

function serve(port: number): void {
  const server = new grpc.Server();
  const watch = (name: string, call: { on(ev: 'cancelled', f: () => void): unknown; getDeadline(): grpc.Deadline }) => {
    const deadline = call.getDeadline();
    call.on('cancelled', () => !finished.has(call) && emit({ event: 'cancelled', method: name, deadline: deadline === Infinity ? null : Number(deadline) - Date.now() }));
  };
  server.addService(ECHO_SERVICE, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      watch('Unary', call);
      const req = call.request;
      if (typeof req.failWith === 'number') return finished.add(call), cb({ code: req.failWith, details: String(req.message ?? 'failed on purpose') });
      if (typeof req.failOnceKey === 'string' && !seenKeys.has(req.failOnceKey)) {
        seenKeys.add(req.failOnceKey);
        emit({ event: 'failed-once', key: req.failOnceKey });
        return finished.add(call), cb({ code: grpc.status.UNAVAILABLE, details: 'first try fails' });
      }
      const reply = () => {
        finished.add(call);
        emit({ event: 'done', method: 'Unary', payloadSha: sha(String(req.payload ?? '')), metadata: call.metadata.get('x-test')[0] ?? null });
        const md = new grpc.Metadata();
        md.set('x-reply', 'header-md');
        call.sendMetadata(md);
        cb(null, { payload: req.payload, payloadSha: sha(String(req.payload ?? '')) });
      };
      if (typeof req.delayMs === 'number') setTimeout(() => !call.cancelled && reply(), req.delayMs);
      else reply();
    },
    ServerStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      watch('ServerStream', call);
      const count = Number(call.request.count ?? 10);
      const size = Number(call.request.size ?? 100);
      const gapMs = Number(call.request.gapMs ?? 0);
      const h = createHash('sha256');
      let i = 0;
      const next = () => {
        if (call.cancelled) return;
        if (i === count) {
          finished.add(call);
          emit({ event: 'done', method: 'ServerStream', sentSha: h.digest('hex'), count });
          return call.end();
        }
        const payload = randomBytes(size).toString('base64');
        h.update(payload);
        i++;
        const ok = call.write({ i, payload });
        if (gapMs > 0) setTimeout(next, gapMs);
        else if (ok) setImmediate(next);
        else call.once('drain', next);
      };
      next();
    },
    ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      watch('ClientStream', call);
      const h = createHash('sha256');
      let n = 0;
      call.on('data', (m: Msg) => {
        h.update(String(m.payload));
        n++;
      });
      call.on('end', () => {
        const receivedSha = h.digest('hex');
        finished.add(call);
        emit({ event: 'done', method: 'ClientStream', receivedSha, count: n });
        cb(null, { count: n, receivedSha });
      });
    },
    Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      watch('Bidi', call);
      let n = 0;
      call.on('data', (m: Msg) => {
        n++;
        call.write({ echo: m.payload, i: n });
      });
      call.on('end', () => {
        finished.add(call);
        emit({ event: 'done', method: 'Bidi', count: n });
        call.end();
      });
    },
  });
  server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => {
    if (err) {
      emit({ event: 'error', message: err.message });
      process.exit(1);
    }
    emit({ event: 'listening', port: p });
  });
  process.on('SIGTERM', () => server.forceShutdown());
}

type Client = grpc.Client & Record<keyof typeof ECHO_SERVICE, (...a: unknown[]) => unknown>;

function errorOf(err: grpc.ServiceError): Msg {
  return { code: err.code, details: err.details, proxyError: err.metadata?.get('l5d-proxy-error')[0] ?? null };
}

async function call(to: string, scenario: string, count: number, paceMs = 0): Promise<Msg> {
  const Ctor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const c = new Ctor(to, grpc.credentials.createInsecure()) as unknown as Client;
  const t0 = Date.now();
  const deadline = (ms: number) => ({ deadline: Date.now() + ms });
  const unary = (req: Msg, md = new grpc.Metadata(), opts: grpc.CallOptions = {}) =>
    new Promise<Msg>((resolve) => {
      let headers: Msg = {};
      const call = c.Unary(req, md, opts, (err: grpc.ServiceError | null, res: Msg) => resolve(err ? { error: errorOf(err), ms: Date.now() - t0 } : { res, headers }));
      (call as grpc.ClientUnaryCall).on('metadata', (m: grpc.Metadata) => (headers = m.getMap() as Msg));
    });
  try {
    switch (scenario) {
      case 'unary': {
        const payload = randomBytes(3000).toString('base64');
        const md = new grpc.Metadata();
        md.set('x-test', 'client-md');
        const out = await unary({ payload }, md);
        return { ...out, sentSha: sha(payload) };
      }
      case 'error':
        return await unary({ failWith: grpc.status.NOT_FOUND, message: 'no such thing' });
      case 'fail-once': {
        const codes: Record<string, number> = {};
        let ok = 0;
        for (let i = 0; i < count; i++) {
          const r = await unary({ failOnceKey: `${t0}-${i}` });
          if (r.res) ok++;
          else {
            const code = String((r.error as Msg).code);
            codes[code] = (codes[code] ?? 0) + 1;
          }
        }
        return { ok, codes };
      }
      case 'deadline':
        return await unary({ delayMs: 3000 }, new grpc.Metadata(), deadline(400));
      case 'server-stream':
        return await new Promise<Msg>((resolve) => {
          const h = createHash('sha256');
          let n = 0;
          const s = c.ServerStream({ count, size: 2000 }) as grpc.ClientReadableStream<Msg>;
          s.on('data', (m: Msg) => {
            h.update(String(m.payload));
            n++;
          });
          s.on('error', (err: grpc.ServiceError) => resolve({ error: errorOf(err) }));
          s.on('status', (st: grpc.StatusObject) => st.code === 0 && resolve({ count: n, receivedSha: h.digest('hex') }));
        });
      case 'client-stream':
        return await new Promise<Msg>((resolve) => {
          const h = createHash('sha256');
          const s = c.ClientStream((err: grpc.ServiceError | null, res: Msg) => resolve(err ? { error: errorOf(err) } : { res, sentSha: h.digest('hex'), sent: count })) as grpc.ClientWritableStream<Msg>;
          for (let i = 0; i < count; i++) {
            const payload = randomBytes(1500).toString('base64');
            h.update(payload);
            s.write({ payload });
          }
          s.end();
        });
      case 'bidi':
        return await new Promise<Msg>((resolve) => {
          const s = c.Bidi() as grpc.ClientDuplexStream<Msg, Msg>;
          let i = 0;
          let mismatches = 0;
          const sent: string[] = [];
          // Ping-pong: each message is sent only after the previous echo came back, which proves
          // both directions stream at once (no buffering until end of request).
          const send = () => {
            const payload = randomBytes(200).toString('base64');
            sent.push(payload);
            s.write({ payload });
          };
          s.on('data', (m: Msg) => {
            if (m.echo !== sent[i]) mismatches++;
            i++;
            // --pace-ms spaces the messages out: one stream held open for minutes (rotation tests).
            if (i < count) (paceMs > 0 ? setTimeout(send, paceMs) : send());
            else s.end();
          });
          s.on('error', (err: grpc.ServiceError) => resolve({ error: errorOf(err) }));
          s.on('status', (st: grpc.StatusObject) => st.code === 0 && resolve({ count: i, mismatches }));
          send();
        });
      case 'cancel':
        return await new Promise<Msg>((resolve) => {
          const s = c.ServerStream({ count: 1000, size: 100, gapMs: 20 }) as grpc.ClientReadableStream<Msg>;
          let n = 0;
          s.on('data', () => {
            if (++n === 5) s.cancel();
          });
          s.on('error', (err: grpc.ServiceError) => resolve({ received: n, error: errorOf(err) }));
        });
      default:
        throw new Error(`unknown scenario ${scenario}`);
    }
  } finally {
    c.close();
  }
}

if (require.main === module) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { port: { type: 'string' }, to: { type: 'string' }, scenario: { type: 'string' }, count: { type: 'string', default: '50' }, 'pace-ms': { type: 'string', default: '0' } },
  });
  if (positionals[0] === 'serve') serve(Number(values.port));
  else if (positionals[0] === 'call')
    call(values.to!, values.scenario!, Number(values.count), Number(values['pace-ms'])).then(
      (r) => {
        emit({ event: 'result', scenario: values.scenario, ...r });
        process.exit(0);
      },
      (err) => {
        emit({ event: 'failed', message: String(err) });
        process.exit(1);
      },
    );
  else {
    process.stderr.write('usage: grpc-app.js serve --port P | call --to HOST:PORT --scenario S\n');
    process.exit(2);
  }
}
