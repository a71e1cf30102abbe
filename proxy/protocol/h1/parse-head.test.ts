/**
 * The head parser and chunked validator directly: framing decisions, limits, smuggling shapes,
 * and properties over generated messages (any split of the input gives the same reading; a valid
 * message is read back exactly; a bare CR/LF or NUL injected into a head is refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChunkedError, ChunkedScanner } from './chunked';
import { clientResponseHead, requestAuthority, upstreamRequestHead } from './forward-head';
import { METHODS, parseRequestHead, parseResponseHead, requestFraming, requestKeepAlive, responseFraming, type RequestHead } from './parse-head';
import { scanRequests } from './scan-requests';

const B = (s: string) => Buffer.from(s, 'latin1');

function okHead(s: string): RequestHead {
  const r = parseRequestHead(B(s));
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  return (r as { head: RequestHead }).head;
}

test('request framing: none, length, chunked; CONNECT has no body', () => {
  assert.deepEqual(requestFraming(okHead('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), { kind: 'none' });
  assert.deepEqual(requestFraming(okHead('POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n')), { kind: 'length', length: 12 });
  assert.deepEqual(requestFraming(okHead('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')), { kind: 'chunked' });
  assert.deepEqual(requestFraming(okHead('CONNECT a.b:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n')), { kind: 'none' });
});

test('response framing: HEAD, 1xx, 204, 304 have no body; no length means read until close', () => {
  const res = (s: string) => {
    const r = parseResponseHead(B(s));
    assert.equal(r.kind, 'ok');
    return (r as { head: Parameters<typeof responseFraming>[0] }).head;
  };
  assert.deepEqual(responseFraming(res('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n'), 'HEAD'), { kind: 'none' });
  assert.deepEqual(responseFraming(res('HTTP/1.1 204 No Content\r\n\r\n'), 'GET'), { kind: 'none' });
  assert.deepEqual(responseFraming(res('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n'), 'GET'), { kind: 'none' });
  assert.deepEqual(responseFraming(res('HTTP/1.1 200 OK\r\n\r\n'), 'GET'), { kind: 'close' });
  assert.deepEqual(responseFraming(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'), 'GET'), { kind: 'close' });
  assert.deepEqual(responseFraming(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), 'GET'), { kind: 'chunked' });
  assert.deepEqual(responseFraming(res('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n'), 'GET'), { kind: 'none' });
  assert.equal(parseResponseHead(B('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')).kind, 'error');
  assert.equal(parseResponseHead(B('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n')).kind, 'ok');
  assert.equal(parseResponseHead(B('HTTP/1.1 2x0 OK\r\n\r\n')).kind, 'error');
  assert.equal(parseResponseHead(B('SSH-2.0-OpenSSH\r\n')).kind, 'error');
});

test('keep-alive: 1.1 by default, 1.0 only when asked, close wins', () => {
  assert.equal(requestKeepAlive(okHead('GET / HTTP/1.1\r\n\r\n')), true);
  assert.equal(requestKeepAlive(okHead('GET / HTTP/1.1\r\nConnection: Close\r\n\r\n')), false);
  assert.equal(requestKeepAlive(okHead('GET / HTTP/1.0\r\n\r\n')), false);
  assert.equal(requestKeepAlive(okHead('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')), true);
});

test('smuggling shapes are refused with 400', () => {
  for (const s of [
    'POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n',
    'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n',
    'POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n',
    'POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n',
    'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n',
    'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
    'POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n',
    'POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n',
    'POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n\r\n',
    'POST / HTTP/1.1\r\nX: a\r\n\tTransfer-Encoding: chunked\r\n\r\n',
    'GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n',
    'GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n',
    'GET / HTTP/1.1\r\nX: a\rY: b\r\n\r\n',
    'GET / HTTP/1.1\r\n\rX: b\r\n\r\n',
    'GET /\x7f HTTP/1.1\r\n\r\n',
    'GET  / HTTP/1.1\r\n\r\n',
    'GET / HTTP/1.1 \r\n\r\n',
    'GET / HTTP/1.2\r\n\r\n',
    'GET / HTTP/2.0\r\n\r\n',
    'FOO / HTTP/1.1\r\n\r\n',
    'CONNECT /path HTTP/1.1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  ]) {
    const r = parseRequestHead(B(s));
    assert.equal(r.kind, 'error', JSON.stringify(s));
    assert.equal((r as { status: number }).status, 400, JSON.stringify(s));
  }
});

test('a request Content-Length with whitespace after the digits is refused (upstreams read it differently), before it is fine', () => {
  for (const v of ['5 ', '5\t', '5 \t ', ' 5\t']) {
    const r = parseRequestHead(B(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${v}\r\n\r\nhello`));
    assert.equal(r.kind, 'error', JSON.stringify(v));
    assert.equal((r as { status: number }).status, 400);
    assert.match((r as { detail: string }).detail, /whitespace after the Content-Length value/);
  }
  // Leading OWS is read alike by every parser: accepted, and the head goes on as received.
  for (const v of [' 5', '\t5', '5']) {
    const raw = `POST / HTTP/1.1\r\nHost: a\r\nContent-Length:${v}\r\n\r\n`;
    assert.deepEqual(requestFraming(okHead(raw)), { kind: 'length', length: 5 }, JSON.stringify(v));
  }
  // Trailing whitespace on other fields is still just OWS (not part of the value).
  assert.deepEqual(okHead('GET / HTTP/1.1\r\nHost: a \r\nX-A: b\t\r\n\r\n').values, ['a', 'b']);
  // A response is read (the proxy frames its body by the trimmed value); the client's own parser decides.
  const res = parseResponseHead(B('HTTP/1.1 200 OK\r\nContent-Length: 2 \r\n\r\n'));
  assert.equal(res.kind, 'ok');
  assert.equal((res as { head: { contentLength: number } }).head.contentLength, 2);
});

test('only SP and HTAB surround a value: a Transfer-Encoding padded with 0xA0 or 0x85 is not read as chunked (fuzz finding)', () => {
  for (const pad of ['\xa0', '\x85', '\x0b', '\x0c']) {
    for (const te of [`${pad}chunked`, `chunked${pad}`, `gzip,${pad}chunked`]) {
      const r = parseRequestHead(B(`POST / HTTP/1.1\r\nTransfer-Encoding:${te}\r\n\r\n`));
      assert.equal(r.kind, 'error', JSON.stringify(te));
    }
  }
  assert.deepEqual(requestFraming(okHead('POST / HTTP/1.1\r\nTransfer-Encoding: \t chunked \t\r\n\r\n')), { kind: 'chunked' });
});

test('limits: header count and head size answer 431, at exactly the limit it passes', () => {
  const limits = { maxHeaderBytes: 200, maxHeaders: 3 };
  const h = (n: number) => `GET / HTTP/1.1\r\n${Array.from({ length: n }, (_, i) => `x${i}: v\r\n`).join('')}\r\n`;
  assert.equal(parseRequestHead(B(h(3)), limits).kind, 'ok');
  const r = parseRequestHead(B(h(4)), limits);
  assert.deepEqual(r.kind === 'error' && r.status, 431);
  const big = `GET / HTTP/1.1\r\nx: ${'a'.repeat(300)}\r\n\r\n`;
  assert.deepEqual(parseRequestHead(B(big), limits).kind === 'error' && (parseRequestHead(B(big), limits) as { status: number }).status, 431);
  // An incomplete head past the limit is refused without waiting for the rest.
  const partial = parseRequestHead(B(`GET / HTTP/1.1\r\nx: ${'a'.repeat(300)}`), limits);
  assert.deepEqual(partial.kind === 'error' && partial.status, 431);
  assert.equal(parseRequestHead(B(`GET / HTTP/1.1\r\nx: ${'a'.repeat(100)}`), limits).kind, 'need-more');
});

test('chunked: sizes, extensions, trailers; errors where llhttp errs', () => {
  const read = (s: string) => {
    const parts: string[] = [];
    const sc = new ChunkedScanner({ onData: (b, a, e) => parts.push(b.toString('latin1', a, e)) });
    const q = sc.push(B(s));
    return { q, done: sc.done, data: parts.join('') };
  };
  assert.deepEqual(read('5\r\nhello\r\n0\r\n\r\nNEXT'), { q: 15, done: true, data: 'hello' });
  assert.deepEqual(read('A;name=val;x="q\\"d"\r\n0123456789\r\n000\r\nTrailer: x\r\n\r\n'), { q: 52, done: true, data: '0123456789' });
  for (const bad of ['5 \r\nhello\r\n0\r\n\r\n', '5\nhello\r\n0\r\n\r\n', '5\r\nhelloX\r\n', '-5\r\n', '0x5\r\n', 'fffffffffffffffff\r\n', '5;\r\n', '0\r\nbad trailer\r\n\r\n', '0\r\n\r\r']) {
    assert.throws(() => new ChunkedScanner().push(B(bad)), ChunkedError, JSON.stringify(bad));
  }
});

test('chunked trailers: framing, routing and hop-by-hop fields are refused, in any case and however split; others pass', () => {
  const forbidden = ['Transfer-Encoding', 'CONTENT-LENGTH', 'host', 'Connection', 'Keep-Alive', 'Proxy-Connection', 'te', 'Upgrade'];
  for (const name of forbidden) {
    const bytes = B(`3\r\nabc\r\n0\r\nX-A: 1\r\n${name}: v\r\n\r\n`);
    assert.throws(() => new ChunkedScanner().push(bytes), (e: unknown) => e instanceof ChunkedError && /not allowed in a trailer/.test(e.detail), name);
    // One byte per push: the name is recognised across pushes too.
    const sc = new ChunkedScanner();
    assert.throws(() => {
      for (let i = 0; i < bytes.length; i++) sc.push(bytes.subarray(0, i + 1), i);
    }, ChunkedError, name);
  }
  for (const name of ['X-Checksum', 'Trailer', 'Hosts', 'Content-Lengthy', 'TEE', 'X-Transfer-Encoding', 'Server-Timing', 'a'.repeat(40)]) {
    const s = `0\r\n${name}: v\r\n\r\n`;
    const sc = new ChunkedScanner();
    assert.equal(sc.push(B(s)), s.length, name);
    assert.ok(sc.done, name);
  }
});

test('hop-by-hop fields are removed on the way up; a plain head is forwarded as received', () => {
  const raw = 'GET /x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n';
  const h = okHead(raw);
  const out = upstreamRequestHead(B(raw), raw.length, h, false);
  assert.equal(out.toString('latin1'), raw);
  const raw2 = 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nAccept: */*\r\n\r\n';
  const out2 = upstreamRequestHead(B(raw2), raw2.length, okHead(raw2), false).toString('latin1');
  assert.equal(out2, 'GET /x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n');
  const ws = 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n';
  assert.equal(upstreamRequestHead(B(ws), ws.length, okHead(ws), true).toString('latin1'), 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nconnection: upgrade\r\n\r\n');
  const resRaw = 'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\n';
  const rr = parseResponseHead(B(resRaw));
  assert.equal(rr.kind, 'ok');
  const back = clientResponseHead(B(resRaw), resRaw.length, (rr as unknown as { head: never }).head, { close: true, keepAlive10: false, upgrade: false });
  assert.equal(back.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nconnection: close\r\n\r\n');
});

