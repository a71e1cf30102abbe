/**
 * Chunked trailer sections through the real HTTP/1 proxy path (loopback harness, raw recorder
 * upstream): framing, routing and hop-by-hop fields in a trailer (RFC 9110 §6.5.1) are refused —
 * the client gets 400 and the upstream never receives a complete message carrying them, nor the
 * request pipelined behind — while ordinary trailer fields pass through byte for byte. A response
 * whose trailer carries one is cut off before the client sees it complete.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { rawExchange, rawUpstream, startProxy, type ProxyUnderTest, type RawUpstream } from './http1/harness';

let proxy: ProxyUnderTest;
let upstream: RawUpstream;
let answered = 0;

before(async () => {
  // Answers once per message end it sees (the tests' requests end in an empty trailer line).
  upstream = await rawUpstream((s, d) => {
    if (d.toString('latin1').endsWith('\r\n\r\n')) {
      answered++;
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    }
  });
  proxy = await startProxy(upstream.port);
});
after(async () => {
  await proxy.close();
  upstream.close();
});

/** Writes `parts` one per read (a pause between), stops once the proxy closes; returns what came back. */
async function trickle(port: number, parts: string[]): Promise<{ data: string; closed: boolean }> {
  const s = connect({ port, host: '127.0.0.1' });
  s.on('error', () => {}); // EPIPE/ECONNRESET once the proxy has refused and closed
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  let closed = false;
  s.on('data', (d: Buffer) => chunks.push(d));
  s.on('close', () => (closed = true));
  for (const p of parts) {
    if (closed || s.destroyed) break;
    s.write(p);
    await new Promise((r) => setTimeout(r, 5));
  }
  const deadline = Date.now() + 3000;
  while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  s.destroy();
  return { data: Buffer.concat(chunks).toString('latin1'), closed };
}

const FORBIDDEN = ['Transfer-Encoding: chunked', 'tRaNsFeR-eNcOdInG: gzip', 'Content-Length: 50', 'content-length: 0', 'Host: evil.example', 'Connection: close', 'Keep-Alive: 5', 'Proxy-Connection: close', 'TE: trailers', 'Upgrade: h2c'];

test('a framing, routing or hop-by-hop field in a request trailer: 400, and the upstream never sees a complete message', { timeout: 60_000 }, async () => {
  for (const [k, line] of FORBIDDEN.entries()) {
    const hidden = `GET /smuggled-${k} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const before = upstream.all().length;
    const answeredBefore = answered;
    const body = `5\r\nhello\r\n0\r\n${line}\r\n\r\n`;
    const r = await rawExchange(proxy.port, `POST /t${k} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}${hidden}`, 3000);
    assert.match(r.data, /^HTTP\/1\.1 400 /, `${line}: ${JSON.stringify(r.data.slice(0, 80))}`);
    assert.match(r.data, /l5d-proxy-error: [^\r]*invalid chunked body/i, line);
    assert.ok(r.closed, `${line}: the client connection is closed`);
    const got = upstream.all().slice(before);
    assert.ok(!got.includes('smuggled'), `${line}: the pipelined request reached the upstream: ${JSON.stringify(got)}`);
    assert.ok(!got.toLowerCase().includes(`${line.toLowerCase()}\r\n\r\n`), `${line}: the trailer reached the upstream: ${JSON.stringify(got)}`);
    assert.equal(answered, answeredBefore, `${line}: the upstream saw a complete message`);
  }
});

test('the same trailer split byte by byte across reads is refused alike', { timeout: 60_000 }, async () => {
  const before = upstream.all().length;
  const answeredBefore = answered;
  const trailer = 'Transfer-Encoding: chunked\r\n\r\n';
  const parts = ['POST /split HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n', ...trailer.split(''), 'GET /smuggled-split HTTP/1.1\r\nHost: a\r\n\r\n'];
  const r = await trickle(proxy.port, parts);
  assert.match(r.data, /^HTTP\/1\.1 400 /);
  assert.ok(r.closed);
  const got = upstream.all().slice(before);
  assert.ok(!got.includes('smuggled'), got);
  assert.ok(!got.includes(`0\r\n${trailer}`), got);
  assert.equal(answered, answeredBefore);
});

test('ordinary trailer fields pass through unchanged, and the pipelined request after them is served', { timeout: 30_000 }, async () => {
  const before = upstream.all().length;
  const msg = 'POST /ok HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: abc\r\nServer-Timing: t;dur=1\r\nTrailer: x\r\nContent-Lengthy: 1\r\n\r\n';
  const r = await rawExchange(proxy.port, `${msg}GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, 3000);
  assert.equal([...r.data.matchAll(/HTTP\/1\.1 200 OK/g)].length, 2, r.data);
  const got = upstream.all().slice(before);
  assert.ok(got.startsWith(msg), JSON.stringify(got));
  assert.ok(got.includes('GET /next HTTP/1.1'), got);
});

test('a response trailer with a framing field is not carried to the client as a complete response', { timeout: 30_000 }, async () => {
  const bad = await rawUpstream((s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nContent-Length: 7\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nspoofed'));
  proxy.setTarget(bad.port);
  try {
    const r = await rawExchange(proxy.port, 'GET /r HTTP/1.1\r\nHost: a\r\n\r\n', 3000);
    assert.ok(r.closed, 'the client connection is cut');
    assert.ok(!r.data.includes('Content-Length: 7'), JSON.stringify(r.data));
    assert.ok(!r.data.includes('spoofed'), JSON.stringify(r.data));
  } finally {
    proxy.setTarget(upstream.port);
    bad.close();
  }
});
