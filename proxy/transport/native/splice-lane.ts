/**
 * This thread's lane of the kernel relay (src/splice_relay.c): one native relay thread, started on
 * first use, that moves the bytes of every spliced connection of this JavaScript thread with
 * splice(2) and tells this thread, once per connection, how it ended. transport/splice-relay.ts
 * hands sockets to it; this module only wraps the addon's calls with typed errors.
 */
import { PlatformError } from '../../../core/errors';
import { binding, type NativeBinding, type SpliceHandle } from './load';
import { errnoName, SpliceError } from './errors';

export type { SpliceHandle } from './load';

/** How a relay ended: the errno that ended each side (0: none), and whether both FINs crossed. */
export interface SpliceEnd {
  errA: number;
  errB: number;
  clean: boolean;
}

/**
 * Bytes a pipe may hold (F_SETPIPE_SZ; the kernel keeps its default 64 KiB where the user's pipe
 * pages are used up). At most this much per direction is in flight inside the proxy.
 */
export const SPLICE_PIPE_BYTES = 256 * 1024;

/** Slots of the counts array the relay thread publishes into. */
export const COUNT_SLOTS = 6;

interface Lane {
  native: NativeBinding;
  pending: Map<number, (end: SpliceEnd) => void>;
  nextId: number;
}

/** undefined: not tried yet; null: the kernel relay is not available on this thread. */
let lane: Lane | null | undefined;

function openLane(): Lane | null {
  let native: NativeBinding;
  try {
    native = binding();
    if (native.probe().splice !== 0) return null;
  } catch (err) {
    if (err instanceof PlatformError) return null; // not Linux, or no addon: the JavaScript relay
    throw err;
  }
  const pending = new Map<number, (end: SpliceEnd) => void>();
  native.spliceInit((id, errA, errB, clean) => {
    const done = pending.get(id);
    pending.delete(id);
    done?.({ errA, errB, clean });
  }, SPLICE_PIPE_BYTES);
  // Stop the relay thread before the process (or this worker) exits, so that it never runs into
  // a Node that is tearing itself down. Relays in flight end with the process.
  process.once('exit', () => native.spliceShutdown());
  return { native, pending, nextId: 1 };
}

/** Whether this thread can relay in the kernel (Linux with the addon built). */
export function spliceAvailable(): boolean {
  if (lane === undefined) lane = openLane();
  return lane !== null;
}

/**
 * Hands two connected sockets' descriptors to the relay thread. The caller has stopped Node's
 * reads on both and has no write pending on either; `preAB`/`preBA` are bytes already read from
 * a (b) to send to b (a) first. `counts` receives [a read, a written, b read, b written, a first
 * read ms, b first read ms] as the bytes move. `onEnd` is called once, on this thread. Throws
 * SpliceError (the caller relays in JavaScript instead) or PlatformError when unavailable.
 */
export function startSplice(
  fdA: number,
  fdB: number,
  preAB: Buffer | null,
  preBA: Buffer | null,
  counts: Float64Array,
  onEnd: (end: SpliceEnd) => void,
): SpliceHandle {
  if (!spliceAvailable()) throw new PlatformError('the kernel relay (splice) is not available here', 'the JavaScript relay carries the bytes instead');
  const l = lane!;
  const id = l.nextId;
  l.nextId = l.nextId >= 0xffffffff ? 1 : l.nextId + 1;
  let handle: SpliceHandle;
  try {
    handle = l.native.spliceStart(id, fdA, fdB, preAB, preBA, counts);
  } catch (err) {
    const e = err as { errno?: unknown; syscall?: unknown };
    if (typeof e.errno === 'number') throw new SpliceError(errnoName(e.errno), typeof e.syscall === 'string' ? e.syscall : 'spliceStart', err);
    throw err;
  }
  l.pending.set(id, onEnd);
  return handle;
}

/** JavaScript closed socket a (0) or b (1): the relay ends and resets the other side. */
export function abortSplice(handle: SpliceHandle, side: 0 | 1): void {
  lane?.native.spliceAbort(handle, side);
}

/** Relays in flight on this thread (started, not yet reported). */
export function splicesInFlight(): number {
  return lane ? lane.pending.size : 0;
}
