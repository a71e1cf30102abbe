/**
 * PINGs we send and the round trips they measure. Each PING's 8 bytes carry its sequence number;
 * answers come back in order, so each ACK completes the oldest one waiting.
 */
import { pingFrame } from './frames';

type PingDone = (rttMs: number | undefined) => void;

export class PingTracker {
  private readonly waiting: PingDone[] = [];
  private sentAt = 0;

  /** The PING frame to send; `done` gets its round trip. */
  send(done: PingDone): Buffer {
    this.waiting.push(done);
    if (this.waiting.length === 1) this.sentAt = performance.now();
    const data = Buffer.alloc(8);
    data.writeUInt32BE(this.waiting.length, 4);
    return pingFrame(data, false);
  }

  /** The peer acknowledged a PING (one we never sent is ignored). */
  ack(): void {
    const done = this.waiting.shift();
    if (!done) return;
    const now = performance.now();
    const rtt = now - this.sentAt;
    this.sentAt = now;
    done(rtt);
  }

  /** The connection closed: every waiting PING completes without a round trip. */
  cancelAll(): void {
    for (const done of this.waiting.splice(0)) done(undefined);
  }
}
