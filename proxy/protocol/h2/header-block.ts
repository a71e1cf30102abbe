/**
 * A header block that arrives in pieces (HEADERS without END_HEADERS, then CONTINUATION frames)
 * put back together, with the bound that stops a CONTINUATION flood: a block larger than any
 * legitimate one ends the connection before it is held in memory.
 */
import { H2Code } from './grpc-status';
import { H2Error } from './h2-error';

export interface CompleteBlock {
  /** The flags of the HEADERS frame that opened the block (END_STREAM rides there). */
  flags: number;
  block: Buffer;
}

export class HeaderBlockAssembler {
  private pending: { streamId: number; flags: number; parts: Buffer[]; bytes: number } | undefined;

  /** `limit`: compressed bytes past which a block is refused (the header list limit plus slack). */
  constructor(private readonly limit: number) {}

  /** A block is in progress: only CONTINUATION on its stream may come next. */
  get open(): boolean {
    return this.pending !== undefined;
  }

  /** HEADERS without END_HEADERS: the first fragment. */
  start(streamId: number, flags: number, fragment: Buffer): void {
    this.pending = { streamId, flags, parts: [fragment], bytes: fragment.length };
    this.check(fragment.length);
  }

  /** A CONTINUATION frame: the whole block once END_HEADERS is set, else undefined. */
  continuation(streamId: number, endHeaders: boolean, payload: Buffer): CompleteBlock | undefined {
    const b = this.pending;
    if (!b || b.streamId !== streamId) throw new H2Error(H2Code.PROTOCOL_ERROR, 'CONTINUATION without a header block in progress on its stream');
    b.parts.push(payload);
    b.bytes += payload.length;
    this.check(b.bytes);
    if (!endHeaders) return undefined;
    this.pending = undefined;
    // The parts are views of socket chunks that are not reused, so joining them is safe.
    return { flags: b.flags, block: b.parts.length === 1 ? b.parts[0]! : Buffer.concat(b.parts, b.bytes) };
  }

  private check(bytes: number): void {
    if (bytes > this.limit) throw new H2Error(H2Code.ENHANCE_YOUR_CALM, `a header block of more than ${bytes} bytes`);
  }
}
