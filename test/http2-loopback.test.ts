/**
 * The h2 handler on loopback with real peers (node:http2 client and server, real sockets, no
 * mocks): the proxy's stream-by-stream behaviour without needing root. The handler is called the
 * way the connection stack calls it, with a context whose target is the local upstream.
 * Network-namespace tests with curl, h2load and gRPC are in http2-pods and grpc-pods.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPrefix } from '../proxy/accept/read-prefix';
import { H2, loopbackProxy, type LoopbackProxy } from './support/stacks';

const lp = loopbackProxy();
const registry = lp.registry;

let upstream: http2.Http2Server;
let upPort = 0;
const upSessions = new Set<http2.ServerHttp2Session>();
let upSessionsOpened = 0;
const refused = new Set<string>();
/** What the upstream saw per path: headers, body hash, whether it was aborted. */
const seen = new Map<string, { headers: http2.IncomingHttpHeaders; sha?: string; bytes?: number; aborted?: boolean; rstCode?: number }>();

/** TLS key and certificate for the TLS-terminated case (made by openssl in before()). */
let tlsCreds: { key: Buffer; cert: Buffer } | undefined;

/** A proxy listener whose every connection goes to the outbound h2 server with `target` as original destination. */
async function proxyTo(port: number, host = '127.0.0.1', terminateTls = false, via: LoopbackProxy = lp): Promise<{ server: Server; port: number }> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, async (raw) => {
    via.open.track(raw);
    let sock: Socket = raw;
    if (terminateTls) {
      // As the inbound mTLS path does: terminate, then detect again on the clear text.
      const t = new TLSSocket(raw, { isServer: true, ...tlsCreds!, ALPNProtocols: ['h2'] });
      raw.resume();
      await once(t, 'secure');
      sock = t;
    }
    // As the connection stack does: detection reads the first bytes, the server gets them.
    void readPrefix(sock, 1000).then((p) => {
      assert.equal(p.outcome.kind, 'detected');
      return via.serve('outbound', sock, H2, port, host, undefined, p.bytes);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

let proxy: { server: Server; port: number };

before(async () => {
  const d = mkdtempSync(join(tmpdir(), 'linnet-h2tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem'), '-subj', '/CN=h2.test', '-days', '1'], { stdio: 'ignore' });
  tlsCreds = { key: readFileSync(join(d, 'k.pem')), cert: readFileSync(join(d, 'c.pem')) };
  rmSync(d, { recursive: true });
  upstream = http2.createServer({ settings: { initialWindowSize: 1 << 20 } });
  upstream.on('session', (s) => {
    upSessions.add(s);
    upSessionsOpened++;
    s.on('close', () => upSessions.delete(s));
  });
  upstream.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    const rec: { headers: http2.IncomingHttpHeaders; sha?: string; bytes?: number; aborted?: boolean; rstCode?: number } = { headers };
    seen.set(path, rec);
    stream.on('error', () => {});
    stream.on('aborted', () => (rec.aborted = true));
    stream.on('close', () => (rec.rstCode = stream.rstCode));
    const url = new URL(path, 'http://x');
    const kind = url.pathname;
    if (kind === '/echo') {
      // Echoes the body, then trailers that name the body's hash.
      const h = createHash('sha256');
      let n = 0;
      stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'x-up': 'yes' }, { waitForTrailers: true });
      stream.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
        stream.write(c);
      });
      stream.on('end', () => {
        rec.sha = h.digest('hex');
        rec.bytes = n;
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-sha': rec.sha!, 'grpc-status': '0', 'grpc-message': 'fine' }));
        stream.end();
      });
    } else if (kind === '/big') {
      const size = Number(url.searchParams.get('n'));
      stream.respond({ ':status': 200 });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          sent += chunk.length;
          if (!stream.write(chunk)) return void stream.once('drain', pump);
        }
        stream.end();
      };
      pump();
    } else if (kind === '/rst') {
      stream.close(Number(url.searchParams.get('code')));
    } else if (kind === '/rst-after-headers') {
      stream.respond({ ':status': 200 });
      stream.write('partial');
      // close(code) would first end the stream cleanly; destroy resets it mid-body (INTERNAL_ERROR).
      setTimeout(() => stream.destroy(new Error('upstream fails mid-response')), 50);
    } else if (kind === '/refuse-once') {
      // Refuses the first attempt of each id (as a server past its stream limit, or after GOAWAY).
      const id = url.searchParams.get('id')!;
      if (!refused.has(id)) {
        refused.add(id);
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      const h = createHash('sha256');
      stream.on('data', (c: Buffer) => h.update(c));
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end(h.digest('hex'));
      });
    } else if (kind === '/hang') {
      // Never answers: for deadlines and client cancellation.
    } else if (kind === '/goaway') {
      stream.respond({ ':status': 200 });
      stream.end('bye');
      stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR);
    } else if (kind === '/grpc-error') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'not here' }, { endStream: true });
    } else {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`ok ${path}`);
    }
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  upPort = (upstream.address() as AddressInfo).port;
  proxy = await proxyTo(upPort);
});

