/**
 * Reads of the connections the pools dial (to apps, to other proxies' inbound ports) without
 * Node's readable stream between the socket and its owner. Node's default read allocates a 64 KiB
 * buffer per read and shrinks it to the bytes read, pushes it through the stream's state machine
 * and schedules a tick to read more; with `onread` Node reads into a buffer we give it and calls
 * us directly. A perf profile of one hop at 1,000 req/s put that machinery at several percent of
 * the proxy's CPU, for each socket read.
 *
 * One buffer serves every such socket: the loop reads one socket at a time, and the bytes are
 * copied out before the next read (a small read into Node's pooled slab), so an owner keeps its
 * chunk as it kept a 'data' chunk. The owner is also the socket's 'data' listener, and whatever
 * cannot go to it directly goes through the stream as before (`push`): bytes read before an owner
 * took the socket (a peer's first frames right after the TLS handshake) or after it let go (an
 * upgraded connection's relay), and bytes that arrive while the owner has the socket paused.
 * Relayed connections are dialled without it (see splice-relay.ts). Accepted sockets cannot be
 * given `onread` in Node 20; on them `takeBytes` is a 'data' listener.
 */
import type { OnReadOpts, Socket } from 'node:net';

const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);
const OWNER = Symbol('linnet.bytesOwner');

type OwnerFn = (chunk: Buffer) => void;
interface DirectSocket extends Socket {
  [OWNER]: OwnerFn | undefined;
}

function onRead(this: DirectSocket, n: number, buf: Uint8Array): boolean {
  const copy = Buffer.allocUnsafe(n);
  copy.set(n === buf.length ? buf : buf.subarray(0, n));
  const owner = this[OWNER];
  // Paused, or holding bytes read while paused: the stream keeps them in order and hands them to
  // the owner's 'data' listener when it resumes. (Pausing stops a TCP socket's reads at once, but
  // a TLS socket hands over every record it has already decrypted.)
  if (owner === undefined || this.isPaused() || this.readableLength > 0) return this.push(copy);
  owner(copy);
  return true;
}

/** The `onread` option for net.connect and tls.connect. */
export const DIRECT_READ: OnReadOpts = { buffer: () => READ_BUFFER, callback: onRead as OnReadOpts['callback'] };

/** Marks a socket made with DIRECT_READ, before anything reads it (one hidden class for all). */
export function directSocket<S extends Socket>(socket: S): S {
  (socket as unknown as DirectSocket)[OWNER] = undefined;
  return socket;
}

/** Whether `socket` reads through DIRECT_READ (Node's resume() then restarts its reads itself, past `_read`). */
export function isDirect(socket: Socket): socket is DirectSocket {
  return OWNER in socket;
}

/** `fn` gets every chunk the socket reads, in order, until `releaseBytes`. One owner at a time. */
export function takeBytes(socket: Socket, fn: OwnerFn): void {
  if (isDirect(socket)) socket[OWNER] = fn;
  socket.on('data', fn);
}

/** The socket's bytes go back to its stream ('data' events), e.g. for a relay after an upgrade. */
export function releaseBytes(socket: Socket, fn: OwnerFn): void {
  if (isDirect(socket) && socket[OWNER] === fn) socket[OWNER] = undefined;
  socket.off('data', fn);
}
