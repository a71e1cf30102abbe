import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventFromPb, eventToPb, matchFromPb, matchToPb, observeFromPb, observeToPb, TapMatchError, type PbMatch, type TapEvent, type TapMatch } from './tap';
import { tapServiceDefinition } from './tap-service';

const observe = () => tapServiceDefinition()['Observe']!;

function wireEvent(e: TapEvent): TapEvent {
  const d = observe();
  return eventFromPb(d.responseDeserialize(d.responseSerialize(eventToPb(e))) as never);
}

test('an event crosses the wire unchanged: IPv4 and IPv6, every http kind', () => {
  const base = {
    direction: 'outbound' as const,
    source: { ip: '10.1.0.7', port: 41234 },
    destination: { ip: 'fd00::1:2', port: 8080 },
    sourceLabels: { tls: 'no_identity' },
    destinationLabels: { pod: 'web-0', tls: 'true', server_id: 'web.demo.serviceaccount.identity.linnet.cluster.local' },
    routeLabels: {},
  };
  const events: TapEvent[] = [
    { ...base, http: { kind: 'request_init', id: { base: 4_000_000_000, stream: 2 ** 40 }, method: 'PROPFIND', scheme: 'http', authority: 'web:80', path: '/a?b' } },
    { ...base, http: { kind: 'request_init', id: { base: 1, stream: 1 }, method: 'POST', scheme: 'https', authority: 'web:80', path: '/' } },
    { ...base, direction: 'inbound', http: { kind: 'response_init', id: { base: 1, stream: 1 }, sinceRequestInitUs: 1_234_567, status: 503 } },
    { ...base, http: { kind: 'response_end', id: { base: 1, stream: 1 }, sinceRequestInitUs: 2_000_001, sinceResponseInitUs: 7, responseBytes: 5_000_000_000, grpcStatus: 14 } },
    { ...base, http: { kind: 'response_end', id: { base: 1, stream: 1 }, sinceRequestInitUs: 3, sinceResponseInitUs: 0, responseBytes: 0, resetErrorCode: 8 } },
    { ...base, http: { kind: 'response_end', id: { base: 1, stream: 1 }, sinceRequestInitUs: 3, sinceResponseInitUs: 1, responseBytes: 12 } },
  ];
  for (const e of events) assert.deepEqual(wireEvent(e), e);
});

test('a match crosses the wire unchanged, ports and netmasks normalised', () => {
  const m: TapMatch = {
    all: [
      { source: { net: '10.1.0.0/16' } },
      { not: { destination: { ports: { min: 4190, max: 4191 } } } },
      { any: [{ method: 'GET' }, { method: 'BREW' }, { scheme: 'https' }] },
      { authority: { exact: 'web.demo.svc.cluster.local:80' } },
      { path: { prefix: '/api' } },
      { destinationLabel: { key: 'pod', value: 'web-0' } },
      { routeLabel: { key: 'route', value: 'r' } },
      { destination: { net: 'fd00::/8' } },
    ],
  };
  const d = observe();
  const back = observeFromPb(d.requestDeserialize(d.requestSerialize(observeToPb({ limit: 7, match: m }))) as never);
  assert.deepEqual(back, { limit: 7, maxRps: 0, match: m });
  // Host bits cleared, one-sided port range is one port.
  assert.deepEqual(matchFromPb({ match: 'source', source: { match: 'netmask', netmask: { ip: { ip: 'ipv4', ipv4: 0x0a010203 }, mask: 8 } } }), { source: { net: '10.0.0.0/8' } });
  assert.deepEqual(matchFromPb({ match: 'destination', destination: { match: 'ports', ports: { min: 0, max: 80 } } }), { destination: { ports: { min: 80, max: 80 } } });
  assert.deepEqual(matchToPb({ method: 'get' }).http?.method, { type: 'registered', registered: 'GET' });
});

test('a bad match is a typed error naming what is wrong', () => {
  const bad: [PbMatch, RegExp][] = [
    [{}, /names none of/],
    [{ match: 'http', http: {} }, /needs scheme, method/],
    [{ match: 'destination', destination: { match: 'ports', ports: { min: 90, max: 80 } } }, /port range 90-80/],
    [{ match: 'source', source: { match: 'netmask', netmask: { ip: { ip: 'ipv4', ipv4: 1 }, mask: 33 } } }, /longer than 32/],
    [{ match: 'not' }, /not: needs a match/],
  ];
  for (const [pb, re] of bad) {
    assert.throws(() => matchFromPb(pb), (e: unknown) => e instanceof TapMatchError && e.code === 'LINNET_TAP_MATCH_INVALID' && re.test(e.message));
  }
  let deep: PbMatch = { match: 'http', http: { match: 'path', path: { match: 'prefix', prefix: '/' } } };
  for (let i = 0; i < 20; i++) deep = { match: 'not', not: deep };
  assert.throws(() => matchFromPb(deep), /deeper than 16/);
  const wide: PbMatch = { match: 'any', any: { matches: new Array(300).fill({ match: 'http', http: { match: 'method', method: { type: 'registered', registered: 'GET' } } }) } };
  assert.throws(() => matchFromPb(wide), /more than 256/);
});
