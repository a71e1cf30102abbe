/**
 * HTTP/1 field names in lower case, as HTTP/2 and the proxy's lookups want them, read from a
 * head's bytes. A name the proxy meets again and again (HPACK's static table, the hop-by-hop and
 * tracing fields, gRPC's) comes back as one constant string: no string is built or lower-cased per
 * field, and every Set and Map it is looked up in afterwards (hop-by-hop, the HPACK encoder's
 * tables) reuses its hash instead of computing it for a fresh string. Any other name is sliced
 * and lower-cased.
 */
import { STATIC_NAMES } from './h2/hpack/static-table';

/** Names beyond HPACK's static table that a proxy sees on most requests or responses. */
const MORE_NAMES: readonly string[] = [
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'x-real-ip',
  'traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled',
  'l5d-dst-override', 'l5d-orig-proto', 'l5d-proxy-error', 'l5d-client-id', 'l5d-dst-canonical',
  'grpc-status', 'grpc-message', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding',
  'x-content-type-options', 'x-frame-options', 'cache-control', 'pragma', 'origin', 'dnt',
];

/** Candidates by length and first and last octet: a number key, so finding them hashes no string. */
const KNOWN = new Map<number, string[]>();

function keyOf(length: number, first: number, last: number): number {
  return length * 65536 + first * 256 + last;
}

for (const name of new Set([...STATIC_NAMES.filter((n) => n !== '' && n[0] !== ':'), ...MORE_NAMES])) {
  const k = keyOf(name.length, name.charCodeAt(0), name.charCodeAt(name.length - 1));
  const list = KNOWN.get(k);
  if (list) list.push(name);
  else KNOWN.set(k, [name]);
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** The lower-case name in `b[start, end)` (a field name the parser accepted: token characters). */
export function lowerFieldName(b: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n > 0 && n <= 64) {
    const list = KNOWN.get(keyOf(n, lower(b[start]!), lower(b[end - 1]!)));
    if (list !== undefined) {
      for (let j = 0; j < list.length; j++) {
        const name = list[j]!;
        let i = 1;
        while (i < n - 1 && lower(b[start + i]!) === name.charCodeAt(i)) i++;
        if (i >= n - 1) return name;
      }
    }
  }
  return b.toString('latin1', start, end).toLowerCase();
}