test('authority: Host, or the absolute-form target, lower-cased', () => {
  assert.equal(requestAuthority(okHead('GET / HTTP/1.1\r\nHost: Web.Example:8080\r\n\r\n')), 'web.example:8080');
  assert.equal(requestAuthority(okHead('GET http://u@Other.Example/x HTTP/1.1\r\nHost: web\r\n\r\n')), 'other.example');
  assert.equal(requestAuthority(okHead('CONNECT db.example:5432 HTTP/1.1\r\n\r\n')), 'db.example:5432');
  assert.equal(requestAuthority(okHead('GET / HTTP/1.1\r\n\r\n')), '');
});

// ---- properties ----

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
const path = fc.stringMatching(/^\/[A-Za-z0-9/._~%?=&-]{0,30}$/);
const reserved = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'upgrade', 'expect', 'keep-alive', 'te', 'proxy-connection']);
const field = fc.tuple(token, value).filter(([n]) => !reserved.has(n.toLowerCase()));

const message = fc.record({
  method: fc.constantFrom(...[...METHODS].filter((m) => m !== 'CONNECT')),
  path,
  fields: fc.array(field, { maxLength: 8 }),
  body: fc.uint8Array({ maxLength: 300 }),
  chunked: fc.boolean(),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 10 }),
});

