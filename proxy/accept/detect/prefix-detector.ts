/**
 * Detection over a byte stream that arrives in pieces, with bounded work. detect() is pure and
 * reads the whole prefix each time; calling it on every read made a client trickling a 16 KiB
 * ClientHello one byte at a time cost O(n²) (16,384 parses of up to 16 KiB, plus as many
 * concatenations). This keeps the bytes in one growing buffer and calls detect() only when its
 * answer can have changed in a way that matters:
 *
 * - on the first bytes, and whenever the buffer has doubled since the last call (so a prefix
 *   that is already wrong is still answered opaque within twice its length; the calls cost
 *   O(n) bytes in all);
 * - at the byte a positive answer can first appear, so tls, h2 and http1 are answered exactly
 *   when detect() on every prefix would answer them, never later: the last byte of the
 *   ClientHello (tracked from the record and handshake headers as bytes arrive), the 24th byte of
 *   a PRI preface, the LF ending an HTTP/1 request line;
 * - when DETECT_MAX_BYTES are buffered (detect must answer then).
 *
 * Every answer is detect() of the bytes seen so far, so it is the answer detect() gives on every
 * longer prefix too (detect is monotone): only an opaque answer can come later than before, and
 * settle() gives it at once when the caller stops waiting (the detect timeout).
 */
import { DETECT_MAX_BYTES, detect, type DetectResult } from './detect';

const HANDSHAKE = 0x16;
const LF = 0x0a;
/** Below this many bytes every push runs detect(): cheap, and covers the h2 preface. */
const ALWAYS_BELOW = 64;

/** Follows TLS record headers as bytes arrive, to know when the ClientHello can be complete. */
class HelloEnd {
  /** Offset of the next record header not yet read. */
  private next = 0;
  /** Payload end of the record being received (-1 between records). */
  private payloadEnd = -1;
  /** Handshake bytes in records so far (of the current record: those received). */
  private gathered = 0;
  /** Stream offset up to which payload bytes are counted. */
  private counted = 0;
  /** The handshake header's first 4 bytes (type, 24-bit length), gathered across records. */
  private header: number[] = [];
  /** 4 + the handshake length, once known. */
  private wanted = -1;

  /** Reads `b` up to `to` (from where it stopped); true when detect() can now answer differently. */
  advance(b: Buffer, to: number): boolean {
    for (;;) {
      if (this.payloadEnd < 0) {
        if (this.next + 5 > to) return false;
        const h = this.next;
        const len = (b[h + 3]! << 8) | b[h + 4]!;
        // A record header detect() refuses: it answers opaque now (and on every later push).
        if (b[h] !== HANDSHAKE || b[h + 1] !== 3 || len === 0) return true;
        this.payloadEnd = h + 5 + len;
        this.counted = h + 5;
      }
      const upto = to < this.payloadEnd ? to : this.payloadEnd;
      for (let i = this.counted; i < upto && this.header.length < 4; i++) this.header.push(b[i]!);
      this.gathered += upto - this.counted;
      this.counted = upto;
      if (this.wanted < 0 && this.header.length === 4) {
        this.wanted = 4 + ((this.header[1]! << 16) | (this.header[2]! << 8) | this.header[3]!);
        return true; // the type and length are known: not-client-hello and too-large answer now
      }
      if (this.wanted >= 0 && this.gathered >= this.wanted) return true;
      if (upto < this.payloadEnd) return false;
      this.next = this.payloadEnd;
      this.payloadEnd = -1;
    }
  }
}

export class PrefixDetector {
  /** The first DETECT_MAX_BYTES bytes seen (detect never looks further). */
  private buf: Buffer = Buffer.alloc(0);
  private filled = 0;
  private lastRun = 0;
  private hello: HelloEnd | undefined;
  private answer: DetectResult = { kind: 'need-more' };
  /** How many times detect() ran, and how many bytes it was given in all (for tests and logs). */
  runs = 0;
  scanned = 0;

  /** Adds the next bytes of the stream; returns the answer (need-more until there is one). */
  push(chunk: Buffer): DetectResult {
    if (this.answer.kind !== 'need-more' || chunk.length === 0) return this.answer;
    const from = this.filled;
    if (from === 0) {
      // The usual case: the first read decides, and nothing is copied.
      const r = this.run(chunk, chunk.length < DETECT_MAX_BYTES ? chunk.length : DETECT_MAX_BYTES);
      if (r.kind === 'need-more') this.append(chunk);
      return r;
    }
    this.append(chunk);
    if (this.filled > from && this.due(from)) this.run(this.buf, this.filled);
    return this.answer;
  }

  /** detect() on everything seen, whatever the schedule: for when the caller stops waiting. */
  settle(): DetectResult {
    if (this.answer.kind !== 'need-more' || this.filled === 0 || this.lastRun === this.filled) return this.answer;
    return this.run(this.buf, this.filled);
  }

  private due(from: number): boolean {
    const n = this.filled;
    if (n < ALWAYS_BELOW || n >= 2 * this.lastRun || n >= DETECT_MAX_BYTES) return true;
    const b0 = this.buf[0];
    if (b0 === HANDSHAKE) {
      this.hello ??= new HelloEnd();
      return this.hello.advance(this.buf, n);
    }
    // HTTP/1: a request line is only complete at its LF (an earlier LF answers opaque). The
    // h2 preface (24 bytes) is always inside ALWAYS_BELOW.
    return this.buf.subarray(from, n).includes(LF);
  }

  private run(b: Buffer, n: number): DetectResult {
    this.runs++;
    this.scanned += n;
    this.lastRun = n;
    this.answer = detect(n === b.length ? b : b.subarray(0, n));
    return this.answer;
  }

  private append(chunk: Buffer): void {
    const room = DETECT_MAX_BYTES - this.filled;
    if (room <= 0) return;
    const take = chunk.length < room ? chunk.length : room;
    const need = this.filled + take;
    if (need > this.buf.length) {
      let cap = this.buf.length === 0 ? 1024 : this.buf.length * 2;
      while (cap < need) cap *= 2;
      const grown = Buffer.allocUnsafe(cap < DETECT_MAX_BYTES ? cap : DETECT_MAX_BYTES);
      this.buf.copy(grown, 0, 0, this.filled);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.filled, 0, take);
    this.filled = need;
  }
}
