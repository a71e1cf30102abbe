/**
 * A raw HTTP/2 peer that reports what the proxy put on the wire at the start of a connection: its
 * SETTINGS parameters and its connection-level WINDOW_UPDATE. No HTTP/2 library on this side, so
 * nothing is negotiated or hidden.
 *
 *   node http2-settings-peer.js client HOST PORT   connect as a client (prior knowledge)
 *   node http2-settings-peer.js server PORT        accept one connection as an upstream
 *   node http2-settings-peer.js silent HOST PORT SECONDS
 *       connect as a client, ACK the SETTINGS, then send nothing and never answer a PING; prints
 *       `{"event":"closed","afterMs":N,"pings":N}` when the proxy closes, or `{"event":"open",...}`
 *
 * Prints `{"event":"listening"}` (server) and one JSON line per connection:
 * `{"event":"settings","settings":{"3":37,...},"connectionWindowIncrement":N}`.
 */
import { connect, createServer, type Socket } from 'node:net';
import { frame, PREFACE, readFrames, T } from './h2-frames';

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

/** Reads frames for `ms` (after skipping `skip` bytes of preface); reports, then closes. */
function observe(sock: Socket, skip: number, ms: number): void {
  const settings: Record<string, number> = {};
  let increment: number | undefined;
  let acked = false;
  readFrames(sock, (type, flags, stream, payload) => {
    if (type === T.SETTINGS && (flags & 1) === 0) {
      for (let i = 0; i + 6 <= payload.length; i += 6) settings[String(payload.readUInt16BE(i))] = payload.readUInt32BE(i + 2);
      if (!acked) sock.write(frame(T.SETTINGS, 1, 0, Buffer.alloc(0)));
      acked = true;
    } else if (type === T.WINDOW_UPDATE && stream === 0) {
      increment = (increment ?? 0) + (payload.readUInt32BE(0) & 0x7fffffff);
    }
  }, skip);
  sock.on('error', () => {});
  setTimeout(() => {
    say({ event: 'settings', settings, connectionWindowIncrement: increment });
    sock.destroy();
  }, ms);
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'silent') {
  const start = Date.now();
  let pings = 0;
  const sock = connect({ host: a!, port: Number(b) }, () => {
    sock.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0, Buffer.alloc(0))]));
    let acked = false;
    readFrames(sock, (type, flags) => {
      if (type === T.SETTINGS && (flags & 1) === 0 && !acked) {
        acked = true;
        sock.write(frame(T.SETTINGS, 1, 0, Buffer.alloc(0)));
      }
      if (type === T.PING && (flags & 1) === 0) pings++;
    });
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    say({ event: 'closed', afterMs: Date.now() - start, pings });
    process.exit(0);
  });
  setTimeout(() => {
    say({ event: 'open', afterMs: Date.now() - start, pings });
    process.exit(0);
  }, Number(c) * 1000);
} else if (mode === 'client') {
  const sock = connect({ host: a!, port: Number(b) }, () => {
    sock.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0, Buffer.alloc(0))]));
    observe(sock, 0, 1500);
  });
  sock.on('close', () => process.exit(0));
} else {
  const server = createServer((sock) => {
    // The upstream answers the proxy's preface with its own (empty) SETTINGS, as a server must.
    sock.write(frame(T.SETTINGS, 0, 0, Buffer.alloc(0)));
    observe(sock, PREFACE.length, 1500);
  });
  server.listen(Number(a), '0.0.0.0', () => say({ event: 'listening' }));
}
