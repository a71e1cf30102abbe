/**
 * A policy watch on a gRPC server stream: the answer now, then again on every change of the
 * source, sent only when it differs from the last one sent (so proxies rebuild nothing on
 * unrelated edits), until the client goes or the service drains.
 */
import type * as grpc from '@grpc/grpc-js';
import type { PolicySource } from './source';

/** The streams a service has open, so that a drain ends them all. */
export class OpenWatches {
  private readonly open = new Set<() => void>();

  /** Streams `answer()` on `call` as the source changes. */
  watch<T>(call: grpc.ServerWritableStream<unknown, T>, source: PolicySource, answer: () => T): void {
    let last = '';
    const send = () => {
      if (call.cancelled || call.writableEnded) return;
      const msg = answer();
      const text = JSON.stringify(msg);
      if (text === last) return;
      last = text;
      call.write(msg);
    };
    send();
    const unsubscribe = source.subscribe(send);
    const end = () => {
      unsubscribe();
      this.open.delete(finish);
    };
    const finish = () => {
      end();
      if (!call.writableEnded) call.end();
    };
    this.open.add(finish);
    call.on('cancelled', end);
    call.on('close', end);
  }

  drain(): void {
    for (const f of [...this.open]) f();
  }
}
