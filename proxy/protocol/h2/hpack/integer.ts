/**
 * HPACK integers (RFC 7541 §5.1): a value in the low N bits of a representation's first octet,
 * continued in 7-bit groups, least significant first, when it does not fit.
 */

/** Largest integer accepted from a peer. Every HPACK integer is an index, a length or a table size; none needs more. */
export const INTEGER_MAX = 2 ** 31 - 1;
/** readInteger's refusals (negative, so any result >= 0 is a value). */
export const INTEGER_TRUNCATED = -1;
export const INTEGER_OVERFLOW = -2;

/** Where a reader is in a block; the decoder keeps one and hands it to every read. */
export interface Cursor {
  p: number;
}

/**
 * Reads the integer whose first octet is src[cur.p], with a `prefixBits`-bit prefix, and moves
 * cur.p past it. Refuses values above INTEGER_MAX and more than five continuation octets (which
 * could only carry leading zeros), so a hostile run of 0x80 octets is cut short.
 */
export function readInteger(src: Uint8Array, end: number, prefixBits: number, cur: Cursor): number {
  let p = cur.p;
  const max = (1 << prefixBits) - 1;
  let value = src[p++]! & max;
  if (value < max) {
    cur.p = p;
    return value;
  }
  let scale = 1;
  for (let octets = 1; ; octets++) {
    if (p >= end) return INTEGER_TRUNCATED;
    const b = src[p++]!;
    value += (b & 0x7f) * scale;
    if (value > INTEGER_MAX) return INTEGER_OVERFLOW;
    if ((b & 0x80) === 0) break;
    if (octets === 5) return INTEGER_OVERFLOW;
    scale *= 128;
  }
  cur.p = p;
  return value;
}

/**
 * Writes `value` (0 .. 2^32-1) with a `prefixBits`-bit prefix at dst[pos], `flags` being the
 * representation's bits above the prefix; returns the end. dst has room for 6 octets.
 */
export function writeInteger(dst: Uint8Array, pos: number, value: number, prefixBits: number, flags: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    dst[pos++] = flags | value;
    return pos;
  }
  dst[pos++] = flags | max;
  value -= max;
  while (value >= 0x80) {
    dst[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  dst[pos++] = value;
  return pos;
}
