/**
 * The I/O half of protocol detection: reads a connection's first bytes until the pure detector
 * (detect/) decides, the bounded buffer is full, or the detect timeout passes. A client that
 * sends nothing in time (SMTP, MySQL: the server speaks first) is answered `timeout`, and the
 * caller forwards it as opaque; every byte read here is handed back to be sent on first.
 */
import type { Socket } from 'node:net';
import type { Detected } from './detect/detect';
import { PrefixDetector } from './detect/prefix-detector';

export type PrefixOutcome =
  | { kind: 'detected'; detected: Detected }
  | { kind: 'timeout' }
  /** The client half-closed (FIN) before detection finished; `ended` tells the relay. */
  | { kind: 'eof' }
  /** The client went away (error or close) during detection: nothing to forward. */
  | { kind: 'gone'; errno: string };

export interface Prefix {
  outcome: PrefixOutcome;
  bytes: Buffer;
}

export function readPrefix(socket: Socket, timeoutMs: number): Promise<Prefix> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    // Incremental: re-reading the whole prefix on every read was O(n²) for a trickling client.
    const detector = new PrefixDetector();
    const finish = (outcome: PrefixOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      resolve({ outcome, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length) });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const result = detector.push(chunk);
      if (result.kind !== 'need-more') finish({ kind: 'detected', detected: result });
    };
    const onEnd = () => finish({ kind: 'eof' });
    const onError = (err: NodeJS.ErrnoException) => finish({ kind: 'gone', errno: err.code ?? 'EIO' });
    const onClose = () => finish({ kind: 'gone', errno: '' });
    const settle = () => {
      if (done) return;
      const last = detector.settle(); // an opaque answer the incremental schedule had not reached yet
      finish(last.kind === 'need-more' ? { kind: 'timeout' } : { kind: 'detected', detected: last });
    };
    // The timer runs before the event loop polls for I/O. After a stall longer than the timeout
    // (an accept storm, a long collection) bytes the client sent in time may still sit unread in
    // the kernel: the verdict waits one turn (setImmediate runs after the poll), so they are read
    // first and an HTTP client is not taken for a silent, server-speaks-first one.
    const timer = setTimeout(() => setImmediate(settle), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.resume();
  });
}
