/**
 * Full-duplex byte relay between two connected sockets, transparent at the TCP level:
 * - backpressure: a side whose peer cannot take more is paused, so the proxy holds at most one
 *   socket buffer per direction however slow the reader is;
 * - half-close: a FIN from one side becomes a FIN (end()) towards the other, and the other
 *   direction keeps flowing (both sockets must be created with allowHalfOpen);
 * - resets: an error such as ECONNRESET on one side resets the other (RST, not FIN), so the peer
 *   sees the failure instead of a clean end of stream.
 * Calls `onClose(srcErrno, dstErrno)`, if given, once both sockets are closed; an errno is '' for a clean close.
 */
import type { Socket } from 'node:net';
import { resetConnection } from './reset';

export interface RelayOptions {
  /** Bytes already read from `src` (during protocol detection) to send to `dst` first. */
  initial?: Buffer;
  onClose?(srcErrno: string, dstErrno: string): void;
}

function errnoOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/** Pump one direction: from → to with backpressure and FIN propagation. */
function pump(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  // A socket emits 'end' on a FIN as soon as its buffer is empty, even while paused (net calls
  // read(0) after the EOF), so a FIN that came during detection or the connect is already gone.
  if (from.readableEnded) to.end();
  else
    from.on('end', () => {
      if (!to.destroyed) to.end();
    });
}

export function relay(src: Socket, dst: Socket, opts: RelayOptions): void {
  let srcErrno = '';
  let dstErrno = '';
  let open = 2;
  const closed = () => {
    if (--open === 0) opts.onClose?.(srcErrno, dstErrno);
  };

  // An error on one side is carried to the other as a reset; a side that already closed cleanly
  // has nothing left to carry it to.
  src.on('error', (err) => {
    srcErrno = errnoOf(err);
    if (!dst.destroyed) resetConnection(dst);
  });
  dst.on('error', (err) => {
    dstErrno = errnoOf(err);
    if (!src.destroyed) resetConnection(src);
  });
  // A clean close needs nothing carried: it happens only after both FINs have crossed, and the
  // other socket then closes by itself once its own writes are flushed (destroying it here could
  // drop them).
  src.on('close', closed);
  dst.on('close', closed);

  if (opts.initial && opts.initial.length > 0) dst.write(opts.initial);
  pump(src, dst);
  pump(dst, src);
  src.resume();
  dst.resume();
}
