/**
 * The kernel relay: opaque TCP whose two legs are both plain TCP sockets, relayed by splice(2) in
 * the native addon's relay thread (native/splice-lane.ts), with no JavaScript per chunk. It keeps
 * the JavaScript relay's contract (relay.ts): backpressure (at most a pipe's worth in flight per
 * direction), a FIN carried each way with the other direction still open, an error on one side
 * carried to the other as a reset, the bytes read during detection sent first, a server that
 * speaks first heard at once.
 *
 * The handover. Node's reads are stopped on both sockets (and kept stopped: `_read` does nothing
 * from then on) and what Node had already read but nobody consumed is sent first, after
 * `initial`. The sockets stay open in Node until the relay thread reports the end; then this
 * module closes them the way the end demands (a clean close, the error that ended a side, a reset
 * for the other), so 'close' events, the TCP metrics and the worker's open-connection set see
 * the connection exactly as long as it lasts. Closing either socket from JavaScript meanwhile (a
 * drain's grace period, the connection limit) ends the relay and resets the other side.
 *
 * Byte counts. Each socket's `bytesRead`/`bytesWritten` go on counting: what Node moved before the
 * handover plus what the relay thread has moved so far (published into a Float64Array it writes
 * and JavaScript reads without a call), so the tcp_* byte counters (brought up to date at every
 * scrape and at close) and the connection limit's "has it carried a byte" stay right.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { isDirect } from './direct-read';
import { errnoName } from './native/errors';
import { socketFd } from './native';
import { abortSplice, COUNT_SLOTS, spliceAvailable, startSplice, type SpliceEnd } from './native/splice-lane';
import type { RelayOptions } from './relay';

const bytesReadOf = Object.getOwnPropertyDescriptor(Socket.prototype, 'bytesRead')?.get;
const bytesWrittenOf = Object.getOwnPropertyDescriptor(Socket.prototype, 'bytesWritten')?.get;

/** What the relay thread has read from each socket first, by socket: the endpoint's time to first byte. */
const firstReads = new WeakMap<Socket, () => number | undefined>();

/** The parts of a net.Socket's libuv handle this module touches (the TCPWrap). */
interface TcpHandle {
  reading: boolean;
  readStop(): number;
}

/**
 * A socket the relay thread may take: connected, plain TCP, nothing pending to write, and read the
 * stream's way (a direct-read socket's resume() would restart Node's reads past takeOver's `_read`).
 */
function canHandOver(s: Socket): boolean {
  return !(s instanceof TLSSocket) && !isDirect(s) && !s.destroyed && !s.connecting && !s.writableEnded && s.writableLength === 0;
}

/** Stops Node's reads on `s` for good and returns what Node read that nobody consumed. */
function takeOver(s: Socket): Buffer[] {
  // From now on Node never reads this socket: a later resume() or read() must not steal bytes
  // from the relay thread.
  (s as unknown as { _read: () => void })._read = noRead;
  const h = (s as unknown as { _handle: TcpHandle })._handle;
  h.reading = false;
  h.readStop();
  const taken: Buffer[] = [];
  for (let c: Buffer | null; (c = s.read() as Buffer | null) !== null; ) taken.push(c);
  return taken;
}

function noRead(): void {}

/** Undoes takeOver when the relay thread refused the connection: the JavaScript relay takes it. */
function giveBack(s: Socket, taken: Buffer[]): void {
  delete (s as unknown as { _read?: unknown })._read;
  for (let i = taken.length - 1; i >= 0; i--) s.unshift(taken[i]!);
}

function joined(first: Buffer | undefined, rest: Buffer[]): Buffer | null {
  const all = first && first.length > 0 ? [first, ...rest] : rest;
  if (all.length === 0) return null;
  return all.length === 1 ? all[0]! : Buffer.concat(all);
}

