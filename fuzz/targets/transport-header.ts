/**
 * Fuzz target for the opaque-transport header reader (proxy/transport/transport-header.ts): the first
 * bytes a peer proxy sends on a direct mTLS connection to our inbound port. One input is those
 * bytes as received (the seeds are encoded headers, some followed by payload).
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeTransportHeader, encodeTransportHeader, MAX_HEADER_MESSAGE, TRANSPORT_PREFACE } from '../../proxy/transport/transport-header';
import { refusalOrValue, violations, type Fail } from '../target';

export const name = 'transport-header';
export const properties = [
  'typed-errors: decodeTransportHeader returns or throws TransportHeaderError LINNET_TRANSPORT_HEADER_INVALID',
  'bounded: an accepted header took at most preface + 4 + MAX_HEADER_MESSAGE bytes, and its port is 1-65535',
  'prefix-consistent: every proper prefix of bytes that decode is need-more (a header is never read from fewer bytes)',
  'round-trip: encoding the decoded header and decoding again gives the same header',
];
const fail: Fail = violations(name);
const CODES = ['LINNET_TRANSPORT_HEADER_INVALID'];

export function run(input: Buffer): void {
  const r = refusalOrValue(fail, 'decodeTransportHeader', CODES, () => decodeTransportHeader(input));
  if (!r.ok || r.value.kind !== 'ok') return;
  const { header, length } = r.value;
  if (length > TRANSPORT_PREFACE.length + 4 + MAX_HEADER_MESSAGE || length > input.length) fail('bounded', `took ${length} bytes`);
  if (!Number.isInteger(header.port) || header.port < 1 || header.port > 65535) fail('bounded', `port ${header.port}`);
  for (const cut of [0, 1, TRANSPORT_PREFACE.length, TRANSPORT_PREFACE.length + 3, length - 1]) {
    if (cut < 0 || cut >= length) continue;
    const p = refusalOrValue(fail, 'decodeTransportHeader(prefix)', CODES, () => decodeTransportHeader(input.subarray(0, cut)));
    if (!p.ok || p.value.kind !== 'need-more') fail('prefix-consistent', `prefix of ${cut}/${length} bytes gave ${p.ok ? p.value.kind : p.error.message}`);
  }
  const again = decodeTransportHeader(encodeTransportHeader(header));
  if (again.kind !== 'ok' || !isDeepStrictEqual(again.header, header)) fail('round-trip', `${JSON.stringify(header)} -> ${JSON.stringify(again)}`);
}

export const dictionary = [TRANSPORT_PREFACE, Buffer.from([0, 0, 0, 4]), Buffer.from([0x08, 0x19]), Buffer.from([0x12]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 'web.default.svc.cluster.local'];

const target = { name, properties, run, dictionary, maxInputBytes: 4096 };
export default target;
