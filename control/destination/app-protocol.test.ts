import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appProtocolKind } from './app-protocol';

test('appProtocol: the known values, unknown ones opaque, absent undefined', () => {
  assert.equal(appProtocolKind('http'), 'http1');
  assert.equal(appProtocolKind('kubernetes.io/h2c'), 'h2');
  assert.equal(appProtocolKind('kubernetes.io/ws'), 'websocket');
  assert.equal(appProtocolKind('linkerd.io/opaque'), 'opaque');
  assert.equal(appProtocolKind('linnet.io/opaque'), 'opaque');
  for (const v of ['mysql', 'grpc', 'https', 'kubernetes.io/wss', 'HTTP', 'example.com/custom']) assert.equal(appProtocolKind(v), 'opaque', v);
  for (const v of [undefined, null, '', '  ', 42]) assert.equal(appProtocolKind(v), undefined);
});