type Msg = { method: string; path: string; fields: [string, string][]; body: Uint8Array; chunked: boolean; chunkSizes: number[] };

function serialize(m: Msg): Buffer {
  const head = `${m.method} ${m.path} HTTP/1.1\r\nHost: h\r\n${m.fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}`;
  const body = Buffer.from(m.body);
  if (!m.chunked) return Buffer.concat([B(`${head}Content-Length: ${body.length}\r\n\r\n`), body]);
  const parts: Buffer[] = [B(`${head}Transfer-Encoding: chunked\r\n\r\n`)];
  let i = 0;
  let k = 0;
  while (i < body.length) {
    const n = Math.min(m.chunkSizes[k++ % Math.max(1, m.chunkSizes.length)] ?? 7, body.length - i);
    parts.push(B(`${n.toString(16)}\r\n`), body.subarray(i, i + n), B('\r\n'));
    i += n;
  }
  parts.push(B('0\r\n\r\n'));
  return Buffer.concat(parts);
}

test('property: generated valid requests (pipelined) are read back exactly', () => {
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), (msgs) => {
      const r = scanRequests(Buffer.concat(msgs.map(serialize)));
      assert.equal(r.error, undefined);
      assert.equal(r.requests.length, msgs.length);
      msgs.forEach((m, i) => {
        const got = r.requests[i]!;
        assert.equal(got.method, m.method);
        assert.equal(got.target, m.path);
        assert.deepEqual(got.fields.slice(1, 1 + m.fields.length), m.fields);
        assert.deepEqual([...got.body], [...m.body]);
      });
    }),
    { numRuns: 300 },
  );
});

