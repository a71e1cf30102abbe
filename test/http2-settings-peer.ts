/**
 * A raw HTTP/2 peer that reports what the proxy put on the wire at the start of a connection: its
 * SETTINGS parameters and its connection-level WINDOW_UPDATE. No HTTP/2 library on this side, so
 * nothing is negotiated or hidden.
 *
 *   node http2-settings-peer.js client HOST PORT   connect as a client (prior knowledge)
 *   node http2-settings-peer.js server PORT        accept one connection as an upstream
 *
 * Prints `{"event":"listening"}` (server) and one JSON line per connection:
 * `{"event":"settings","settings":{"3":37,...},"connectionWindowIncrement":N}`.
 */
import { connect, createServer, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SETTINGS = 0x4;
const WINDOW_UPDATE = 0x8;
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** Reads frames for `ms` (after skipping `skip` bytes of preface); reports, then closes. */
function observe(sock: Socket, skip: number, ms: number): void {
  let buf = Buffer.alloc(0);
  const settings: Record<string, number> = {};
  let increment: number | undefined;
  let acked = false;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (skip > 0) {
      if (buf.length < skip) return;
      buf = buf.subarray(skip);
      skip = 0;
    }
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = buf[3]!;
      const flags = buf[4]!;
      const stream = buf.readUInt32BE(5) & 0x7fffffff;
      const payload = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      if (type === SETTINGS && (flags & 1) === 0) {
        for (let i = 0; i + 6 <= payload.length; i += 6) settings[String(payload.readUInt16BE(i))] = payload.readUInt32BE(i + 2);
        if (!acked) sock.write(frame(SETTINGS, 1, 0, Buffer.alloc(0)));
        acked = true;
      } else if (type === WINDOW_UPDATE && stream === 0) {
        increment = (increment ?? 0) + (payload.readUInt32BE(0) & 0x7fffffff);
      }
    }
  });
  sock.on('error', () => {});
  setTimeout(() => {
    say({ event: 'settings', settings, connectionWindowIncrement: increment });
    sock.destroy();
  }, ms);
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'client') {
  const sock = connect({ host: a!, port: Number(b) }, () => {
    sock.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0))]));
    observe(sock, 0, 1500);
  });
  sock.on('close', () => process.exit(0));
} else {
  const server = createServer((sock) => {
    // The upstream answers the proxy's preface with its own (empty) SETTINGS, as a server must.
    sock.write(frame(SETTINGS, 0, 0, Buffer.alloc(0)));
    observe(sock, PREFACE.length, 1500);
  });
  server.listen(Number(a), '0.0.0.0', () => say({ event: 'listening' }));
}
