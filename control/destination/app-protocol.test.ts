import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appProtocolKind, declaredHttp } from './app-protocol';

test('appProtocol: the known values, unknown ones opaque, absent undefined', () => {
  assert.equal(appProtocolKind('http'), 'http1');
  assert.equal(appProtocolKind('kubernetes.io/h2c'), 'h2');
  assert.equal(appProtocolKind('kubernetes.io/ws'), 'websocket');
  assert.equal(appProtocolKind('linkerd.io/opaque'), 'opaque');
  assert.equal(appProtocolKind('linnet.io/opaque'), 'opaque');
  for (const v of ['mysql', 'grpc', 'https', 'kubernetes.io/wss', 'HTTP', 'example.com/custom']) assert.equal(appProtocolKind(v), 'opaque', v);
  for (const v of [undefined, null, '', '  ', 42]) assert.equal(appProtocolKind(v), undefined);
});

test('the protocol a client may assume without detecting: http and ws are HTTP/1, h2c HTTP/2, the rest nothing', () => {
  assert.deepEqual(['http', 'kubernetes.io/ws', 'kubernetes.io/h2c', 'linkerd.io/opaque', 'mysql', undefined].map((v) => declaredHttp(appProtocolKind(v))), ['http1', 'http1', 'h2', undefined, undefined, undefined]);
});
