import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSection } from './semantics';

const req = (...extra: string[]) => [':method', 'POST', ':scheme', 'http', ':path', '/x', ':authority', 'a.b', ...extra];

test('a well-formed request, response and trailers pass, with their length and method or status', () => {
  assert.deepEqual(checkSection(req('content-length', '5', 'te', 'trailers'), 'request'), { contentLength: 5, method: 'POST' });
  assert.deepEqual(checkSection([':status', '204', 'x-a', ''], 'response'), { contentLength: -1, status: 204 });
  assert.deepEqual(checkSection(['grpc-status', '0'], 'trailers'), { contentLength: -1 });
  assert.equal(checkSection([':method', 'CONNECT', ':authority', 'h:443'], 'request').error, undefined);
  assert.equal(checkSection([':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', '/c', ':authority', 'h'], 'request').error, undefined);
  assert.equal(checkSection(req('content-length', '5', 'content-length', '5'), 'request').error, undefined);
});

test('what RFC 9113 §8 calls malformed is refused, each with its reason', () => {
  const bad: [string[], 'request' | 'response' | 'trailers', RegExp][] = [
    [req('connection', 'keep-alive'), 'request', /connection-specific/],
    [req('keep-alive', '5'), 'request', /connection-specific/],
    [req('proxy-connection', 'x'), 'request', /connection-specific/],
    [req('transfer-encoding', 'chunked'), 'request', /connection-specific/],
    [req('upgrade', 'h2c'), 'request', /connection-specific/],
    [req('te', 'gzip'), 'request', /only "trailers"/],
    [req('te', 'trailers, gzip'), 'request', /only "trailers"/],
    [req('content-length', 'abc'), 'request', /content-length/],
    [req('content-length', '-1'), 'request', /content-length/],
    [req('content-length', '5, 5'), 'request', /content-length/],
    [req('content-length', '5', 'content-length', '6'), 'request', /disagree/],
    [req('Content-Length', '5'), 'request', /field name/],
    [req('x a', 'b'), 'request', /field name/],
    [req('x-a', 'b\r\nx: y'), 'request', /invalid value/],
    [req('x-a', 'b\x00c'), 'request', /invalid value/],
    [req('x-a', ' lead'), 'request', /invalid value/],
    [req(':bogus', 'x'), 'request', /pseudo-header :bogus after|unknown/],
    [[':method', 'GET', 'x', 'y', ':path', '/'], 'request', /after a regular field/],
    [[':method', 'GET', ':method', 'GET', ':scheme', 'http', ':path', '/'], 'request', /duplicate/],
    [[':method', 'GET', ':scheme', 'http'], 'request', /no :scheme or :path/],
    [[':scheme', 'http', ':path', '/'], 'request', /no :method/],
    [[':method', 'CONNECT', ':authority', 'h', ':path', '/'], 'request', /CONNECT/],
    [req(':status', '200'), 'request', /unknown request pseudo-header/],
    [[':status', '20'], 'response', /:status/],
    [[':status', '200', ':path', '/'], 'response', /unknown response pseudo-header/],
    [['x', 'y'], 'response', /no :status/],
    [[':status', '200'], 'trailers', /pseudo-header/],
  ];
  for (const [fields, section, why] of bad) assert.match(checkSection(fields, section).error ?? '(accepted)', why, JSON.stringify(fields));
});
