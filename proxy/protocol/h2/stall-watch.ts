/**
 * Detects a client session that nghttp2 has terminated on its own. After a protocol error (a
 * CONTINUATION flood, rapid reset over nghttp2's limit) nghttp2 sends GOAWAY and stops reading,
 * but Node emits no event and keeps the socket open: the attacker's connection stays up with
 * its bytes piling in the kernel. A healthy session always reads (HTTP/2 flow control is in the
 * protocol, not in the socket), and a healthy peer answers PING. So: when a tick sees no byte read
 * since the last one, send a PING; if it stays unanswered and still nothing is read for
 * `stallMs`, the session is dead and the connection is closed (linkerd2-proxy's HTTP/2
 * keep-alive closes the same way on a missed PING ack).
 */

export interface StallState {
  lastBytesRead: number;
  /** When the outstanding PING was sent (ms), or undefined. */
  pingSince: number | undefined;
}

export type StallAction = 'none' | 'ping' | 'close';

/** One tick's decision, pure: `bytesRead` is the socket's counter now, `now` the clock (ms). */
export function stallTick(s: StallState, bytesRead: number, now: number, stallMs: number): StallAction {
  if (bytesRead !== s.lastBytesRead) {
    s.lastBytesRead = bytesRead;
    s.pingSince = undefined;
    return 'none';
  }
  if (s.pingSince === undefined) {
    s.pingSince = now;
    return 'ping';
  }
  return now - s.pingSince >= stallMs ? 'close' : 'none';
}

/** The PING was answered: the session reads. */
export function stallAck(s: StallState): void {
  s.pingSince = undefined;
}
