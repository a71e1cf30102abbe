/**
 * Chunked transfer-coding validator (RFC 9112 §7.1), pure and incremental: it walks the bytes of
 * a chunked body as they arrive and says how many belong to the body and whether it ended, so the
 * proxy can pass the same bytes through (no re-framing, no copy) knowing that the upstream will
 * see exactly the message boundaries the proxy saw. Strict like llhttp: hex sizes without
 * whitespace, CRLF (never bare CR or LF) after sizes, data and trailer lines; chunk extensions
 * token[=token|quoted-string].
 *
 * Trailer fields that frame, route or manage the connection (Transfer-Encoding, Content-Length,
 * Host, Connection and the other hop-by-hop fields) are refused, not passed on: RFC 9110
 * §6.5.1 forbids sending them in trailers and merging them into the header section, and
 * upstreams disagree on what they do there (llhttp refuses Transfer-Encoding and Content-Length,
 * and closes the connection after a trailer `Connection: close`). The proxy copies the body
 * bytes through unchanged, so dropping one would mean re-framing; refusing is the strict choice:
 * a request gets 400 and the upstream connection is reset before the message completes.
 */
import { TCHAR, VALUE } from './parse-head';

const CR = 0x0d;
const LF = 0x0a;

const enum S {
  Size,
  SizeMore,
  ExtSemi, // after ';' (or after an extension, before the next ';'): expect a name
  ExtName,
  ExtEq, // after '=': token or quoted-string
  ExtToken,
  ExtQuoted,
  ExtQuotedEscape,
  ExtAfterValue,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerName,
  TrailerLine,
  TrailerLf,
  EndLf,
  Done,
}

export class ChunkedError extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

/** Field names never accepted in a trailer section (lower-case). */
export const FORBIDDEN_TRAILERS: ReadonlySet<string> = new Set([
  'transfer-encoding',
  'content-length',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'upgrade',
]);
/** Longer names cannot be forbidden: only this many bytes of a trailer name are kept. */
const NAME_KEEP = 17; // 'transfer-encoding'

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

/** Largest chunk size accepted: 2^53 - 1 keeps the arithmetic exact. */
const MAX_SIZE = Number.MAX_SAFE_INTEGER;

export interface ChunkedOptions {
  /** Decoded data, for tests and for consumers that need the content (the proxy does not). */
  onData?: (buf: Buffer, start: number, end: number) => void;
  /** Bound on the trailer section's bytes. */
  maxTrailerBytes?: number;
  /**
   * The bytes of the trailer section as they pass (field lines and the final CRLF, possibly in
   * several pieces), for consumers that carry trailers elsewhere (the orig-proto inbound client).
   */
  onTrailer?: (buf: Buffer, start: number, end: number) => void;
}

export class ChunkedScanner {
  private s = S.Size;
  private size = 0;
  private digits = 0;
  private trailerBytes = 0;
  /** Chunk data bytes seen so far: the body's length as a client sees it, without the framing. */
  dataBytes = 0;
  /** The current trailer field name, lower-case, while it is short enough to be a forbidden one. */
  private trailerName = '';
  private readonly maxTrailer: number;

  constructor(private readonly opts: ChunkedOptions = {}) {
    this.maxTrailer = opts.maxTrailerBytes ?? 16384;
  }

  get done(): boolean {
    return this.s === S.Done;
  }

