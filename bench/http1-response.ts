/**
 * An incremental HTTP/1.1 response counter for the open-loop generator: it is fed raw bytes and
 * says how many complete responses they closed, handling Content-Length and chunked bodies. Our
 * own raw client instead of node:http keeps the generator's own cost (and noise) small, so the
 * latency measured is the path's, not the client's.
 */
import { BenchError } from './errors';

type State = { kind: 'head' } | { kind: 'body'; left: number } | { kind: 'chunk-size' } | { kind: 'chunk-data'; left: number } | { kind: 'trailer' };

export class ResponseCounter {
  private state: State = { kind: 'head' };
  private buf: Buffer = Buffer.alloc(0);
  /** Status codes of completed responses, for error counting. */
  readonly statuses: number[] = [];
  private status = 0;

  /** Feeds bytes; returns how many responses completed within them. */
  feed(data: Buffer): number {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    let done = 0;
    for (;;) {
      const s = this.state;
      if (s.kind === 'head') {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buf.length > 64 * 1024) throw new BenchError('LINNET_BENCH_PARSE', 'response head over 64 KiB', 'is the server speaking HTTP/1.1?');
          return done;
        }
        const head = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 4);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (!m) throw new BenchError('LINNET_BENCH_PARSE', `not an HTTP/1 status line: ${JSON.stringify(head.slice(0, 40))}`, 'is the server speaking HTTP/1.1?');
        this.status = Number(m[1]);
        const chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(head);
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const noBody = this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200);
        if (this.status >= 100 && this.status < 200) continue; // interim response: the real one follows
        if (chunked) this.state = { kind: 'chunk-size' };
        else if (cl && !noBody) this.state = { kind: 'body', left: Number(cl[1]) };
        else this.state = { kind: 'body', left: 0 };
      } else if (s.kind === 'body') {
        const take = Math.min(s.left, this.buf.length);
        s.left -= take;
        this.buf = this.buf.subarray(take);
        if (s.left > 0) return done;
        this.statuses.push(this.status);
        done++;
        this.state = { kind: 'head' };
      } else if (s.kind === 'chunk-size') {
        const end = this.buf.indexOf('\r\n');
        if (end < 0) return done;
        const size = parseInt(this.buf.subarray(0, end).toString('latin1'), 16);
        if (!Number.isFinite(size)) throw new BenchError('LINNET_BENCH_PARSE', 'bad chunk size', 'is the server speaking HTTP/1.1?');
        this.buf = this.buf.subarray(end + 2);
        this.state = size === 0 ? { kind: 'trailer' } : { kind: 'chunk-data', left: size + 2 };
      } else if (s.kind === 'chunk-data') {
        const take = Math.min(s.left, this.buf.length);
        s.left -= take;
        this.buf = this.buf.subarray(take);
        if (s.left > 0) return done;
        this.state = { kind: 'chunk-size' };
      } else {
        const end = this.buf.indexOf('\r\n');
        if (end < 0) return done;
        this.buf = this.buf.subarray(end + 2);
        if (end === 0) {
          this.statuses.push(this.status);
          done++;
          this.state = { kind: 'head' };
        }
      }
    }
  }
}

/**
 * The intended send times of an open-loop schedule that are due by `nowNs`: request i is due at
 * start + i × interval whatever happened before (that is what makes the load open).
 */
export function dueCount(startNs: number, nowNs: number, rate: number): number {
  if (nowNs < startNs) return 0;
  return Math.floor(((nowNs - startNs) * rate) / 1e9) + 1;
}
