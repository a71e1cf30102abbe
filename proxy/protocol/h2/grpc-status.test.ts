import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerFor,
  carryRstCode,
  encodeGrpcMessage,
  GrpcStatus,
  grpcStatusForRst,
  H2Code,
  isGrpcContentType,
  parseGrpcTimeout,
  readGrpcStatus,
} from './grpc-status';

test('grpc-timeout parses every unit and ignores malformed values', () => {
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('2M'), 120_000);
  assert.equal(parseGrpcTimeout('3S'), 3000);
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('1500u'), 1.5);
  assert.equal(parseGrpcTimeout('2000000n'), 2);
  assert.equal(parseGrpcTimeout('99999999S'), 99_999_999_000);
  for (const bad of ['', '5', 'm', '123456789S', '1.5S', '-1S', '10s', ' 10S', '10S ']) assert.equal(parseGrpcTimeout(bad), undefined, bad);
  assert.equal(parseGrpcTimeout(undefined), undefined);
  assert.equal(parseGrpcTimeout(['1S']), undefined);
});

test('gRPC content types', () => {
  for (const ct of ['application/grpc', 'application/grpc+proto', 'application/grpc+json', 'Application/GRPC', 'application/grpc;charset=utf-8']) assert.ok(isGrpcContentType(ct), ct);
  for (const ct of ['application/grpc-web', 'application/grpcx', 'text/plain', undefined, ['application/grpc']]) assert.ok(!isGrpcContentType(ct as string), String(ct));
});

test('proxy failures map to HTTP and gRPC answers as the issue says', () => {
  assert.deepEqual(
    [answerFor({ kind: 'connect', errno: 'ECONNREFUSED' }), answerFor({ kind: 'connection-lost', detail: 'ECONNRESET' })].map((a) => [a.http, a.grpc]),
    [
      [502, GrpcStatus.UNAVAILABLE],
      [502, GrpcStatus.UNAVAILABLE],
    ],
  );
  const t = answerFor({ kind: 'timeout', ms: 300 });
  assert.deepEqual([t.http, t.grpc, t.error], [504, GrpcStatus.DEADLINE_EXCEEDED, 'timeout']);
  const unreachable = answerFor({ kind: 'connect', errno: 'ETIMEDOUT' });
  assert.deepEqual([unreachable.http, unreachable.grpc], [503, GrpcStatus.UNAVAILABLE]);
  const n = answerFor({ kind: 'no-endpoint', detail: 'web' });
  assert.deepEqual([n.http, n.grpc], [503, GrpcStatus.UNAVAILABLE]);
  assert.match(answerFor({ kind: 'connect', errno: 'ECONNREFUSED' }).reason, /ECONNREFUSED/);
});

test('RST codes: gRPC meaning and what is carried to the other hop', () => {
  assert.equal(grpcStatusForRst(H2Code.CANCEL), GrpcStatus.CANCELLED);
  assert.equal(grpcStatusForRst(H2Code.REFUSED_STREAM), GrpcStatus.UNAVAILABLE);
  assert.equal(grpcStatusForRst(H2Code.ENHANCE_YOUR_CALM), GrpcStatus.RESOURCE_EXHAUSTED);
  assert.equal(grpcStatusForRst(H2Code.INADEQUATE_SECURITY), GrpcStatus.PERMISSION_DENIED);
  assert.equal(grpcStatusForRst(H2Code.PROTOCOL_ERROR), GrpcStatus.INTERNAL);
  assert.equal(grpcStatusForRst(0x99), GrpcStatus.UNKNOWN);
  // Stream-level meanings are carried as they are.
  for (const c of [H2Code.CANCEL, H2Code.REFUSED_STREAM, H2Code.ENHANCE_YOUR_CALM]) {
    assert.equal(carryRstCode(c, 'client'), c);
    assert.equal(carryRstCode(c, 'upstream'), c);
  }
  // One hop's framing trouble is not the other hop's.
  assert.equal(carryRstCode(H2Code.FLOW_CONTROL_ERROR, 'client'), H2Code.INTERNAL_ERROR);
  assert.equal(carryRstCode(H2Code.PROTOCOL_ERROR, 'upstream'), H2Code.CANCEL);
});

test('grpc-status and grpc-message helpers', () => {
  assert.equal(readGrpcStatus({ 'grpc-status': '14' }), 14);
  assert.equal(readGrpcStatus({ 'grpc-status': 'x' }), undefined);
  assert.equal(readGrpcStatus(undefined), undefined);
  assert.equal(encodeGrpcMessage('plain text: ok'), 'plain text: ok');
  assert.equal(encodeGrpcMessage('50% é\n'), '50%25 %C3%A9%0A');
});
