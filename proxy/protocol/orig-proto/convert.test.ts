/**
 * The orig-proto conversions directly: HTTP/1.1 request head → HTTP/2 headers (pseudo-headers,
 * hop-by-hop fields dropped, values kept), HTTP/2 response → HTTP/1.1 head with its framing
 * (parsed back with the proxy's own strict parser), the inbound direction, and the chunked
 * decoder over every split of its input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestHead, parseResponseHead, responseFraming, type RequestHead, type ResponseHead } from '../h1/parse-head';
import { ChunkedDecoder } from './chunked-decode';
import {
  canUpgradeToH2,
  chunk,
  h1InterimHead,
  h1RequestFromH2,
  h1RequestHeadBytes,
  h1ResponseHead,
  h2RequestHeaders,
  h2ResponseFromHead,
  h2Trailers,
  lastChunk,
  parseTrailerSection,
  splitTarget,
} from './convert';
import { ChunkedScanner } from '../h1/chunked';

const B = (s: string) => Buffer.from(s, 'latin1');
/** A field's first value in a flat [name, value, ...] list. */
const get = (f: string[], name: string) => {
  for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1];
  return undefined;
};
/** Fields from an object, for readable cases (arrays: the field repeated). */
const F = (o: Record<string, string | string[]>): string[] => Object.entries(o).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, v]));

function req(s: string): RequestHead {
  const r = parseRequestHead(B(s));
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  return (r as { head: RequestHead }).head;
}

test('request head → HTTP/2 headers: pseudo-headers, hop-by-hop and Connection-named fields dropped, values kept', () => {
  const h = req(
    'POST /a/b?c=1 HTTP/1.1\r\nHost: Web.Demo:8080\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: 5\r\nX-Hop: gone\r\n' +
      'TE: trailers, deflate\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nContent-Length: 3\r\nX-Multi: 1\r\nx-multi: 2\r\nCookie: a=1\r\nCookie: b=2\r\n' +
      'X-Spaces:   v  w  \r\nl5d-orig-proto: forged\r\n\r\n',
  );
  // Repeated fields stay separate (HTTP/2 allows it, cookies included).
  assert.deepEqual(h2RequestHeaders(h, 'fallback:1'), [
    ':method', 'POST',
    ':scheme', 'http',
    ':authority', 'Web.Demo:8080',
    ':path', '/a/b?c=1',
    'content-length', '3',
    'x-multi', '1',
    'x-multi', '2',
    'cookie', 'a=1',
    'cookie', 'b=2',
    'x-spaces', 'v  w',
    'te', 'trailers',
    'l5d-orig-proto', 'HTTP/1.1',
  ]);
});

test('absolute-form target gives :authority and :path; no Host falls back to the endpoint', () => {
  assert.deepEqual(splitTarget('http://user@a.b:81/x?y#f'), { authority: 'a.b:81', path: '/x?y' });
  assert.deepEqual(splitTarget('http://a.b'), { authority: 'a.b', path: '/' });
  assert.deepEqual(splitTarget('http://a.b?q'), { authority: 'a.b', path: '/?q' });
  assert.deepEqual(splitTarget('*'), { authority: undefined, path: '*' });
  const h = h2RequestHeaders(req('GET http://svc.ns:80/p HTTP/1.1\r\nHost: other\r\n\r\n'), 'x');
  assert.equal(get(h, ':authority'), 'svc.ns:80');
  assert.equal(get(h, ':path'), '/p');
  assert.equal(get(h, 'host'), undefined);
  const o = h2RequestHeaders(req('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n'), 'x');
  assert.equal(get(o, ':path'), '*');
});

