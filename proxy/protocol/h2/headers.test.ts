import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorityOf, forwardHeaders, forwardTrailers } from './headers';

test('connection-specific headers are dropped, the rest (pseudo-headers too) carried', () => {
  const sym = Symbol('sensitive');
  const out = forwardHeaders({
    ':method': 'POST',
    ':path': '/x',
    ':authority': 'a.b',
    connection: 'keep-alive, x-hop',
    'keep-alive': '5',
    'proxy-connection': 'x',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    'http2-settings': 'AAA',
    'x-hop': 'gone',
    'x-keep': ['1', '2'],
    te: 'trailers, deflate',
    [sym]: ['x'],
  } as Record<string, unknown>);
  assert.deepEqual(out, { ':method': 'POST', ':path': '/x', ':authority': 'a.b', 'x-keep': ['1', '2'], te: 'trailers' });
  assert.deepEqual(forwardHeaders({ te: 'gzip' }), {});
});

test('trailers lose pseudo-headers', () => {
  assert.deepEqual(forwardTrailers({ ':status': '200', 'grpc-status': '0' }), { 'grpc-status': '0' });
  assert.deepEqual(forwardTrailers(undefined), {});
});

test('authority from :authority, else Host, lower-cased', () => {
  assert.equal(authorityOf({ ':authority': 'Web.Demo:8080' }), 'web.demo:8080');
  assert.equal(authorityOf({ host: 'H' }), 'h');
  assert.equal(authorityOf({}), '');
});
