/**
 * Flow control of what the peer sends us (RFC 9113 §5.2): the windows we offer, and the bytes our
 * stream owners have consumed, given back with WINDOW_UPDATE in batches (half a window at a
 * time, not one per DATA frame). A paused stream gives nothing back, so the peer stops once its
 * window is spent: that is how a slow reader slows its sender without buffering here.
 */
import { windowUpdateFrame } from './frames';
import type { FrameOutput } from './frame-output';
import type { H2Stream } from './stream';

export class ReceiveWindows {
  /** Connection level: the window left to the peer. */
  connWindow: number;
  /** Connection level: bytes consumed, not yet given back. */
  private connUnacked = 0;

  constructor(
    /** The initial window of each stream (our SETTINGS_INITIAL_WINDOW_SIZE). */
    readonly streamWindow: number,
    /** The connection window we keep offering. */
    readonly connectionWindow: number,
    private readonly output: FrameOutput,
  ) {
    this.connWindow = connectionWindow;
  }

  /** Gives received bytes back to the peer's windows, in batches, unless the stream is paused. */
  returnWindow(stream: H2Stream): void {
    if (stream.paused || stream.unacked === 0) return;
    const n = stream.unacked;
    stream.unacked = 0;
    this.giveBackConnection(n);
    if (stream.remoteEnded) return;
    stream.owed += n;
    if (stream.owed >= this.streamWindow / 2) {
      this.output.push(windowUpdateFrame(stream.id, stream.owed));
      stream.recvWindow += stream.owed;
      stream.owed = 0;
      this.output.schedule();
    }
  }

  /** Bytes that count against the connection window only (a closed stream's, padding, a stream gone). */
  giveBackConnection(n: number): void {
    this.connUnacked += n;
    if (this.connUnacked >= this.connectionWindow / 2) {
      this.output.push(windowUpdateFrame(0, this.connUnacked));
      this.connWindow += this.connUnacked;
      this.connUnacked = 0;
      this.output.schedule();
    }
  }
}