test('property: the chunked validator gives the same answer however the bytes are split', () => {
  fc.assert(
    fc.property(message, fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }), (m, cuts) => {
      const whole = serialize({ ...m, chunked: true });
      const start = whole.indexOf('\r\n\r\n') + 4;
      const body = whole.subarray(start);
      const a = new ChunkedScanner();
      const endWhole = a.push(body);
      const b = new ChunkedScanner();
      let off = 0;
      let k = 0;
      let endSplit = -1;
      while (off < body.length && !b.done) {
        const n = cuts[k++ % cuts.length]!;
        const piece = body.subarray(off, off + n);
        const q = b.push(piece);
        if (b.done) endSplit = off + q;
        off += piece.length;
      }
      assert.ok(a.done && b.done);
      assert.equal(endSplit, endWhole);
    }),
    { numRuns: 300 },
  );
});

test('property: any prefix of a valid head is need-more, never a refusal', () => {
  fc.assert(
    fc.property(message, fc.nat(), (m, at) => {
      const whole = serialize(m);
      const headEnd = whole.indexOf('\r\n\r\n') + 4;
      const cut = at % headEnd;
      assert.equal(parseRequestHead(whole.subarray(0, cut)).kind, 'need-more');
    }),
    { numRuns: 300 },
  );
});

