/**
 * The orig-proto upgrade's two halves on loopback, with real sockets and real peers: the inbound
 * HTTP/2 handler (serveH2, as after a peer's mTLS) turning `l5d-orig-proto` streams into HTTP/1.1
 * requests to a Node HTTP app, and the outbound link (H2Link) turning the HTTP/2 responses back
 * into the HTTP/1.1 bytes the HTTP/1 handler reads. Covers what the netns test cannot provoke:
 * an app that cuts its response mid-body (the stream is reset, and so is the HTTP/1 client), an
 * app that never answers (504), an app that is down (502), a session gone before the stream
 * (retry-safe), each with `l5d-proxy-error` where the proxy answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as netConnect, createServer, type AddressInfo, type Server } from 'node:net';
import { once } from 'node:events';
import { listenInboundPeer } from './orig-proto-inbound';
import { loopbackProxy } from './support/stacks';
import { parseRequestHead, parseResponseHead, requestFraming, type RequestHead } from '../proxy/protocol/h1/parse-head';
import { ChunkedScanner } from '../proxy/protocol/h1/chunked';
import { H2Link } from '../proxy/protocol/orig-proto/client';
import { H2Connection } from '../proxy/protocol/h2/connection';

const lp = loopbackProxy({ env: { LINNET_PROXY_HTTP_RESPONSE_TIMEOUT: '1s' } });
const registry = lp.registry;
const CLIENT_ID = 'client.test.serviceaccount.identity.linnet.cluster.local';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let app: HttpServer;
let appPort = 0;
let proxy: Server;
let proxyPort = 0;
let downProxy: Server;
let downPort = 0;
const sessions: H2Connection[] = [];

const inboundProxy = (targetPort: number) => listenInboundPeer(targetPort, lp, CLIENT_ID);

before(async () => {
  app = createHttpServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const url = req.url ?? '/';
      if (url === '/echo') {
        const out = Buffer.from(JSON.stringify({ httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, body: body.toString(), sha: sha(body), trailers: req.trailers }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
        res.end(out);
      } else if (url === '/chunked') {
        res.writeHead(201, { trailer: 'x-sum' });
        res.write('one ');
        res.write('two');
        res.addTrailers({ 'x-sum': 'onetwo' });
        res.end();
      } else if (url === '/cut') {
        res.writeHead(200, { 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 0x61), () => setTimeout(() => req.socket.destroy(), 50));
      } else if (url === '/slow') {
        // Never answers: the proxy's response timeout does.
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  appPort = (app.address() as AddressInfo).port;
  ({ server: proxy, port: proxyPort } = await inboundProxy(appPort));
  // A port nothing listens on: the app is down.
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const deadPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  ({ server: downProxy, port: downPort } = await inboundProxy(deadPort));
});

after(async () => {
  for (const s of sessions) s.destroy();
  lp.close();
  proxy?.close();
  downProxy?.close();
  app?.closeAllConnections();
  app?.close();
});

/** The outbound side's HTTP/2 connection to the inbound proxy, as its client pool makes it. */
async function session(port: number): Promise<H2Connection> {
  const socket = netConnect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return new Promise((resolve) => {
    const c: H2Connection = new H2Connection(socket, { role: 'client', settings: lp.config.http2 }, { onConnect: () => resolve(c) });
    sessions.push(c);
  });
}

interface Outcome {
  bytes: Buffer;
  errno: string;
  retrySafe: boolean;
}

/** One HTTP/1.1 request through an H2Link on `s`; resolves when the stream closes. */
function exchange(s: H2Connection, raw: string, body: string[] = []): Promise<Outcome> {
  const b = Buffer.from(raw, 'latin1');
  const r = parseRequestHead(b);
  assert.equal(r.kind, 'ok');
  const head = (r as { head: RequestHead }).head;
  const link = new H2Link({ conn: s, release: () => {} }, head, requestFraming(head), 'fallback:80');
  const parts: Buffer[] = [];
  return new Promise((resolve) => {
    link.handler = {
      onUpstreamData: (c) => parts.push(Buffer.from(c)),
      onUpstreamEnd: () => {},
      onUpstreamDrain: () => {},
      onUpstreamClose: (errno, retrySafe = false) => resolve({ bytes: Buffer.concat(parts), errno, retrySafe }),
    };
    link.send(b, []);
    for (const x of body) link.write(Buffer.from(x, 'latin1'));
  });
}

/** The HTTP/1.1 response in `bytes`, read with the proxy's own strict parser. */
function readResponse(bytes: Buffer): { status: number; fields: Record<string, string>; body: string; complete: boolean } {
  const r = parseResponseHead(bytes);
  assert.equal(r.kind, 'ok', `not an HTTP/1.1 response: ${bytes.subarray(0, 200).toString('latin1')}`);
  const { head, length } = r as Extract<typeof r, { kind: 'ok' }>;
  const fields: Record<string, string> = {};
  head.names.forEach((n, i) => (fields[n.toLowerCase()] = head.values[i]!));
  const rest = bytes.subarray(length);
  if (head.transferEncoding) {
    let body = '';
    const sc = new ChunkedScanner({ onData: (x, a, z) => (body += x.subarray(a, z).toString('latin1')) });
    const end = sc.push(rest);
    return { status: head.status, fields, body, complete: sc.done && end === rest.length };
  }
  return { status: head.status, fields, body: rest.toString('latin1'), complete: head.contentLength < 0 || rest.length === head.contentLength };
}

