/**
 * The HPACK static table (RFC 7541 Appendix A), and the encoder's lookups into it, built once:
 * a field name leads to its first static index and to the static entries with a value for it, so
 * the encoder finds an exact match or a name match with two Map reads and no string building.
 */

/** Index 1 .. 61, as name then value; index 0 is not an entry. */
const ENTRIES: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

export const STATIC_LENGTH = 61;

/** Name of static entry i (1-based); slot 0 is unused so the decoder indexes without an offset. */
export const STATIC_NAMES: readonly string[] = ['', ...ENTRIES.map((e) => e[0])];
export const STATIC_VALUES: readonly string[] = ['', ...ENTRIES.map((e) => e[1])];

/** A name in the static table: its first index, and the index of each value it has there. */
export interface StaticName {
  readonly index: number;
  readonly values: ReadonlyMap<string, number>;
}

export const STATIC_BY_NAME: ReadonlyMap<string, StaticName> = (() => {
  const m = new Map<string, { index: number; values: Map<string, number> }>();
  ENTRIES.forEach(([name, value], i) => {
    let e = m.get(name);
    if (e === undefined) m.set(name, (e = { index: i + 1, values: new Map() }));
    if (!e.values.has(value)) e.values.set(value, i + 1);
  });
  return m;
})();
