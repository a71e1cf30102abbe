/**
 * The demo's application, one script run in each pod (as an app uid, so its traffic goes through
 * the pod's proxy):
 *
 *   node demo-app.js web   --port 8080 --name web0 [--delay-ms 0] [--fail-pct 0]
 *       HTTP/1.1: GET /api/vote?choice=... answers {"pod":"web0","choice":...}; fail-pct % of
 *       requests answer 500
 *   node demo-app.js emoji --port 8090 --name emoji0 [--delay-ms 0] [--fail-pct 0]
 *       gRPC (@grpc/grpc-js, JSON messages): /linnet.demo.Emoji/FindByShortcode; fail-pct % of
 *       calls end UNAVAILABLE
 *   node demo-app.js traffic --web 10.96.0.10:8080 --emoji 10.96.0.11:8090 [--rps 10] [--conns 4]
 *       steady open-loop load: rps HTTP requests and rps gRPC calls per second, spread round-robin
 *       over `conns` keep-alive connections (agents / channels) per service, so a per-connection
 *       balancer has several connections to place; a JSON progress line every second
 */
import * as grpc from '@grpc/grpc-js';
import { Agent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';

type Msg = Record<string, unknown>;
const enc = (m: Msg) => Buffer.from(JSON.stringify(m));
const dec = (b: Buffer) => JSON.parse(b.toString()) as Msg;

export const EMOJI_SERVICE = {
  FindByShortcode: {
    path: '/linnet.demo.Emoji/FindByShortcode',
    requestStream: false,
    responseStream: false,
    requestSerialize: enc,
    requestDeserialize: dec,
    responseSerialize: enc,
    responseDeserialize: dec,
  },
} as const;

const EMOJI: Record<string, string> = { ':joy:': '😂', ':fire:': '🔥', ':rocket:': '🚀', ':bird:': '🐦', ':tada:': '🎉' };
const SHORTCODES = Object.keys(EMOJI);

const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const later = (ms: number, f: () => void) => (ms > 0 ? setTimeout(f, ms) : f());
/** A little jitter around the configured delay so latency percentiles are not a flat line. */
const jitter = (ms: number) => (ms > 0 ? ms * (0.5 + Math.random()) : 0);

function web(port: number, name: string, delayMs: number, failPct: number): void {
  const server = createServer((req, res) => {
    req.resume();
    later(jitter(delayMs), () => {
      if (Math.random() * 100 < failPct) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ pod: name, error: 'failed on purpose' }));
        return;
      }
      const choice = new URL(req.url ?? '/', 'http://x').searchParams.get('choice') ?? ':bird:';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ pod: name, choice, emoji: EMOJI[choice] ?? '?' }));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '0.0.0.0', () => emit({ event: 'listening', port }));
}

function emoji(port: number, name: string, delayMs: number, failPct: number): void {
  const server = new grpc.Server();
  server.addService(EMOJI_SERVICE, {
    FindByShortcode: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      later(jitter(delayMs), () => {
        if (Math.random() * 100 < failPct) return cb({ code: grpc.status.UNAVAILABLE, details: `${name} failed on purpose` });
        const code = String(call.request.shortcode ?? ':bird:');
        cb(null, { pod: name, shortcode: code, emoji: EMOJI[code] ?? '?' });
      });
    },
  });
  server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      process.stderr.write(`emoji: cannot listen on ${port}: ${err.message}\n`);
      process.exit(1);
    }
    emit({ event: 'listening', port });
  });
}

interface Counts {
  ok: number;
  failed: number;
  byPod: Record<string, number>;
  errors: Record<string, number>;
}
const counts = (): Counts => ({ ok: 0, failed: 0, byPod: {}, errors: {} });
const fail = (c: Counts, why: string) => {
  c.failed++;
  c.errors[why] = (c.errors[why] ?? 0) + 1;
};
const succeed = (c: Counts, pod: unknown) => {
  c.ok++;
  const p = String(pod ?? '?');
  c.byPod[p] = (c.byPod[p] ?? 0) + 1;
};

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

function traffic(webTo: string, emojiTo: string, rps: number, conns: number): void {
  const http = counts();
  const rpc = counts();
  const webAddr = hostPort(webTo);
  // One agent with one socket each: `conns` long-lived connections used in turn.
  const agents = Array.from({ length: conns }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const Ctor = grpc.makeGenericClientConstructor(EMOJI_SERVICE, 'Emoji');
  // A local subchannel pool per channel, or grpc-js would share one connection among them all.
  const clients = Array.from({ length: conns }, () => new Ctor(emojiTo, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  let n = 0;
  let inflight = 0;
  const MAX_INFLIGHT = Math.max(50, rps * 5);

  const oneHttp = (i: number) => {
    const choice = SHORTCODES[i % SHORTCODES.length]!;
    inflight++;
    const done = (f: () => void) => {
      inflight--;
      f();
    };
    const req = request(
      { host: webAddr.host, port: webAddr.port, path: `/api/vote?choice=${encodeURIComponent(choice)}`, agent: agents[i % conns], timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          done(() => {
            if (res.statusCode !== 200) return fail(http, `http ${res.statusCode}`);
            try {
              succeed(http, (JSON.parse(body) as Msg).pod);
            } catch {
              fail(http, 'bad body');
            }
          }),
        );
        res.on('error', () => done(() => fail(http, 'response aborted')));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => done(() => fail(http, e.code ?? e.message)));
    req.end();
  };

  const oneRpc = (i: number) => {
    const c = clients[i % conns] as unknown as grpc.Client & { FindByShortcode: (req: Msg, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Msg) => void) => void };
    inflight++;
    c.FindByShortcode({ shortcode: SHORTCODES[i % SHORTCODES.length] }, { deadline: Date.now() + 5000 }, (err, res) => {
      inflight--;
      if (err) fail(rpc, grpc.status[err.code] ?? String(err.code));
      else succeed(rpc, res?.pod);
    });
  };

  const tick = setInterval(() => {
    if (inflight >= MAX_INFLIGHT) return; // open loop, but bounded: a stalled mesh must not eat the machine
    const i = n++;
    oneHttp(i);
    oneRpc(i);
  }, 1000 / rps);
  const progress = setInterval(() => emit({ event: 'progress', http, grpc: rpc, inflight }), 1000);
  const stop = () => {
    clearInterval(tick);
    clearInterval(progress);
    emit({ event: 'summary', http, grpc: rpc });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  emit({ event: 'started', rps, conns });
}

const [cmd, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    port: { type: 'string', default: '8080' },
    name: { type: 'string', default: 'app' },
    'delay-ms': { type: 'string', default: '0' },
    'fail-pct': { type: 'string', default: '0' },
    web: { type: 'string' },
    emoji: { type: 'string' },
    rps: { type: 'string', default: '10' },
    conns: { type: 'string', default: '4' },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);
if (cmd === 'web') web(num('port'), values.name!, num('delay-ms'), num('fail-pct'));
else if (cmd === 'emoji') emoji(num('port'), values.name!, num('delay-ms'), num('fail-pct'));
else if (cmd === 'traffic' && values.web && values.emoji) traffic(values.web, values.emoji, num('rps'), Math.max(1, num('conns')));
else {
  process.stderr.write('usage: demo-app web|emoji --port P --name N [--delay-ms D] [--fail-pct F] | traffic --web ADDR --emoji ADDR [--rps R] [--conns C]\n');
  process.exit(2);
}
