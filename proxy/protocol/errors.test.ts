import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectErrorKind, h1ErrorResponse, h2ErrorHeaders, HttpProxyError, PROXY_ERRORS } from './errors';
import { LinnetError } from '../../core/errors';

test('connect errors map to 502 (refused/reset) or 503 (nothing reachable)', () => {
  assert.equal(PROXY_ERRORS[connectErrorKind('ECONNREFUSED')].status, 502);
  assert.equal(PROXY_ERRORS[connectErrorKind('ECONNRESET')].status, 502);
  for (const e of ['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']) assert.equal(PROXY_ERRORS[connectErrorKind(e)].status, 503, e);
});

test('an HTTP/1 error response is complete, says why, and is header-safe', () => {
  const err = new HttpProxyError('responseTimeout', 'no response within 10 ms\r\nX-Injected: 1');
  assert.ok(err instanceof LinnetError);
  assert.equal(err.code, 'LINNET_HTTP_RESPONSE_TIMEOUT');
  const text = h1ErrorResponse(err, { close: true }).toString('latin1');
  const [head, body] = text.split('\r\n\r\n');
  assert.match(head!, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
  assert.match(head!, /\r\nl5d-proxy-error: response timeout: no response within 10 ms  X-Injected: 1\r\n/);
  assert.match(head!, /\r\nconnection: close$/);
  assert.equal(Number(/content-length: (\d+)/.exec(head!)![1]), Buffer.byteLength(body!));
});

test('gRPC errors are trailers-only 200s with the matching grpc-status', () => {
  const h = h2ErrorHeaders(new HttpProxyError('connectRefused'), true);
  assert.equal(h[':status'], 200);
  assert.equal(h['grpc-status'], 14);
  assert.equal(h2ErrorHeaders(new HttpProxyError('responseTimeout'), true)['grpc-status'], 4);
  assert.equal(h2ErrorHeaders(new HttpProxyError('noEndpoint'), false)[':status'], 503);
});
