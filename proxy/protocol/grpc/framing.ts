/**
 * gRPC's length-prefixed messages (gRPC over HTTP/2: a flag byte, 0 for uncompressed, then a
 * 4-byte big-endian length): one written as a frame, and a reader that cuts a DATA byte stream
 * back into messages however it is chunked. Pure. Compressed messages are refused: our calls
 * never ask for compression (no grpc-accept-encoding), so a peer that sends one is wrong.
 */

export class GrpcFramingError extends Error {}

export function frameMessage(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

export class MessageReader {
  private parts: Buffer[] = [];
  private bytes = 0;

  /** `maxMessage`: a larger declared length is refused before it is buffered. */
  constructor(private readonly maxMessage: number = 4 * 1024 * 1024) {}

  /** The messages complete once `chunk` is added. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.parts.push(chunk);
      this.bytes += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.bytes < 5) return out;
      const head = this.peek(5);
      if (head[0] !== 0) throw new GrpcFramingError(head[0] === 1 ? 'a compressed message, which was not asked for' : `message flag ${head[0]}`);
      const len = head.readUInt32BE(1);
      if (len > this.maxMessage) throw new GrpcFramingError(`a message of ${len} bytes (the limit is ${this.maxMessage})`);
      if (this.bytes < 5 + len) return out;
      out.push(this.take(5 + len).subarray(5));
    }
  }

  /** Bytes of an unfinished message (at the end of a stream: a truncated message). */
  get pending(): number {
    return this.bytes;
  }

  private peek(n: number): Buffer {
    if (this.parts[0]!.length >= n) return this.parts[0]!;
    const all = Buffer.concat(this.parts, this.bytes);
    this.parts = [all];
    return all;
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    const out = first.subarray(0, n);
    const rest = first.subarray(n);
    this.parts[0] = rest;
    if (rest.length === 0) this.parts.shift();
    this.bytes -= n;
    return out;
  }
}