test('property: a bare CR, bare LF or NUL injected into a head is refused', () => {
  fc.assert(
    fc.property(message, fc.nat(), fc.constantFrom('\r', '\n', '\0'), (m, at, bad) => {
      const whole = serialize({ ...m, body: new Uint8Array(0), chunked: false });
      const head = whole.toString('latin1', 0, whole.indexOf('\r\n\r\n'));
      // Inject strictly inside a line (never next to an existing CR/LF, which would form a CRLF).
      const spots = [...head].map((_, i) => i).filter((i) => i > 0 && !'\r\n'.includes(head[i - 1]!) && !'\r\n'.includes(head[i]!));
      const i = spots[at % spots.length]!;
      const evil = head.slice(0, i) + bad + head.slice(i) + '\r\n\r\n';
      const r = parseRequestHead(B(evil));
      assert.equal(r.kind, 'error', JSON.stringify(evil));
    }),
    { numRuns: 500 },
  );
});

test('a request-target that is not origin-, absolute-, authority- or asterisk-form is refused', () => {
  for (const target of ['a', 'a/b', '?x', 'example.com', '1http://x', 'a:', 'urn:x', 'http:/x', 'a+b://x', 'h2c.x://y', 'a://"', 'http://h#f', 'http://h"/x', 'http://h<x>/']) {
    const r = parseRequestHead(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'));
    assert.equal(r.kind, 'error', `GET ${target} was accepted`);
  }
  for (const target of ['/', '/a?b', '*', 'http://example.com/x', 'HTTPS://A/', 'ws://a:1/b', 'http://u@[::1]:80/p?q#f', 'http://h?x"y', 'a://']) {
    const r = parseRequestHead(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'));
    assert.equal(r.kind, 'ok', `GET ${target} was refused`);
  }
});

test('chunked onTrailer: the trailer section bytes, whatever the split, and nothing for a body without trailers', () => {
  const body = B('3\r\nabc\r\n0\r\nX-Sum: 12\r\nX-B:  two \r\n\r\nNEXT');
  const bodyEnd = body.length - 4;
  for (let cut = 0; cut <= body.length; cut++) {
    let trailer = '';
    let data = '';
    const sc = new ChunkedScanner({ onData: (b, a, e) => (data += b.toString('latin1', a, e)), onTrailer: (b, a, e) => (trailer += b.toString('latin1', a, e)) });
    const first = body.subarray(0, cut);
    let end = sc.push(first);
    if (!sc.done) end = cut + sc.push(body.subarray(cut));
    assert.equal(end, bodyEnd, `cut ${cut}`);
    assert.equal(data, 'abc');
    assert.equal(trailer, 'X-Sum: 12\r\nX-B:  two \r\n\r\n', `cut ${cut}`);
  }
  let none = '';
  const sc = new ChunkedScanner({ onTrailer: (b, a, e) => (none += b.toString('latin1', a, e)) });
  sc.push(B('1\r\na\r\n0\r\n\r\n'));
  assert.ok(sc.done);
  assert.equal(none, '\r\n', 'an empty trailer section is its final CRLF');
});

test('chunked: dataBytes is the body a client sees (no sizes, extensions, CRLFs or trailers), however the bytes are split', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 8 }), fc.boolean(), fc.integer({ min: 1, max: 64 }), (chunks, trailer, step) => {
      const wire = Buffer.concat([
        ...chunks.flatMap((c) => [B(`${c.length.toString(16)};ext=1\r\n`), Buffer.from(c), B('\r\n')]),
        B(trailer ? '0\r\nX-Checksum: abc\r\n\r\n' : '0\r\n\r\n'),
      ]);
      const sc = new ChunkedScanner();
      for (let i = 0; i < wire.length; i += step) sc.push(wire.subarray(0, Math.min(wire.length, i + step)), i);
      assert.equal(sc.done, true);
      assert.equal(sc.dataBytes, chunks.reduce((a, c) => a + c.length, 0));
    }),
  );
});