after(async () => {
  proxy.server.close();
  lp.close();
  for (const s of upSessions) s.destroy();
  upstream.close();
});

interface Res {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers?: http2.IncomingHttpHeaders;
  rstCode?: number;
}

function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Res> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let h: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on('response', (x) => (h = x));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('close', () => resolve({ headers: h, body: Buffer.concat(chunks), trailers, rstCode: req.rstCode }));
    if (body) req.end(body);
  });
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.families().find((x) => x.name === name);
  if (!m) return 0;
  return m.samples
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((a, v) => a + v.value, 0);
}

const connect = () => {
  const s = http2.connect(`http://127.0.0.1:${proxy.port}`);
  s.on('error', () => {});
  return s;
};

test('many concurrent streams on one connection: bodies byte for byte, trailers carried, metrics counted', { timeout: 20_000 }, async () => {
  const s = connect();
  const N = 50;
  const before = await metric('response_total', { authority: 'echo.test', classification: 'success', status_code: '200' });
  const results = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const body = randomBytes(1000 + i * 3001);
      const r = await request(s, { ':method': 'POST', ':path': `/echo?i=${i}`, ':authority': 'echo.test', 'x-i': String(i), connection: undefined as unknown as string }, body);
      return { i, body, r };
    }),
  );
  for (const { i, body, r } of results) {
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['x-up'], 'yes');
    assert.ok(r.body.equals(body), `stream ${i}: echoed body differs`);
    const sha = createHash('sha256').update(body).digest('hex');
    assert.equal(r.trailers?.['x-sha'], sha, `stream ${i}: trailers`);
    assert.equal(r.trailers?.['grpc-message'], 'fine');
    const up = seen.get(`/echo?i=${i}`)!;
    assert.equal(up.sha, sha);
    assert.equal(up.headers['x-i'], String(i));
    assert.equal(up.headers[':authority'], 'echo.test');
  }
  assert.equal((await metric('response_total', { authority: 'echo.test', classification: 'success', status_code: '200' })) - before, N);
  assert.equal(await metric('request_total', { authority: 'echo.test', direction: 'outbound', target_addr: `127.0.0.1:${upPort}` }), N);
  s.close();
});

test('bytes that arrive after detection, before the session starts, are not lost (preface split from the rest)', { timeout: 20_000 }, async () => {
  // A client that sends the preface and SETTINGS, then its request a moment later (grpc-js does):
  // detection stops at the preface and the rest waits in the socket's buffer.
  for (let i = 0; i < 5; i++) {
    const s = connect();
    await once(s, 'connect');
    await sleep(20);
    const rs = await Promise.all([1, 2].map((j) => request(s, { ':path': `/split-${i}-${j}` })));
    assert.deepEqual(rs.map((r) => r.body.toString()), [`ok /split-${i}-1`, `ok /split-${i}-2`]);
    s.close();
  }
});

test('a slow reader on one stream does not stall the others', { timeout: 20_000 }, async () => {
  const s = connect();
  // 64 MB that this client never reads: only flow control keeps it from flooding the proxy.
  const big = s.request({ ':path': '/big?n=67108864' }, { endStream: true });
  big.on('error', () => {});
  big.pause();
  await once(big, 'response');
  await sleep(300);
  const t0 = Date.now();
  const small = await Promise.all(Array.from({ length: 20 }, (_, i) => request(s, { ':path': `/small-${i}` })));
  const ms = Date.now() - t0;
  for (const [i, r] of small.entries()) assert.equal(r.body.toString(), `ok /small-${i}`);
  assert.ok(ms < 2000, `small requests took ${ms}ms beside a stalled stream`);
  // And the stalled stream still completes once read.
  let n = 0;
  big.on('data', (c: Buffer) => (n += c.length));
  big.resume();
  await once(big, 'end');
  assert.equal(n, 67108864);
  s.close();
});

