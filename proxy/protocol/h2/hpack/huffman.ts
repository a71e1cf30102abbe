/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B). The RFC's code is canonical (codes are
 * handed out in order of length, then symbol), so the table below holds only each symbol's code
 * length and the codes are derived from it once at load; huffman.test.ts checks the derived
 * codes against codes the RFC prints.
 *
 * Decoding walks the code tree four bits at a time through a table built once: for each of the
 * 256 internal nodes and each nibble, the node the walk ends at and the symbol it completed on
 * the way (a code is at least 5 bits long, so a nibble completes at most one). That is two table
 * reads per input octet, no per-bit branching and no allocation.
 */

/** Bits in the code of each symbol: octets 0-255, then EOS (256). */
const LENGTHS = Uint8Array.of(
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32-47
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48-63
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64-79
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80-95
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96-111
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112-127
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30, // EOS
);

export const EOS = 256;

/** Each symbol's code, right-aligned. */
export const CODES: Uint32Array = (() => {
  const order = Array.from({ length: 257 }, (_, s) => s).sort((a, b) => LENGTHS[a]! - LENGTHS[b]! || a - b);
  const codes = new Uint32Array(257);
  let code = 0;
  let len = LENGTHS[order[0]!]!;
  for (const s of order) {
    code *= 2 ** (LENGTHS[s]! - len); // multiplication: the 30-bit codes overflow a signed shift
    len = LENGTHS[s]!;
    codes[s] = code++;
  }
  return codes;
})();

export const CODE_LENGTHS: Readonly<Uint8Array> = LENGTHS;

// ---- decoding ----

/** Decode-table entry: next node in bits 0-7, completed symbol in bits 8-15, flags above. */
const EMIT = 1 << 16;
const FAIL = 1 << 17;

/** One entry per (node, nibble): node * 16 + nibble. */
const DECODE = new Uint32Array(256 * 16);
/** Nodes where a string may end: reached from the root by at most 7 one-bits (RFC 7541 §5.2 padding). */
const ACCEPT = new Uint8Array(256);

(() => {
  // The tree: internal nodes 0 (root) .. 255; a child is a node number, or ~symbol for a leaf.
  const child = new Int32Array(256 * 2);
  let nodes = 1;
  for (let s = 0; s <= EOS; s++) {
    const len = LENGTHS[s]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const slot = node * 2 + (Math.floor(CODES[s]! / 2 ** i) & 1);
      if (i === 0) child[slot] = ~s;
      else node = child[slot] !== 0 ? child[slot]! : (child[slot] = nodes++);
    }
  }
  for (let node = 0; node < 256; node++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let at = node;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const c = child[at * 2 + ((nibble >> i) & 1)]!;
        if (c >= 0) {
          at = c;
          continue;
        }
        if (~c === EOS) {
          entry = FAIL;
          break;
        }
        entry = EMIT | (~c << 8);
        at = 0;
      }
      DECODE[node * 16 + nibble] = entry | (entry & FAIL ? 0 : at);
    }
  }
  for (let k = 0, at = 0; k <= 7; k++, at = child[at * 2 + 1]!) ACCEPT[at] = 1;
})();

/** huffmanDecode's refusals (negative, so any result >= 0 is a length). */
export const HUFFMAN_EOS = -1;
export const HUFFMAN_BAD_PADDING = -2;

/** Most octets `n` Huffman-coded octets decode to (the shortest code is 5 bits). */
export function huffmanDecodedMax(n: number): number {
  return Math.floor((n * 8) / 5);
}

/**
 * Decodes src[start, end) into dst from 0 (dst holds at least huffmanDecodedMax(end - start)).
 * Returns the decoded length, HUFFMAN_EOS when the string contains EOS, or HUFFMAN_BAD_PADDING
 * when it ends in anything but a proper prefix of EOS of at most 7 bits.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let node = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const octet = src[i]!;
    let e = DECODE[(node << 4) | (octet >> 4)]!;
    if (e & FAIL) return HUFFMAN_EOS;
    if (e & EMIT) dst[n++] = e >> 8;
    node = e & 0xff;
    e = DECODE[(node << 4) | (octet & 0x0f)]!;
    if (e & FAIL) return HUFFMAN_EOS;
    if (e & EMIT) dst[n++] = e >> 8;
    node = e & 0xff;
  }
  return ACCEPT[node] === 1 ? n : HUFFMAN_BAD_PADDING;
}

// ---- encoding ----

/**
 * Octets the Huffman coding of `s` takes. Strings are latin1: each UTF-16 code unit stands for
 * one octet, its low 8 bits (as Buffer's latin1 encoding writes it).
 */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += LENGTHS[s.charCodeAt(i) & 0xff]!;
  return Math.ceil(bits / 8);
}

/** Writes the Huffman coding of `s` at dst[pos] (room for huffmanLength(s) octets); returns the end. */
export function huffmanEncode(s: string, dst: Uint8Array, pos: number): number {
  // `acc` holds `bits` (< 8 between symbols) not yet written; a code of up to 24 bits joins them
  // within 31 bits, so the int32 shifts stay exact; longer codes go in two parts.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    let len = LENGTHS[sym]!;
    let code = CODES[sym]!;
    if (len > 24) {
      acc = (acc << (len - 8)) | (code >>> 8);
      bits += len - 8;
      while (bits >= 8) {
        bits -= 8;
        dst[pos++] = acc >>> bits;
      }
      acc &= (1 << bits) - 1;
      code &= 0xff;
      len = 8;
    }
    acc = (acc << len) | code;
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      dst[pos++] = acc >>> bits;
    }
    acc &= (1 << bits) - 1;
  }
  // Pad with the most significant bits of EOS: all ones.
  if (bits > 0) dst[pos++] = (acc << (8 - bits)) | (0xff >> bits);
  return pos;
}