/** The socket's counters: Node's (before the handover) plus the relay thread's. */
function countKernelBytes(s: Socket, counts: Float64Array, at: 0 | 2): void {
  const read = bytesReadOf!;
  const written = bytesWrittenOf!;
  Object.defineProperty(s, 'bytesRead', { configurable: true, get: () => (read.call(s) as number) + counts[at]! });
  Object.defineProperty(s, 'bytesWritten', { configurable: true, get: () => ((written.call(s) as number | undefined) ?? 0) + counts[at + 1]! });
}

/** An error like Node's own for a syscall that failed with `errno` (positive). */
function systemError(errno: number): NodeJS.ErrnoException {
  const code = errnoName(errno);
  return Object.assign(new Error(`splice ${code}`), { code, errno: -errno, syscall: 'splice' });
}

function errnoOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/**
 * Relays src ⇄ dst in the kernel. Both must be plain TCP sockets (the caller knows: no TLS on
 * either leg). Returns false, having changed nothing, when the kernel relay cannot take them (not
 * Linux, no addon, out of descriptors, a socket with writes pending): relay them in JavaScript.
 */
export function spliceRelay(src: Socket, dst: Socket, opts: RelayOptions): boolean {
  if (!bytesReadOf || !bytesWrittenOf || !spliceAvailable()) return false;
  if (!canHandOver(src) || !canHandOver(dst)) return false;
  let fdA: number;
  let fdB: number;
  try {
    fdA = socketFd(src);
    fdB = socketFd(dst);
  } catch {
    return false;
  }
  const fromSrc = takeOver(src);
  const fromDst = takeOver(dst);
  const counts = new Float64Array(COUNT_SLOTS);
  const startedAt = performance.now();
  let finished = false;
  let aborted = false;
  let srcErrno = '';
  let dstErrno = '';
  let open = 2;

  const ended = (end: SpliceEnd) => {
    finished = true;
    // Clean: both FINs crossed, nothing to carry. Otherwise the side whose error ended the relay
    // closes with it (its metrics say why), and a side with no error of its own is reset: its peer
    // must see the failure (or the abort), not a clean end of stream.
    closeSide(src, end.errA, end.clean);
    closeSide(dst, end.errB, end.clean);
  };
  let handle;
  try {
    handle = startSplice(fdA, fdB, joined(opts.initial, fromSrc), joined(undefined, fromDst), counts, ended);
  } catch {
    giveBack(src, fromSrc);
    giveBack(dst, fromDst);
    return false;
  }
  countKernelBytes(src, counts, 0);
  countKernelBytes(dst, counts, 2);
  const firstRead = (at: 4 | 5) => () => (counts[at]! >= 0 ? startedAt + counts[at]! : undefined);
  firstReads.set(src, firstRead(4));
  firstReads.set(dst, firstRead(5));

  src.on('error', (err) => (srcErrno = errnoOf(err)));
  dst.on('error', (err) => (dstErrno = errnoOf(err)));
  const closed = (side: 0 | 1) => () => {
    // JavaScript closed this socket while the relay runs: end it (the other side is reset).
    if (!finished && !aborted) {
      aborted = true;
      abortSplice(handle, side);
    }
    if (--open === 0) opts.onClose?.(srcErrno, dstErrno);
  };
  src.once('close', closed(0));
  dst.once('close', closed(1));
  return true;
}

function closeSide(s: Socket, errno: number, clean: boolean): void {
  if (s.destroyed) return;
  if (clean) s.destroy();
  else if (errno !== 0) s.destroy(systemError(errno));
  else s.resetAndDestroy();
}

/**
 * When the relay thread first read a byte from `s` (a performance.now() time), for a socket the
 * kernel relay carries; undefined before that or for any other socket. The outbound balancer's
 * time-to-first-byte sample, which a spliced socket cannot give as a 'data' event.
 */
export function kernelFirstRead(s: Socket): number | undefined {
  return firstReads.get(s)?.();
}
