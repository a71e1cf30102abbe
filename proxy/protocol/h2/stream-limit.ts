/**
 * Client side: the streams we may have open under the peer's SETTINGS_MAX_CONCURRENT_STREAMS,
 * and the requests that wait, unsent and in order, until a stream closes or the peer raises it.
 */
import type { Fields } from './semantics';
import type { H2Stream } from './stream';

export interface WaitingRequest {
  stream: H2Stream;
  fields: Fields;
  endStream: boolean;
  neverIndexed: readonly number[] | undefined;
}

export class LocalStreamLimit {
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS (none until it says). */
  peerMax = Number.POSITIVE_INFINITY;
  private opened = 0;
  private readonly waiting: WaitingRequest[] = [];

  /** Takes a place for a new stream now; false: the request must wait. */
  tryOpen(): boolean {
    if (this.opened >= this.peerMax) return false;
    this.opened++;
    return true;
  }

  wait(request: WaitingRequest): void {
    this.waiting.push(request);
  }

  /** A stream we opened closed: its place is free. */
  release(): void {
    this.opened--;
  }

  /** A waiting stream ended before it was sent (reset by its owner, the connection gone). */
  remove(stream: H2Stream): void {
    const i = this.waiting.findIndex((w) => w.stream === stream);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** The next waiting request whose turn has come, its place taken; undefined if none may go. */
  next(): WaitingRequest | undefined {
    if (this.waiting.length === 0 || this.opened >= this.peerMax) return undefined;
    this.opened++;
    return this.waiting.shift();
  }

  /** Every waiting request, removed (the peer's GOAWAY: none of them will be sent here). */
  takeAll(): WaitingRequest[] {
    return this.waiting.splice(0);
  }
}