test('a plain request: the app sees HTTP/1.1 without l5d-orig-proto, the client a content-length response', async () => {
  const s = await session(proxyPort);
  const o = await exchange(s, 'GET /echo HTTP/1.1\r\nHost: web.test\r\nX-A: 1\r\nConnection: keep-alive\r\n\r\n');
  const res = readResponse(o.bytes);
  assert.equal(res.status, 200);
  assert.ok(res.complete);
  assert.equal(res.fields['content-length'], String(res.body.length));
  assert.equal(res.fields['l5d-orig-proto'], undefined);
  const seen = JSON.parse(res.body) as { httpVersion: string; rawHeaders: string[] };
  assert.equal(seen.httpVersion, '1.1');
  assert.ok(!seen.rawHeaders.some((h) => h.toLowerCase() === 'l5d-orig-proto'));
  assert.deepEqual(seen.rawHeaders.slice(0, 2), ['host', 'web.test'], 'Host comes from :authority');
  assert.ok(seen.rawHeaders.includes('X-A') || seen.rawHeaders.includes('x-a'));
  assert.equal(o.retrySafe, false);
});

test('chunked request body and trailers reach the app; a chunked response and its trailers come back chunked', async () => {
  const s = await session(proxyPort);
  const o = await exchange(s, 'POST /echo HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n', ['5;x=y\r\nhel', 'lo\r\n3\r\n wo\r\n0\r\nX-Req: 7\r\n\r\n']);
  const seen = JSON.parse(readResponse(o.bytes).body) as { body: string; trailers: Record<string, string> };
  assert.equal(seen.body, 'hello wo');
  assert.deepEqual(seen.trailers, { 'x-req': '7' });

  const c = await exchange(s, 'GET /chunked HTTP/1.1\r\nHost: web.test\r\nTE: trailers\r\n\r\n');
  const res = readResponse(c.bytes);
  assert.equal(res.status, 201);
  assert.equal(res.fields['transfer-encoding'], 'chunked');
  assert.equal(res.body, 'one two');
  assert.ok(res.complete);
  assert.match(c.bytes.toString('latin1'), /\r\n0\r\nx-sum: onetwo\r\n\r\n$/);
});

test('an app that cuts its response mid-body resets the stream: the HTTP/1 side sees a reset, not a complete message', async () => {
  const s = await session(proxyPort);
  const o = await exchange(s, 'GET /cut HTTP/1.1\r\nHost: web.test\r\n\r\n');
  const res = readResponse(o.bytes);
  assert.equal(res.status, 200);
  assert.equal(res.complete, false);
  assert.match(o.errno, /reset|STREAM_ERROR/, o.errno);
  assert.equal(o.retrySafe, false, 'a response had started: never retried');
});

test('the proxy answers for the app: 504 when it never answers, 502 when it is down, with l5d-proxy-error', async () => {
  const s = await session(proxyPort);
  const slow = readResponse((await exchange(s, 'GET /slow HTTP/1.1\r\nHost: web.test\r\n\r\n')).bytes);
  assert.equal(slow.status, 504);
  assert.match(slow.fields['l5d-proxy-error'] ?? '', /response timeout/);
  const d = await session(downPort);
  const down = readResponse((await exchange(d, 'GET /echo HTTP/1.1\r\nHost: web.test\r\n\r\n')).bytes);
  assert.equal(down.status, 502);
  assert.match(down.fields['l5d-proxy-error'] ?? '', /ECONNREFUSED/);
});

test('a session gone before the stream opened: the close is retry-safe (nothing was sent)', async () => {
  const s = await session(proxyPort);
  s.destroy();
  const o = await exchange(s, 'GET /echo HTTP/1.1\r\nHost: web.test\r\n\r\n');
  assert.equal(o.retrySafe, true);
  assert.equal(o.bytes.length, 0);
});

test('inbound golden metrics name the meshed client', async () => {
  const text = registry.text();
  const line = text.split('\n').find((l) => l.startsWith('request_total{') && l.includes('direction="inbound"') && l.includes(`client_id="${CLIENT_ID}"`) && l.includes(`target_addr="127.0.0.1:${appPort}"`));
  assert.ok(line, text);
  assert.ok(Number(line.split(' ').pop()) >= 4, line);
});

test('300 concurrent exchanges on one session: each reads as its own complete response', async () => {
  // (The head-before-body ordering this guards was found by the netns stress, 0.3% of 4000
  // requests over mTLS; loopback does not provoke it reliably.)
  const s = await session(proxyPort);
  const outs = await Promise.all(Array.from({ length: 300 }, () => exchange(s, 'GET /echo HTTP/1.1\r\nHost: web.test\r\n\r\n')));
  for (const o of outs) {
    const res = readResponse(o.bytes);
    assert.equal(res.status, 200);
    assert.ok(res.complete);
    assert.equal((JSON.parse(res.body) as { httpVersion: string }).httpVersion, '1.1');
  }
});