  /**
   * Consumes bytes of `b` from `start` up to the end of the body. Returns the offset just past
   * the last body byte consumed (== b.length when the body continues). Throws ChunkedError on
   * malformed input; bytes before the error were valid.
   */
  push(b: Buffer, start = 0): number {
    const end = b.length;
    let p = start;
    const onTrailer = this.opts.onTrailer;
    /** Where this buffer's share of the trailer section starts, while in it. */
    let t = this.s >= S.TrailerStart && this.s <= S.EndLf ? start : -1;
    while (p < end) {
      const c = b[p]!;
      switch (this.s) {
        case S.Size: {
          const h = HEX[c]!;
          if (h < 0) throw new ChunkedError('invalid character in chunk size');
          this.size = h;
          this.digits = 1;
          this.s = S.SizeMore;
          p++;
          break;
        }
        case S.SizeMore: {
          const h = HEX[c]!;
          if (h >= 0) {
            this.size = this.size * 16 + h;
            if (++this.digits > 16 || this.size > MAX_SIZE) throw new ChunkedError('chunk size overflow');
            p++;
          } else if (c === CR) {
            this.s = S.SizeLf;
            p++;
          } else if (c === 0x3b /* ; */) {
            this.s = S.ExtSemi;
            p++;
          } else throw new ChunkedError('invalid character in chunk size');
          break;
        }
        case S.ExtSemi:
          if (TCHAR[c] !== 1) throw new ChunkedError('invalid character in chunk extensions');
          this.s = S.ExtName;
          p++;
          break;
        case S.ExtName:
          if (TCHAR[c] === 1) p++;
          else if (c === 0x3d /* = */) {
            this.s = S.ExtEq;
            p++;
          } else if (c === 0x3b) {
            this.s = S.ExtSemi;
            p++;
          } else if (c === CR) {
            this.s = S.SizeLf;
            p++;
          } else throw new ChunkedError('invalid character in chunk extensions');
          break;
        case S.ExtEq:
          if (c === 0x22 /* " */) {
            this.s = S.ExtQuoted;
            p++;
          } else if (TCHAR[c] === 1) {
            this.s = S.ExtToken;
            p++;
          } else throw new ChunkedError('invalid character in chunk extensions');
          break;
        case S.ExtToken:
          if (TCHAR[c] === 1) p++;
          else if (c === 0x3b) {
            this.s = S.ExtSemi;
            p++;
          } else if (c === CR) {
            this.s = S.SizeLf;
            p++;
          } else throw new ChunkedError('invalid character in chunk extensions');
          break;
        case S.ExtQuoted:
          if (c === 0x22) this.s = S.ExtAfterValue;
          else if (c === 0x5c /* \ */) this.s = S.ExtQuotedEscape;
          else if (c === CR || c === LF || (VALUE[c] !== 1)) throw new ChunkedError('invalid character in chunk extensions quoted value');
          p++;
          break;
        case S.ExtQuotedEscape:
          if (c === CR || c === LF || VALUE[c] !== 1) throw new ChunkedError('invalid character in chunk extensions quoted value');
          this.s = S.ExtQuoted;
          p++;
          break;
        case S.ExtAfterValue:
          if (c === 0x3b) this.s = S.ExtSemi;
          else if (c === CR) this.s = S.SizeLf;
          else throw new ChunkedError('invalid character in chunk extensions');
          p++;
          break;
        case S.SizeLf:
          if (c !== LF) throw new ChunkedError('expected LF after chunk size');
          p++;
          if (this.size === 0) {
            this.s = S.TrailerStart;
            t = p;
          } else this.s = S.Data;
          break;
        case S.Data: {
          // The bulk path: skip the chunk's bytes at once.
          const n = Math.min(this.size, end - p);
          if (this.opts.onData) this.opts.onData(b, p, p + n);
          this.dataBytes += n;
          p += n;
          this.size -= n;
          if (this.size === 0) this.s = S.DataCr;
          break;
        }
        case S.DataCr:
          if (c !== CR) throw new ChunkedError('expected CRLF after chunk data');
          this.s = S.DataLf;
          p++;
          break;
        case S.DataLf:
          if (c !== LF) throw new ChunkedError('expected LF after chunk data');
          this.s = S.Size;
          p++;
          break;
        case S.TrailerStart:
          if (c === CR) {
            this.s = S.EndLf;
            p++;
          } else if (TCHAR[c] === 1) {
            this.s = S.TrailerName;
            this.trailerName = String.fromCharCode(c | 0x20);
            p++;
            this.trailerBytes++;
          } else throw new ChunkedError('invalid trailer field');
          break;
        case S.TrailerName:
          if (c === 0x3a /* : */) {
            if (this.trailerName.length <= NAME_KEEP && FORBIDDEN_TRAILERS.has(this.trailerName)) {
              throw new ChunkedError(`${this.trailerName} is not allowed in a trailer section`);
            }
            this.s = S.TrailerLine;
          } else if (TCHAR[c] !== 1) throw new ChunkedError('invalid trailer field name');
          // OR 0x20 lower-cases letters, keeps '-' and maps no other tchar onto a letter or '-'.
          else if (this.trailerName.length <= NAME_KEEP) this.trailerName += String.fromCharCode(c | 0x20);
          p++;
          if (++this.trailerBytes > this.maxTrailer) throw new ChunkedError('trailer section too large');
          break;
        case S.TrailerLine:
          // A trailer field line: name ":" value; checked for bytes that could split it.
          if (c === CR) this.s = S.TrailerLf;
          else if (c === LF || VALUE[c] !== 1) throw new ChunkedError('invalid character in trailer field');
          p++;
          if (++this.trailerBytes > this.maxTrailer) throw new ChunkedError('trailer section too large');
          break;
        case S.TrailerLf:
          if (c !== LF) throw new ChunkedError('bare CR in trailer field');
          this.s = S.TrailerStart;
          p++;
          break;
        case S.EndLf:
          if (c !== LF) throw new ChunkedError('expected LF after the last chunk');
          this.s = S.Done;
          if (onTrailer && t >= 0) onTrailer(b, t, p + 1);
          return p + 1;
        case S.Done:
          return p;
      }
    }
    if (onTrailer && t >= 0 && t < p && this.s >= S.TrailerStart && this.s <= S.EndLf) onTrailer(b, t, p);
    return p;
  }
}
