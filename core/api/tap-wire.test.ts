import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventFromPb, eventToPb, type TapEvent, type TapHttpEvent } from './tap';
import { tapServiceDefinition } from './tap-service';
import { encodeTapEvent } from './tap-wire';

const observe = () => tapServiceDefinition()['Observe']!;

const label = fc.string({ minLength: 1, maxLength: 12 });
const labels = fc.dictionary(label, fc.string({ maxLength: 40 }), { maxKeys: 5 });
const ip = fc.oneof(fc.ipV4(), fc.ipV6().filter((a) => !a.includes('.') && !/^::ffff:/i.test(a)));
const addr = fc.record({ ip, port: fc.integer({ min: 0, max: 65535 }) });
const id = fc.record({ base: fc.integer({ min: 0, max: 2 ** 32 - 1 }), stream: fc.integer({ min: 0, max: 2 ** 53 - 1 }) });
const us = fc.integer({ min: 0, max: 10 ** 12 });
const http: fc.Arbitrary<TapHttpEvent> = fc.oneof(
  fc.record({ kind: fc.constant('request_init' as const), id, method: fc.oneof(fc.constantFrom('GET', 'POST', 'TRACE', 'DELETE'), fc.constantFrom('PROPFIND', 'BREW')), scheme: fc.constantFrom('http', 'https'), authority: fc.string(), path: fc.string() }),
  fc.record({ kind: fc.constant('response_init' as const), id, sinceRequestInitUs: us, status: fc.integer({ min: 0, max: 999 }) }),
  fc.record(
    { kind: fc.constant('response_end' as const), id, sinceRequestInitUs: us, sinceResponseInitUs: us, responseBytes: fc.integer({ min: 0, max: 2 ** 53 - 1 }), grpcStatus: fc.integer({ min: 0, max: 16 }), resetErrorCode: fc.integer({ min: 0, max: 13 }) },
    { requiredKeys: ['kind', 'id', 'sinceRequestInitUs', 'sinceResponseInitUs', 'responseBytes'] },
  ).map((h) => (h.grpcStatus !== undefined && h.resetErrorCode !== undefined ? { ...h, resetErrorCode: undefined } : h)).map((h) => JSON.parse(JSON.stringify(h)) as TapHttpEvent),
);
const event: fc.Arbitrary<TapEvent> = fc.record({
  direction: fc.constantFrom('inbound' as const, 'outbound' as const),
  source: addr,
  destination: addr,
  sourceLabels: labels,
  destinationLabels: labels,
  routeLabels: labels,
  http,
});

/** IPv6 literals as the decoder writes them back (one canonical spelling). */
function canonical(e: TapEvent): TapEvent {
  const d = observe();
  return eventFromPb(d.responseDeserialize(d.responseSerialize(eventToPb(e))) as never);
}

test('the hand-written encoder writes what protobufjs reads back as the same event (property)', () => {
  const d = observe();
  fc.assert(
    fc.property(event, (e) => {
      const ours = eventFromPb(d.responseDeserialize(encodeTapEvent(e)) as never);
      assert.deepEqual(ours, canonical(e));
    }),
    { numRuns: 400 },
  );
});

test('oneof members that are zero are written: GET, HTTP, grpc-status 0', () => {
  const d = observe();
  const base = { direction: 'outbound' as const, source: { ip: '10.0.0.1', port: 1 }, destination: { ip: '10.0.0.2', port: 2 }, sourceLabels: {}, destinationLabels: {}, routeLabels: {} };
  const req = eventFromPb(d.responseDeserialize(encodeTapEvent({ ...base, http: { kind: 'request_init', id: { base: 0, stream: 0 }, method: 'GET', scheme: 'http', authority: '', path: '' } })) as never);
  assert.deepEqual(req.http, { kind: 'request_init', id: { base: 0, stream: 0 }, method: 'GET', scheme: 'http', authority: '', path: '' });
  const end = eventFromPb(d.responseDeserialize(encodeTapEvent({ ...base, http: { kind: 'response_end', id: { base: 1, stream: 2 }, sinceRequestInitUs: 0, sinceResponseInitUs: 0, responseBytes: 0, grpcStatus: 0 } })) as never);
  assert.ok(end.http.kind === 'response_end' && end.http.grpcStatus === 0 && end.http.resetErrorCode === undefined);
});
