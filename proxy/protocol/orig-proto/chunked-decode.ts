/**
 * Decodes a chunked HTTP/1 body into its data and its trailer fields, for the HTTP/2 hop (DATA
 * frames and trailers). The bytes given were already validated by the handler's ChunkedScanner
 * (h1/chunked.ts), so this decoder only splits; it does not judge.
 */
import { owsTrim } from '../h1/parse-head';

const CR = 0x0d;
const LF = 0x0a;

const enum S {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

export class ChunkedDecoder {
  private s = S.Size;
  private size = 0;
  private line: Buffer[] = [];
  /** Trailer fields [name, value, ...] (lower-case names), once the body is done. */
  readonly trailers: string[] = [];

  constructor(private readonly onData: (data: Buffer) => void) {}

  get done(): boolean {
    return this.s === S.Done;
  }

  push(b: Buffer): void {
    let p = 0;
    const end = b.length;
    while (p < end && this.s !== S.Done) {
      const c = b[p]!;
      switch (this.s) {
        case S.Size:
          if (c === CR) this.s = S.SizeLf;
          else if (c === 0x3b /* ; */) this.s = S.Ext;
          else this.size = this.size * 16 + parseInt(String.fromCharCode(c), 16);
          p++;
          break;
        case S.Ext:
          if (c === CR) this.s = S.SizeLf;
          p++;
          break;
        case S.SizeLf:
          p++;
          this.s = this.size === 0 ? S.Trailer : S.Data;
          break;
        case S.Data: {
          const n = Math.min(this.size, end - p);
          this.onData(b.subarray(p, p + n));
          p += n;
          this.size -= n;
          if (this.size === 0) this.s = S.DataCr;
          break;
        }
        case S.DataCr:
          this.s = S.DataLf;
          p++;
          break;
        case S.DataLf:
          this.s = S.Size;
          p++;
          break;
        case S.Trailer: {
          const lf = b.indexOf(LF, p);
          if (lf < 0) {
            this.line.push(b.subarray(p));
            p = end;
            break;
          }
          this.line.push(b.subarray(p, lf + 1));
          p = lf + 1;
          const text = Buffer.concat(this.line).toString('latin1').replace(/\r\n$/, '');
          this.line = [];
          if (text === '') this.s = S.Done;
          else this.addTrailer(text);
          break;
        }
        default:
          return;
      }
    }
  }

  private addTrailer(line: string): void {
    const i = line.indexOf(':');
    const name = line.slice(0, i).toLowerCase();
    const value = owsTrim(line.slice(i + 1));
    this.trailers.push(name, value);
  }
}