test('which requests ride HTTP/2: HTTP/1.1 only, never CONNECT or an Upgrade, chunked as the only coding', () => {
  assert.equal(canUpgradeToH2(req('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), false), true);
  assert.equal(canUpgradeToH2(req('GET / HTTP/1.0\r\n\r\n'), false), false);
  assert.equal(canUpgradeToH2(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'), true), false);
  assert.equal(canUpgradeToH2(req('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n'), true), false);
  assert.equal(canUpgradeToH2(req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), false), true);
  assert.equal(canUpgradeToH2(req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'), false), false);
});

function parseRes(head: string) {
  const r = parseResponseHead(B(head));
  assert.equal(r.kind, 'ok', `${JSON.stringify(r)}: ${head}`);
  return (r as Extract<typeof r, { kind: 'ok' }>).head;
}

test('HTTP/2 response → HTTP/1.1 head: reason phrase, content-length kept, else chunked; no framing for HEAD/1xx/204/304', () => {
  const base = { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'l5d-orig-proto': 'HTTP/1.1', connection: 'x' };
  let r = h1ResponseHead(F({ ':status': '200', ...base, 'content-length': '5' }), 'GET', false);
  assert.equal(r.chunked, false);
  let h = parseRes(r.head);
  assert.equal(h.status, 200);
  assert.equal(h.reason, 'OK');
  assert.deepEqual(responseFraming(h, 'GET'), { kind: 'length', length: 5 });
  assert.deepEqual(h.names.map((n) => n.toLowerCase()).sort(), ['content-length', 'content-type', 'set-cookie', 'set-cookie']);

  r = h1ResponseHead(F({ ':status': '404', 'content-type': 'text/plain' }), 'GET', false);
  assert.equal(r.chunked, true);
  h = parseRes(r.head);
  assert.equal(h.reason, 'Not Found');
  assert.deepEqual(responseFraming(h, 'GET'), { kind: 'chunked' });

  // Ended with its headers and no length: an empty body, said with a length.
  r = h1ResponseHead(F({ ':status': '200' }), 'GET', true);
  assert.equal(r.chunked, false);
  assert.equal(parseRes(r.head).contentLength, 0);

  // HEAD keeps the entity's length, adds no framing.
  r = h1ResponseHead(F({ ':status': '200', 'content-length': '1234' }), 'HEAD', true);
  assert.equal(r.chunked, false);
  h = parseRes(r.head);
  assert.equal(h.contentLength, 1234);
  assert.deepEqual(responseFraming(h, 'HEAD'), { kind: 'none' });
  r = h1ResponseHead(F({ ':status': '200' }), 'HEAD', true);
  assert.equal(parseRes(r.head).contentLength, -1);
  assert.equal(parseRes(r.head).transferEncoding, undefined);

  for (const status of ['204', '304']) {
    r = h1ResponseHead(F({ ':status': status, etag: '"x"' }), 'GET', true);
    h = parseRes(r.head);
    assert.equal(r.chunked, false);
    assert.equal(h.transferEncoding, undefined);
    assert.equal(h.contentLength, -1, `${status}: no content-length added`);
  }
  assert.equal(parseRes(h1ResponseHead(F({ ':status': '204', 'content-length': '0' }), 'GET', true).head).contentLength, -1);
  assert.equal(parseRes(h1ResponseHead(F({ ':status': '304', 'content-length': '10' }), 'GET', true).head).contentLength, 10);

  const i = parseRes(h1InterimHead(F({ ':status': '103', link: '</a>; rel=preload' })));
  assert.equal(i.status, 103);
  assert.equal(i.reason, 'Early Hints');
  assert.equal(parseRes(h1InterimHead(F({ ':status': '100' }))).reason, 'Continue');
});

test('body chunks and trailers become a valid chunked body', () => {
  const body = Buffer.concat([chunk(B('hello ')), chunk(B('world')), lastChunk(F({ 'x-checksum': 'abc', 'content-length': '3', ':status': '200', 'x-two': ['1', '2'] }))]);
  let data = '';
  const sc = new ChunkedScanner({ onData: (b, s, e) => (data += b.subarray(s, e).toString('latin1')) });
  assert.equal(sc.push(body), body.length);
  assert.equal(sc.done, true);
  assert.equal(data, 'hello world');
  assert.match(body.toString('latin1'), /\r\n0\r\nx-checksum: abc\r\nx-two: 1\r\nx-two: 2\r\n\r\n$/);
  assert.deepEqual(lastChunk(undefined), B('0\r\n\r\n'));
});

test('chunked decoder: data and trailers, at every split of the input', () => {
  const wire = B('5;ext=1\r\nhello\r\n1A\r\n' + 'x'.repeat(26) + '\r\n0\r\nX-Sum: 42\r\nx-sum: 43\r\nX-Other:  v \r\n\r\n');
  for (let i = 0; i <= wire.length; i++) {
    for (const j of [i, Math.min(wire.length, i + 7)]) {
      const out: Buffer[] = [];
      const d = new ChunkedDecoder((b) => out.push(Buffer.from(b)));
      d.push(wire.subarray(0, i));
      d.push(wire.subarray(i, j));
      assert.equal(d.done, j === wire.length && i === wire.length ? true : d.done);
      d.push(wire.subarray(j));
      assert.equal(d.done, true, `split ${i}/${j}`);
      assert.equal(Buffer.concat(out).toString(), 'hello' + 'x'.repeat(26));
      assert.deepEqual(d.trailers, ['x-sum', '42', 'x-sum', '43', 'x-other', 'v']);
    }
  }
});

test('inbound: HTTP/2 request → HTTP/1.1 for the app; app response → HTTP/2 headers', () => {
  const r = h1RequestFromH2(
    F({ ':method': 'POST', ':path': '/x?y', ':scheme': 'http', ':authority': 'web:80', 'l5d-orig-proto': 'HTTP/1.1', te: 'trailers', 'x-a': 'b', cookie: ['a=1', 'b=2'] }),
    false,
  );
  assert.deepEqual(r, { method: 'POST', path: '/x?y', chunked: true, headers: ['host', 'web:80', 'x-a', 'b', 'cookie', 'a=1', 'cookie', 'b=2', 'transfer-encoding', 'chunked'] });
  const l = h1RequestFromH2(F({ ':method': 'PUT', ':path': '/', ':authority': 'w', 'content-length': '9', 'l5d-orig-proto': 'HTTP/1.1' }), false);
  assert.equal(l.chunked, false);
  assert.equal(get(l.headers, 'content-length'), '9');
  assert.equal(get(l.headers, 'transfer-encoding'), undefined);
  assert.equal(h1RequestFromH2(F({ ':method': 'GET', ':path': '/', ':authority': 'w' }), true).chunked, false);
  assert.deepEqual(h2Trailers(['x-sum', '1', 'content-length', '3', 'transfer-encoding', 'x']), ['x-sum', '1']);
});

test('inbound: the HTTP/1.1 request head for the app is written as parsed back; nothing that could split a line gets out', () => {
  const r = h1RequestFromH2(F({ ':method': 'POST', ':path': '/x?y=1', ':authority': 'web:80', 'x-a': 'b', 'set-cookie': ['1', '2'], 'l5d-orig-proto': 'HTTP/1.1' }), false);
  const bytes = h1RequestHeadBytes(r)!;
  const p = parseRequestHead(bytes);
  assert.equal(p.kind, 'ok');
  const h = (p as { head: RequestHead }).head;
  assert.equal(h.method, 'POST');
  assert.equal(h.target, '/x?y=1');
  assert.equal(h.host, 'web:80');
  assert.deepEqual(h.names, ['host', 'x-a', 'set-cookie', 'set-cookie', 'transfer-encoding']);
  assert.deepEqual(h.transferEncoding, ['chunked']);
  assert.equal((p as { length: number }).length, bytes.length);
  const base = { method: 'GET', path: '/', headers: ['host', 'w'], chunked: false };
  assert.equal(h1RequestHeadBytes({ ...base, path: '/a b' }), undefined);
  assert.equal(h1RequestHeadBytes({ ...base, method: 'G T' }), undefined);
  assert.equal(h1RequestHeadBytes({ ...base, headers: ['host', 'w\r\nx-injected: 1'] }), undefined);
  assert.equal(h1RequestHeadBytes({ ...base, headers: ['a b', '1'] }), undefined);
  assert.equal(h1RequestHeadBytes({ ...base, headers: ['x', 'ok', 'x', 'bad\n'] }), undefined);
  assert.equal(h1RequestHeadBytes({ ...base, headers: ['x', '\u0100'] }), undefined, 'beyond latin1');
  // An empty body of a method that has one is framed (some apps refuse a POST without a length).
  assert.equal(get(h1RequestFromH2(F({ ':method': 'POST', ':path': '/', ':authority': 'w' }), true).headers, 'content-length'), '0');
  assert.equal(get(h1RequestFromH2(F({ ':method': 'GET', ':path': '/', ':authority': 'w' }), true).headers, 'content-length'), undefined);
});

test('inbound: app response fields and trailer sections → HTTP/2', () => {
  const res = parseResponseHead(B('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nTransfer-Encoding: chunked\r\nX-L: 1\r\nX-L: 2\r\n\r\n'));
  assert.equal(res.kind, 'ok');
  const h = (res as { head: ResponseHead }).head;
  assert.deepEqual(h2ResponseFromHead(h), [':status', '200', 'content-type', 'text/plain', 'set-cookie', 'a', 'set-cookie', 'b', 'x-l', '1', 'x-l', '2']);
  assert.deepEqual(parseTrailerSection('X-Sum: 12\r\nx-b:  two \r\nX-Sum: 13\r\n\r\n'), ['x-sum', '12', 'x-b', 'two', 'x-sum', '13']);
  assert.deepEqual(parseTrailerSection('\r\n'), []);
});
