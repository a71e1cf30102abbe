/**
 * The inbound orig-proto path's own HTTP/1 client (proxy/protocol/orig-proto/server.ts) against raw
 * app servers on loopback, for what a Node app server does not provoke by itself: interim (1xx)
 * responses, a close-delimited body, HEAD/204/304 on one keep-alive connection, a pooled
 * connection the app closed under us (a bodyless request is resent once on a new connection, a
 * request with a body is not), a malformed response head (502 with l5d-proxy-error) a large
 * body read slowly by the client (intact, and the app held back meanwhile) and a large upload to
 * an app that reads slowly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http2 from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { listenInboundPeer } from './orig-proto-inbound';
import { loopbackProxy } from './support/stacks';

const lp = loopbackProxy({ env: { LINNET_PROXY_HTTP_RESPONSE_TIMEOUT: '2s' } });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const BIG = Buffer.alloc(32 << 20, 0x5a);
for (let i = 0; i < BIG.length; i += 4096) BIG[i] = i & 0xff;

let app: Server;
let proxy: Server;
let proxyPort = 0;
let session: http2.ClientHttp2Session;
/** Requests the app saw, per connection (in connection order): their request lines. */
const seen: string[][] = [];
const sockets = new Set<Socket>();
/** Set when the app's socket took the whole big body (its write callback). */
let appWroteBig = false;

/**
 * A raw HTTP/1.1 app: answers by path. `/stale` on a connection's second request closes the
 * connection without answering (as an app whose keep-alive timeout fired just then).
 */
function rawApp(): Server {
  return createServer({ allowHalfOpen: false }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    const mine: string[] = [];
    seen.push(mine);
    let buf = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        const len = cl && !head.startsWith('POST /sink ') ? Number(cl[1]) : 0;
        if (buf.length < end + 4 + len) return;
        buf = buf.subarray(end + 4 + len);
        const line = head.split('\r\n')[0]!;
        mine.push(line);
        const path = line.split(' ')[1]!;
        if (path === '/sink') {
          // Reads the body slowly (after its head only), so the proxy's writes to it fill up.
          const want = /\r\ncontent-length: *(\d+)/i.exec(head) ? Number(/\r\ncontent-length: *(\d+)/i.exec(head)![1]) : 0;
          return sink(s, buf, want);
        }
        if (path.startsWith('/stale') && mine.length > 1) {
          s.destroy();
          return;
        }
        switch (path.split('?')[0]) {
          case '/early':
            s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
            break;
          case '/close':
            s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close');
            return;
          case '/head':
            s.write('HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n');
            break;
          case '/204':
            s.write('HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n');
            break;
          case '/304':
            s.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n');
            break;
          case '/bad':
            s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx');
            break;
          case '/big':
            s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG.length}\r\n\r\n`);
            s.write(BIG, () => (appWroteBig = true));
            break;
          default:
            s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(mine.length).length}\r\n\r\n${mine.length}`);
        }
      }
    });
  });
}

/** Reads `want` body bytes from `s` (some already in `first`) 64 KiB every 2 ms, then answers their sha256. */
function sink(s: Socket, first: Buffer, want: number): void {
  s.removeAllListeners('data');
  s.pause();
  const h = createHash('sha256').update(first);
  let got = first.length;
  const t = setInterval(() => {
    let c: Buffer | null;
    while (got < want && (c = s.read(Math.min(65536, want - got)) as Buffer | null) !== null) {
      h.update(c);
      got += c.length;
    }
    if (got >= want) {
      clearInterval(t);
      const d = h.digest('hex');
      s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${d.length}\r\nConnection: close\r\n\r\n${d}`);
    }
  }, 2);
  s.on('close', () => clearInterval(t));
}

before(async () => {
  app = rawApp().listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  ({ server: proxy, port: proxyPort } = await listenInboundPeer(appPort, lp, 'client.test'));
  session = http2.connect(`http://127.0.0.1:${proxyPort}`);
  session.on('error', () => {});
  await once(session, 'connect');
});

after(() => {
  session?.destroy();
  lp.close();
  proxy?.close();
  for (const s of sockets) s.destroy();
  app?.close();
});

interface Got {
  status: number;
  headers: http2.IncomingHttpHeaders;
  informational: http2.IncomingHttpHeaders[];
  body: Buffer;
  rst: number;
}

/** Bytes the slow reader had when the app's socket took the last byte of the big body. */
let readWhenAppDone = -1;

function call(method: string, path: string, opts: { body?: Buffer; slow?: boolean } = {}): Promise<Got> {
  const h: http2.OutgoingHttpHeaders = { ':method': method, ':path': path, ':authority': 'web.test', 'l5d-orig-proto': 'HTTP/1.1' };
  if (opts.body) h['content-length'] = String(opts.body.length);
  const st = session.request(h, { endStream: !opts.body });
  if (opts.body) st.end(opts.body);
  const informational: http2.IncomingHttpHeaders[] = [];
  const parts: Buffer[] = [];
  let headers: http2.IncomingHttpHeaders = {};
  st.on('headers', (x) => informational.push(x));
  st.on('response', (x) => (headers = x));
  st.on('error', () => {});
  if (opts.slow) {
    // Read a little at a time so the proxy's buffers fill and it must pause the app's socket.
    st.pause();
    const t = setInterval(() => {
      let c: Buffer | null;
      let n = 0;
      if (appWroteBig && readWhenAppDone < 0) readWhenAppDone = parts.reduce((a, p) => a + p.length, 0);
      while (n < 256 * 1024 && (c = st.read() as Buffer | null) !== null) {
        parts.push(c);
        n += c.length;
      }
    }, 5);
    st.on('end', () => clearInterval(t));
    st.on('close', () => clearInterval(t));
  } else st.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve) => {
    st.on('close', () => resolve({ status: Number(headers[':status'] ?? 0), headers, informational, body: Buffer.concat(parts), rst: st.rstCode ?? 0 }));
  });
}

