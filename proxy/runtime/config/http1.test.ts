import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHttp1Env } from './http1';

test('the request-head read timeout defaults to 10 s, takes durations, 0 disables it', () => {
  assert.equal(parseHttp1Env({}).headerReadTimeoutMs, 10_000);
  assert.equal(parseHttp1Env({ LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: '300ms' }).headerReadTimeoutMs, 300);
  assert.equal(parseHttp1Env({ LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: '2m' }).headerReadTimeoutMs, 120_000);
  assert.equal(parseHttp1Env({ LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: '0' }).headerReadTimeoutMs, 0);
});

test('a bad request-head read timeout names its variable', () => {
  assert.throws(() => parseHttp1Env({ LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: 'soon' }), /LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT/);
});