test('an upstream RST_STREAM reaches the client with the same code, before and after headers', { timeout: 20_000 }, async () => {
  const s = connect();
  const r1 = await request(s, { ':path': `/rst?code=${http2.constants.NGHTTP2_REFUSED_STREAM}` });
  assert.equal(r1.rstCode, http2.constants.NGHTTP2_REFUSED_STREAM);
  const r2 = await request(s, { ':path': '/rst-after-headers' });
  assert.equal(r2.headers[':status'], 200);
  assert.equal(r2.body.toString(), 'partial');
  assert.equal(r2.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
  const r3 = await request(s, { ':path': `/rst?code=${http2.constants.NGHTTP2_ENHANCE_YOUR_CALM}` });
  assert.equal(r3.rstCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  // The connection itself stays usable.
  assert.equal((await request(s, { ':path': '/after-rst' })).body.toString(), 'ok /after-rst');
  s.close();
});

test('a refused stream (never processed) is retried on a new stream, its body replayed', { timeout: 20_000 }, async () => {
  const s = connect();
  const body = randomBytes(20_000);
  const r = await request(s, { ':method': 'POST', ':path': '/refuse-once?id=a', ':authority': 'retry.test' }, body);
  assert.equal(r.headers[':status'], 200);
  assert.equal(r.body.toString(), createHash('sha256').update(body).digest('hex'));
  const g = await request(s, { ':path': '/refuse-once?id=b' });
  assert.equal(g.headers[':status'], 200);
  assert.equal(await metric('response_total', { authority: 'retry.test', classification: 'success' }), 1);
  s.close();
});

test('a client cancel reaches the upstream as RST_STREAM CANCEL', { timeout: 20_000 }, async () => {
  const s = connect();
  const req = s.request({ ':path': '/hang?cancel=1' }, { endStream: false });
  req.on('error', () => {});
  req.write('some');
  for (let i = 0; i < 50 && !seen.has('/hang?cancel=1'); i++) await sleep(20);
  req.close(http2.constants.NGHTTP2_CANCEL);
  for (let i = 0; i < 50 && seen.get('/hang?cancel=1')?.rstCode === undefined; i++) await sleep(20);
  const up = seen.get('/hang?cancel=1')!;
  assert.equal(up.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.equal(up.aborted, true);
  s.close();
});

test('a client connection that goes away (FIN) cancels its streams upstream', { timeout: 20_000 }, async () => {
  const sock = netConnect(proxy.port, '127.0.0.1');
  const s = http2.connect(`http://127.0.0.1:${proxy.port}`, { createConnection: () => sock });
  s.on('error', () => {});
  const req = s.request({ ':path': '/hang?gone=1' }, { endStream: true });
  req.on('error', () => {});
  for (let i = 0; i < 100 && !seen.has('/hang?gone=1'); i++) await sleep(20);
  assert.ok(seen.has('/hang?gone=1'));
  // The TCP connection ends without any HTTP/2 goodbye (as a killed process's does).
  sock.end();
  for (let i = 0; i < 100 && seen.get('/hang?gone=1')?.rstCode === undefined; i++) await sleep(20);
  assert.equal(seen.get('/hang?gone=1')!.rstCode, http2.constants.NGHTTP2_CANCEL);
  s.destroy();
});

test('a gRPC deadline the upstream overruns is answered DEADLINE_EXCEEDED by the proxy, and the upstream is cancelled', { timeout: 20_000 }, async () => {
  const s = connect();
  const t0 = Date.now();
  const r = await request(s, { ':method': 'POST', ':path': '/hang?deadline=1', 'content-type': 'application/grpc', 'grpc-timeout': '300m', ':authority': 'dl.test' }, Buffer.alloc(5));
  const ms = Date.now() - t0;
  assert.ok(ms >= 290 && ms < 1500, `answered after ${ms}ms`);
  assert.equal(r.headers[':status'], 200);
  assert.equal(r.headers['grpc-status'], '4');
  assert.match(String(r.headers['l5d-proxy-error']), /timeout/);
  for (let i = 0; i < 50 && seen.get('/hang?deadline=1')?.rstCode === undefined; i++) await sleep(20);
  assert.equal(seen.get('/hang?deadline=1')!.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.equal(await metric('response_total', { authority: 'dl.test', grpc_status: '4', classification: 'failure' }), 1);
  s.close();
});

test('a gRPC trailers-only error passes as trailers-only and counts as a failure', { timeout: 20_000 }, async () => {
  const s = connect();
  const r = await request(s, { ':method': 'POST', ':path': '/grpc-error', 'content-type': 'application/grpc', ':authority': 'ge.test' }, Buffer.alloc(5));
  assert.equal(r.headers['grpc-status'], '5');
  assert.equal(r.headers['grpc-message'], 'not here');
  assert.equal(r.trailers, undefined);
  assert.equal(await metric('response_total', { authority: 'ge.test', grpc_status: '5', classification: 'failure', status_code: '200' }), 1);
  s.close();
});

test('an upstream that refuses: 502 for plain h2, UNAVAILABLE for gRPC, each with l5d-proxy-error', { timeout: 20_000 }, async () => {
  const dead = createServer();
  dead.listen(0, '127.0.0.1');
  await once(dead, 'listening');
  const deadPort = (dead.address() as AddressInfo).port;
  dead.close();
  const p = await proxyTo(deadPort);
  const s = http2.connect(`http://127.0.0.1:${p.port}`);
  s.on('error', () => {});
  const plain = await request(s, { ':path': '/', ':authority': 'refused.test' });
  assert.equal(plain.headers[':status'], 502);
  assert.match(String(plain.headers['l5d-proxy-error']), /ECONNREFUSED/);
  const grpc = await request(s, { ':method': 'POST', ':path': '/svc/M', 'content-type': 'application/grpc', ':authority': 'refused.test' }, Buffer.alloc(5));
  assert.equal(grpc.headers[':status'], 200);
  assert.equal(grpc.headers['grpc-status'], '14');
  assert.match(String(grpc.headers['l5d-proxy-error']), /ECONNREFUSED/);
  assert.equal(await metric('response_total', { authority: 'refused.test', status_code: '502', classification: 'failure' }), 1);
  assert.equal(await metric('response_total', { authority: 'refused.test', grpc_status: '14', classification: 'failure' }), 1);
  s.close();
  p.server.close();
});

test('GOAWAY from the upstream: the in-flight stream finishes, the next ones go over a new session', { timeout: 20_000 }, async () => {
  const s = connect();
  const r = await request(s, { ':path': '/goaway' });
  const opened = upSessionsOpened;
  assert.equal(r.body.toString(), 'bye');
  await sleep(100);
  const after = await Promise.all([1, 2, 3].map((i) => request(s, { ':path': `/after-goaway-${i}` })));
  for (const [i, x] of after.entries()) assert.equal(x.body.toString(), `ok /after-goaway-${i + 1}`);
  // Exactly one new upstream session carried the three later requests.
  assert.equal(upSessionsOpened, opened + 1);
  s.close();
});

test('h2 after TLS termination (the inbound mTLS hand-over) is proxied, the detected prefix included', { timeout: 20_000 }, async () => {
  const p = await proxyTo(upPort, '127.0.0.1', true);
  const s = http2.connect(`https://127.0.0.1:${p.port}`, { rejectUnauthorized: false });
  s.on('error', () => {});
  const body = randomBytes(70_000);
  const rs = await Promise.all([1, 2, 3].map((i) => request(s, { ':method': 'POST', ':path': `/echo?tls=${i}` }, body)));
  for (const r of rs) {
    assert.ok(r.body.equals(body));
    assert.equal(r.trailers?.['x-sha'], createHash('sha256').update(body).digest('hex'));
  }
  s.close();
  p.server.close();
});

test('a plain response timeout answers 504 when configured', { timeout: 20_000 }, async () => {
  const timed = loopbackProxy({ env: { LINNET_PROXY_HTTP_RESPONSE_TIMEOUT: '200ms' } });
  const p = await proxyTo(upPort, '127.0.0.1', false, timed);
  try {
    const s = http2.connect(`http://127.0.0.1:${p.port}`);
    s.on('error', () => {});
    const r = await request(s, { ':path': '/hang?plain=1', ':authority': 'to.test' });
    assert.equal(r.headers[':status'], 504);
    assert.match(String(r.headers['l5d-proxy-error']), /timeout/);
    s.close();
  } finally {
    p.server.close();
    timed.close();
  }
});