test('an interim 103 reaches the client before the final response', async () => {
  const r = await call('GET', '/early');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'ok');
  assert.equal(r.informational.length, 1);
  assert.equal(r.informational[0]![':status'], 103);
  assert.equal(r.informational[0]!.link, '</a.css>; rel=preload');
});

test('HEAD, 204 and 304 carry no body and keep the connection; a close-delimited body arrives whole', async () => {
  const head = await call('HEAD', '/head');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '12345');
  assert.equal(head.body.length, 0);
  const s204 = await call('GET', '/204');
  assert.equal(s204.status, 204);
  assert.equal(s204.headers['x-a'], '1');
  const s304 = await call('GET', '/304');
  assert.equal(s304.status, 304);
  assert.equal(s304.headers.etag, '"v1"');
  const conns = seen.filter((c) => c.some((l) => l.startsWith('HEAD /head')));
  assert.equal(conns.length, 1);
  assert.ok(conns[0]!.includes('GET /204 HTTP/1.1') && conns[0]!.includes('GET /304 HTTP/1.1'), `one keep-alive connection: ${JSON.stringify(seen)}`);
  const close = await call('GET', '/close');
  assert.equal(close.status, 200);
  assert.equal(close.body.toString(), 'until the close');
  assert.equal(close.rst, 0);
});

test('a pooled connection the app closed: a bodyless request is resent once on a new one, a request with a body is not', async () => {
  lp.inbound.closeIdleConnections();
  const first = await call('GET', '/stale?1');
  assert.equal(first.status, 200);
  const before = seen.length;
  const again = await call('GET', '/stale?2'); // reuses the connection, which the app closes unanswered
  assert.equal(again.status, 200, JSON.stringify(again.headers));
  assert.equal(seen.length, before + 1, 'resent on a new connection');
  const third = await call('GET', '/stale?3'); // the new connection, second use: stale again, resent again
  assert.equal(third.status, 200);
  const post = await call('POST', '/stale?4', { body: Buffer.from('payload') });
  assert.equal(post.status, 502);
  assert.match(String(post.headers['l5d-proxy-error']), /connection reset/);
});

test('a malformed response head is answered 502 with l5d-proxy-error', async () => {
  const r = await call('GET', '/bad');
  assert.equal(r.status, 502);
  assert.match(String(r.headers['l5d-proxy-error']), /invalid HTTP response/);
});

test('a 32 MiB body read slowly by the client arrives intact, and the app is held back meanwhile (backpressure)', async () => {
  const r = await call('GET', '/big', { slow: true });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, BIG.length);
  assert.equal(sha(r.body), sha(BIG));
  // Without backpressure the proxy would take all of it from the app at once and buffer it; with
  // it, the app's last byte leaves only once the client has read most (what is still in flight is
  // socket and HTTP/2 window buffers, a few MiB at most).
  assert.ok(readWhenAppDone >= BIG.length / 2, `the client had read ${readWhenAppDone} of ${BIG.length} bytes when the app's write completed`);
});

test('a 16 MiB upload with a content-length to an app that reads slowly arrives intact and the stream completes', async () => {
  const body = BIG.subarray(0, 16 << 20);
  const r = await call('POST', '/sink', { body });
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), sha(body));
  assert.equal(r.rst, 0);
});
