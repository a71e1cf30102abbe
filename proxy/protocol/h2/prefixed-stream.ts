/**
 * A duplex over a socket that first yields the bytes protocol detection already read. Used for
 * TLS-terminated connections: node:http2 (Node 20) hands bytes buffered on a socket to its session
 * on the next tick, but for a server-side TLSSocket the session's handle does not exist yet then
 * and the worker crashes (TypeError reading 'receive'). Given this plain stream, Node drives the
 * session through its JS stream path, which sees every byte in order.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export function prefixedStream(socket: Socket, prefix: Buffer): Duplex {
  const d = new Duplex({
    allowHalfOpen: true,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    writev(chunks, cb) {
      socket.cork();
      for (const c of chunks) socket.write(c.chunk as Buffer);
      socket.uncork();
      if (socket.writableNeedDrain) socket.once('drain', () => cb());
      else cb();
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  if (prefix.length > 0) d.push(prefix);
  socket.on('data', (chunk: Buffer) => {
    if (!d.push(chunk)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('error', (err) => d.destroy(err));
  socket.on('close', () => d.destroy());
  return d;
}
