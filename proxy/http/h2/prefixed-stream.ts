/**
 * A duplex over an accepted socket that first yields the bytes protocol detection already read.
 * node:http2 in Node 20 reads a net.Socket's handle directly and ignores data buffered in the
 * JS stream (unshift is lost: "bad client magic"), so the session is given this stream instead;
 * Node then drives it through its JS stream path, which sees every byte in order.
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
