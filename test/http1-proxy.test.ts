/**
 * The HTTP/1 proxy with real peers on loopback: node:http and raw TCP upstreams, node:http, raw
 * and `ws` clients. Each test asserts what reached the other side (byte for byte where it
 * matters) and what the golden metrics counted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, Agent, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { randomBytes, createHash } from 'node:crypto';
import { connect, type AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { metricSum, rawExchange, rawUpstream, startProxy, type ProxyUnderTest } from './http1/harness';

let app: Server;
let appConns = 0;
let proxy: ProxyUnderTest;
const seen: { method: string; url: string; headers: Record<string, string | string[] | undefined>; rawHeaders: string[]; body: Buffer }[] = [];

before(async () => {
  app = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      const u = new URL(req.url!, 'http://x');
      if (u.pathname === '/status') {
        res.writeHead(Number(u.searchParams.get('code')), req.method === 'HEAD' ? { etag: '"x"', 'content-length': '5' } : { etag: '"x"' });
        return res.end();
      }
      if (u.pathname === '/echo') {
        res.setHeader('x-sha', createHash('sha256').update(body).digest('hex'));
        if (u.searchParams.get('chunked')) res.write(body.subarray(0, 1)), res.end(body.subarray(1));
        else res.end(body);
        return;
      }
      if (u.pathname === '/big') {
        const n = Number(u.searchParams.get('n'));
        res.setHeader('content-length', n);
        const block = Buffer.alloc(65536, 7);
        let left = n;
        const pump = () => {
          while (left > 0) {
            const k = Math.min(left, block.length);
            left -= k;
            if (!res.write(block.subarray(0, k))) return res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      if (u.pathname === '/fail') return void res.writeHead(500).end('no');
      if (u.pathname === '/plain') return void res.end(`plain ${req.url}`);
      res.setHeader('x-hop', 'a');
      res.setHeader('connection', 'keep-alive, x-hop');
      res.end(`hello ${req.method} ${req.url}`);
    });
  });
  app.on('connection', () => appConns++);
  app.on('upgrade', () => {});
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  proxy = await startProxy((app.address() as AddressInfo).port);
});
after(async () => {
  await proxy.close();
  app.closeAllConnections();
  app.close();
});

function get(path: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer; agent?: Agent } = {}): Promise<{ res: IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: proxy.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ res, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('GET with keep-alive: one upstream connection carries sequential requests from two clients; hop-by-hop removed both ways', { timeout: 30_000 }, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const before = appConns;
  for (let i = 0; i < 3; i++) {
    const { res, body } = await get(`/hello/${i}`, { agent, headers: { connection: 'keep-alive, x-secret', 'x-secret': 's', 'keep-alive': 'timeout=5', te: 'trailers', host: 'web.example:8080' } });
    assert.equal(res.statusCode, 200);
    assert.equal(body.toString(), `hello GET /hello/${i}`);
    assert.equal(res.headers['x-hop'], undefined, 'a field named in the response Connection is removed');
    const s = seen.at(-1)!;
    assert.equal(s.headers['x-secret'], undefined);
    assert.equal(s.headers['keep-alive'], undefined);
    assert.equal(s.headers['te'], undefined);
    assert.equal(s.headers.host, 'web.example:8080');
  }
  agent.destroy();
  const other = new Agent({ keepAlive: true });
  await get('/again', { agent: other });
  other.destroy();
  assert.equal(appConns - before, 1, 'the pooled upstream connection was reused');
  const m = await proxy.metrics();
  assert.equal(metricSum(m, 'request_total', { authority: 'web.example:8080' }), 3);
  assert.equal(metricSum(m, 'response_total', { authority: 'web.example:8080', status_code: '200', classification: 'success' }), 3);
  assert.equal(metricSum(m, 'response_latency_ms_count', { authority: 'web.example:8080' }), 3);
});

test('content-length and chunked bodies pass byte for byte both ways', { timeout: 30_000 }, async () => {
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const sha = createHash('sha256').update(body).digest('hex');
  const a = await get('/echo', { method: 'POST', body });
  assert.equal(a.res.headers['x-sha'], sha);
  assert.equal(createHash('sha256').update(a.body).digest('hex'), sha);
  // Chunked both ways: node sends chunked when no length is set and the body is written in parts.
  const b = await new Promise<{ sha: string; te?: string; got: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: proxy.port, path: '/echo?chunked=1', method: 'PUT' }, (res) => {
      const h = createHash('sha256');
      res.on('data', (d) => h.update(d));
      res.on('end', () => resolve({ sha: String(res.headers['x-sha']), te: res.headers['transfer-encoding'], got: h.digest('hex') }));
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 100_000) req.write(body.subarray(i, i + 100_000));
    req.end();
  });
  assert.equal(seen.at(-1)!.headers['transfer-encoding'], 'chunked');
  assert.equal(b.sha, sha);
  assert.equal(b.got, sha);
  assert.equal(b.te, 'chunked');
});

test('HEAD, 204 and 304 have no body and the connection goes on', { timeout: 30_000 }, async () => {
  const r = await rawExchange(proxy.port, 'HEAD /status?code=200 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=204 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=304 HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  const statuses = [...r.data.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '204', '304', '200']);
  assert.match(r.data, /content-length: 5\r\n/i);
  assert.ok(r.data.endsWith('hello GET /last'), r.data);
  assert.ok(r.closed);
});

test('pipelined requests are answered in order', { timeout: 30_000 }, async () => {
  const reqs = [1, 2, 3, 4, 5].map((i) => `GET /p${i} HTTP/1.1\r\nHost: a\r\n${i === 5 ? 'Connection: close\r\n' : ''}\r\n`).join('');
  const r = await rawExchange(proxy.port, reqs);
  const bodies = [...r.data.matchAll(/hello GET (\/p\d)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, ['/p1', '/p2', '/p3', '/p4', '/p5']);
  assert.ok(r.closed);
});

test('a client that half-closes right after its request still gets the whole answer, then the close', { timeout: 30_000 }, async () => {
  // The socket keeps reading while the answer is awaited: the FIN arrives then, and must neither
  // cut the answer nor leave the connection open after it.
  const raw = await rawUpstream((sock) => setTimeout(() => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate'), 200));
  proxy.setTarget(raw.port);
  try {
    const s = connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
    await once(s, 'connect');
    s.end('GET /half HTTP/1.1\r\nHost: h\r\n\r\n');
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    await once(s, 'end');
    s.destroy();
    // The proxy may have seen the FIN before the answer came: then it says it closes.
    assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 200 OK\r\ncontent-length: 4\r\n(connection: close\r\n)?\r\nlate$/);
    assert.match(raw.all(), /^GET \/half HTTP\/1\.1\r\n/);
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('bytes a client sends while its answer is awaited are the next request, served after it', { timeout: 30_000 }, async () => {
  let n = 0;
  const raw = await rawUpstream((sock) => {
    const i = ++n;
    setTimeout(() => sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nr${i}`), i === 1 ? 200 : 0);
  });
  proxy.setTarget(raw.port);
  try {
    // The second request is written 50 ms into the first's wait, not with it.
    const r = await rawExchange(proxy.port, ['GET /w1 HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /w2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'], 3000);
    assert.equal(r.data, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nr1HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nr2');
    assert.ok(r.closed);
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('HTTP/1.0 client: answered, then closed (or kept with keep-alive)', { timeout: 30_000 }, async () => {
  const r = await rawExchange(proxy.port, 'GET /ten HTTP/1.0\r\n\r\n');
  assert.match(r.data, /^HTTP\/1\.1 200 /);
  assert.match(r.data, /connection: close/i);
  assert.ok(r.data.endsWith('hello GET /ten'));
  assert.ok(r.closed, 'HTTP/1.0 without keep-alive closes');
  // An upstream answer without a length can only be ended by closing (node:http does so for 1.0).
  const c = await rawExchange(proxy.port, 'GET /plain HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 1000);
  assert.match(c.data, /connection: close/i);
  assert.ok(c.closed);
  // With a length, a 1.0 keep-alive client keeps its connection; the upstream was asked for keep-alive.
  const raw = await rawUpstream((sock) => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain'));
  proxy.setTarget(raw.port);
  try {
    const k = await rawExchange(proxy.port, 'GET /k HTTP/1.0\r\nConnection: keep-alive\r\nHost: k\r\n\r\n', 500);
    assert.equal(k.data, 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nplain');
    assert.equal(k.closed, false);
    assert.equal(raw.all(), 'GET /k HTTP/1.0\r\nHost: k\r\nconnection: keep-alive\r\n\r\n');
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
  const up = seen.find((s) => s.url === '/ten')!;
  assert.ok(up, 'the 1.0 request reached the upstream');
});

test('Expect: 100-continue: the client gets 100 Continue and its body arrives', { timeout: 30_000 }, async () => {
  const body = Buffer.from('x'.repeat(5000));
  const got = await new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
    let continued = false;
    const req = request({ host: '127.0.0.1', port: proxy.port, path: '/echo', method: 'POST', headers: { expect: '100-continue', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ continued, status: res.statusCode! }));
    });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('error', reject);
  });
  assert.deepEqual(got, { continued: true, status: 200 });
  assert.equal(seen.at(-1)!.body.length, 5000);
});

test('smuggling attempts get 400, the connection closes, and no byte reaches the upstream', { timeout: 30_000 }, async () => {
  const raw = await rawUpstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
  proxy.setTarget(raw.port);
  try {
    const attempts = [
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4x\r\nabcd\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n',
      'GET / HTTP/1.1\nHost: a\n\n',
      'GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n',
      'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    ];
    for (const a of attempts) {
      const r = await rawExchange(proxy.port, a);
      assert.match(r.data, /^HTTP\/1\.1 400 Bad Request\r\n/, `for ${JSON.stringify(a)}: ${r.data}`);
      assert.match(r.data, /l5d-proxy-error: invalid HTTP request/);
      assert.ok(r.closed, 'connection closed');
    }
    assert.equal(raw.connections, 0, `the upstream saw: ${raw.all()}`);
    const m = await proxy.metrics();
    assert.ok(metricSum(m, 'response_total', { status_code: '400' }) >= attempts.length);
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('a valid request followed by a smuggled one: the upstream sees exactly one request', { timeout: 30_000 }, async () => {
  const raw = await rawUpstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
  proxy.setTarget(raw.port);
  try {
    const r = await rawExchange(proxy.port, 'GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy');
    assert.match(r.data, /^HTTP\/1\.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP\/1\.1 400 /);
    assert.equal(raw.all(), 'GET /one HTTP/1.1\r\nHost: a\r\n\r\n');
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('header limits answer 431', { timeout: 30_000 }, async () => {
  const many = Array.from({ length: 101 }, (_, i) => `x-h${i}: v\r\n`).join('');
  const r1 = await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n`);
  assert.match(r1.data, /^HTTP\/1\.1 431 /);
  const r2 = await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(17000)}\r\n\r\n`);
  assert.match(r2.data, /^HTTP\/1\.1 431 /);
  assert.ok(r1.closed && r2.closed);
});

test('502 when the upstream refuses, 504 when it does not answer, 502 when it resets before answering', { timeout: 30_000 }, async () => {
  const refused = await rawUpstream(() => {});
  const port = refused.port;
  refused.close();
  proxy.setTarget(port);
  const a = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: refused\r\n\r\n', 1500);
  assert.match(a.data, /^HTTP\/1\.1 502 Bad Gateway\r\nl5d-proxy-error: connection refused/);

  const silent = await rawUpstream(() => {});
  proxy.setTarget(silent.port);
  const t0 = Date.now();
  const b = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: silent\r\n\r\n', 4000);
  assert.match(b.data, /^HTTP\/1\.1 504 Gateway Timeout\r\nl5d-proxy-error: response timeout/);
  assert.ok(Date.now() - t0 >= 1900);
  silent.close();

  const resetter = await rawUpstream((s) => s.resetAndDestroy());
  proxy.setTarget(resetter.port);
  const c = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: resetter\r\n\r\n', 1500);
  assert.match(c.data, /^HTTP\/1\.1 502 Bad Gateway\r\nl5d-proxy-error: connection reset by upstream/);
  resetter.close();
  proxy.setTarget((app.address() as AddressInfo).port);

  const m = await proxy.metrics();
  assert.equal(metricSum(m, 'response_total', { authority: 'refused', status_code: '502', classification: 'failure' }), 1);
  assert.equal(metricSum(m, 'response_total', { authority: 'silent', status_code: '504', classification: 'failure' }), 1);
  assert.equal(metricSum(m, 'response_total', { authority: 'resetter', status_code: '502', classification: 'failure' }), 1);
});

test('an upstream that resets mid-response: the client sees the cut, metrics say failure', { timeout: 30_000 }, async () => {
  const raw = await rawUpstream((s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n' + 'a'.repeat(1000));
    setTimeout(() => s.resetAndDestroy(), 50);
  });
  proxy.setTarget(raw.port);
  try {
    const r = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: cut\r\n\r\n');
    assert.match(r.data, /^HTTP\/1\.1 200 OK/);
    assert.ok(r.data.length < 100000);
    assert.equal(r.error, 'ECONNRESET');
    const m = await proxy.metrics();
    assert.equal(metricSum(m, 'response_total', { authority: 'cut', classification: 'failure' }), 1);
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('a client that closes mid-body: the upstream never sees a complete request', { timeout: 30_000 }, async () => {
  let upstreamSaw = '';
  let upstreamClosed = false;
  const raw = await rawUpstream((s, d) => {
    upstreamSaw += d.toString('latin1');
    s.once('close', () => (upstreamClosed = true));
  });
  proxy.setTarget(raw.port);
  try {
    await rawExchange(proxy.port, ['POST /up HTTP/1.1\r\nHost: mid\r\nContent-Length: 1000\r\n\r\n' + 'b'.repeat(300)], 300);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(upstreamSaw.startsWith('POST /up HTTP/1.1\r\n'));
    assert.ok(upstreamSaw.length < 1000 + 50);
    assert.ok(upstreamClosed, 'the upstream connection was closed');
    const m = await proxy.metrics();
    assert.equal(metricSum(m, 'response_total', { authority: 'mid', classification: 'failure' }), 1);
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('a stale pooled connection is retried on a fresh one for a bodiless request', { timeout: 30_000 }, async () => {
  // Each connection answers one request and then closes without telling (no Connection: close).
  const raw = await rawUpstream((s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', () => setTimeout(() => s.destroy(), 5));
  });
  proxy.setTarget(raw.port);
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const a = await get('/1', { agent });
    await new Promise((r) => setTimeout(r, 5)); // the upstream closes while the connection sits in the pool
    const b = await get('/2', { agent });
    agent.destroy();
    assert.equal(a.body.toString(), 'ok');
    assert.equal(b.body.toString(), 'ok');
    assert.equal(raw.connections, 2);
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('WebSocket upgrade becomes a byte tunnel: text, binary, ping and close codes pass', { timeout: 30_000 }, async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const headersSeen: Record<string, string | string[] | undefined>[] = [];
  wss.on('connection', (ws, req) => {
    headersSeen.push(req.headers);
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'bye') return ws.close(4321, 'done here');
      ws.send(data, { binary: isBinary });
    });
  });
  proxy.setTarget((wss.address() as AddressInfo).port);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`);
    await once(ws, 'open');
    const next = () => once(ws, 'message') as Promise<[Buffer, boolean]>;
    let p = next();
    ws.send('hello');
    let [d, bin] = await p;
    assert.equal(d.toString(), 'hello');
    assert.equal(bin, false);
    const blob = randomBytes(200_000);
    p = next();
    ws.send(blob);
    [d, bin] = await p;
    assert.ok(bin);
    assert.ok(Buffer.compare(d, blob) === 0);
    const pong = once(ws, 'pong');
    ws.ping('are you there');
    assert.equal(((await pong)[0] as Buffer).toString(), 'are you there');
    const closed = once(ws, 'close');
    ws.send('bye');
    const [code, reason] = await closed;
    assert.equal(code, 4321);
    assert.equal(reason.toString(), 'done here');
    assert.equal(headersSeen[0]!.upgrade, 'websocket');
    assert.match(String(headersSeen[0]!.connection), /upgrade/i);
    const m = await proxy.metrics();
    assert.ok(metricSum(m, 'response_total', { status_code: '101', classification: 'success' }) >= 1);
  } finally {
    wss.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('5xx from the upstream counts as failure', { timeout: 30_000 }, async () => {
  const r = await get('/fail', { headers: { host: 'failing' } });
  assert.equal(r.res.statusCode, 500);
  const m = await proxy.metrics();
  assert.equal(metricSum(m, 'response_total', { authority: 'failing', status_code: '500', classification: 'failure' }), 1);
});

test('drain: an idle keep-alive connection closes at once; a busy one gets its response with connection: close', { timeout: 30_000 }, async () => {
  const { connect } = await import('node:net');
  let release: () => void = () => {};
  const slow = await rawUpstream((s) => {
    release = () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow');
  });
  const p2 = await startProxy(slow.port);
  try {
    const idle = connect({ port: p2.port, host: '127.0.0.1' });
    await once(idle, 'connect');
    const idleClosed = once(idle, 'close');
    idle.on('error', () => {});
    const busy = connect({ port: p2.port, host: '127.0.0.1' });
    await once(busy, 'connect');
    let answer = '';
    busy.on('data', (d) => (answer += d.toString('latin1')));
    const busyClosed = once(busy, 'close');
    busy.write('GET /slow HTTP/1.1\r\nHost: drain\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    p2.handler.drain();
    await idleClosed;
    assert.equal(answer, '', 'the busy connection is still waiting for its response');
    release();
    await busyClosed;
    assert.equal(answer, 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nslow');
  } finally {
    slow.close();
    await p2.close();
  }
});

test('a chunked answer to an HTTP/1.0 client goes out decoded and ends with the close', { timeout: 30_000 }, async () => {
  const raw = await rawUpstream((s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n'));
  proxy.setTarget(raw.port);
  try {
    const r = await rawExchange(proxy.port, 'GET /old HTTP/1.0\r\nHost: old\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(r.data, 'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello, world');
    assert.ok(r.closed);
  } finally {
    raw.close();
    proxy.setTarget((app.address() as AddressInfo).port);
  }
});

test('the request-head timeout: an idle keep-alive connection is closed, one that keeps asking is not, a head begun and left gets 408', { timeout: 30_000 }, async () => {
  // Every connection's head timeout is on one shared list (core/deadline-list.ts): each must still
  // get its own deadline, counted from its own last response.
  const timed = await startProxy((app.address() as AddressInfo).port, { headerReadTimeoutMs: 400 });
  try {
    const { connect } = await import('node:net');
    const open = async (): Promise<import('node:net').Socket> => {
      const s = connect(timed.port, '127.0.0.1');
      await once(s, 'connect');
      return s;
    };
    const ask = async (s: import('node:net').Socket, path: string): Promise<string> => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
      const [d] = (await once(s, 'data')) as [Buffer];
      return d.toString('latin1');
    };
    const closedAt = (s: import('node:net').Socket): Promise<number> => new Promise((r) => s.once('close', () => r(Date.now())));

    const idle = await open();
    assert.match(await ask(idle, '/plain'), /^HTTP\/1\.1 200/);
    const idleSince = Date.now();
    const idleClosed = closedAt(idle);

    // Asks every 150 ms for 1.2 s: three times the timeout, never idle for one.
    const busy = await open();
    let busyClosed = false;
    busy.once('close', () => (busyClosed = true));
    for (let i = 0; i < 8; i++) {
      assert.match(await ask(busy, `/plain?i=${i}`), /^HTTP\/1\.1 200/);
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.equal(busyClosed, false, 'a connection asking within the timeout each time stays open');

    const waited = (await idleClosed) - idleSince;
    assert.ok(waited >= 350 && waited < 3000, `idle keep-alive connection closed after ${waited} ms (timeout 400 ms)`);

    // A head begun and never finished: 408 and the close.
    const slow = await open();
    slow.write('GET /plain HTTP/1.1\r\nHost: t\r\n');
    const t0 = Date.now();
    const chunks: Buffer[] = [];
    slow.on('data', (d: Buffer) => chunks.push(d));
    await once(slow, 'close');
    assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - t0 >= 350, `408 after ${Date.now() - t0} ms`);
    busy.destroy();
  } finally {
    await timed.close();
  }
});
