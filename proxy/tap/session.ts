/**
 * One Observe stream as the main thread serves it, apart from gRPC so it is unit-tested: the
 * events the lanes send for this tap go through its limit (requests, exactly, across lanes) and
 * rate cap, then to the writer; while the writer is full (the client reads slower than traffic
 * comes) they wait in a bounded queue, and past that they are dropped and counted. Nothing here
 * ever holds up a lane, so a stalled reader costs traffic nothing.
 */
import type { TapEvent } from '../../core/api/tap';
import { RateCap } from './rate';

export interface TapWriter {
  /** Sends one event; false: full, wait for drained() before the next. */
  write(e: TapEvent): boolean;
  /** The tap is complete (its limit reached and every reported request ended). */
  end(): void;
}

export interface TapSessionOptions {
  /** Requests to report; 0: no limit. */
  limit: number;
  maxRps: number;
  /** Events held while the writer is full. */
  buffer: number;
  /** Called for each event dropped because the buffer was full. */
  onDrop?: () => void;
  now?: () => number;
}

export class TapSession {
  /** Requests taken (each reported by its request_init). */
  taken = 0;
  /** Events lost to a full buffer. */
  dropped = 0;
  sent = 0;
  private writable = true;
  private ended = false;
  private readonly queue: TapEvent[] = [];
  private head = 0;
  /** Requests taken whose response_end has not come yet. */
  private readonly live = new Set<string>();
  /** Requests whose request_init was dropped: the rest of their events go too. */
  private readonly lost = new Set<string>();
  private readonly rate: RateCap;
  private readonly now: () => number;

  constructor(
    private readonly opts: TapSessionOptions,
    private readonly writer: TapWriter,
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.rate = new RateCap(opts.maxRps, this.now());
  }

  get done(): boolean {
    return this.ended;
  }

  /** Events waiting for the writer. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  offer(e: TapEvent): void {
    if (this.ended) return;
    const key = `${e.http.id.base}:${e.http.id.stream}`;
    if (e.http.kind === 'request_init') {
      if (this.opts.limit > 0 && this.taken >= this.opts.limit) return;
      if (!this.rate.take(this.now())) return;
      this.taken++;
      this.live.add(key);
      if (!this.deliver(e)) this.lost.add(key);
      return;
    }
    if (!this.live.has(key)) return;
    if (e.http.kind === 'response_end') this.live.delete(key);
    if (this.lost.has(key)) {
      if (e.http.kind === 'response_end') this.lost.delete(key);
      this.drop();
    } else this.deliver(e);
    this.maybeEnd();
  }

  /** The writer can take more. */
  drained(): void {
    this.writable = true;
    while (this.writable && this.head < this.queue.length) {
      const e = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as TapEvent;
      this.sent++;
      this.writable = this.writer.write(e);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    this.maybeEnd();
  }

  /** The client went away: nothing more is written. */
  close(): void {
    this.ended = true;
    this.queue.length = 0;
    this.head = 0;
  }

  private deliver(e: TapEvent): boolean {
    if (this.writable && this.head === this.queue.length) {
      this.sent++;
      this.writable = this.writer.write(e);
      return true;
    }
    if (this.queued >= this.opts.buffer) {
      this.drop();
      return false;
    }
    this.queue.push(e);
    return true;
  }

  private drop(): void {
    this.dropped++;
    this.opts.onDrop?.();
  }

  private maybeEnd(): void {
    if (this.ended || this.opts.limit === 0 || this.taken < this.opts.limit || this.live.size > 0 || this.queued > 0) return;
    this.ended = true;
    this.writer.end();
  }
}
