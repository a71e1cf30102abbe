/**
 * The one error HPACK decoding raises. Any malformed header block is a connection error of type
 * COMPRESSION_ERROR (RFC 9113 §4.3): once a block cannot be decoded, this side's dynamic table
 * may differ from the peer's, so no later block on the connection can be trusted either.
 */
import { LinnetError } from '../../../../core/errors';

export class HpackError extends LinnetError {
  /** Offset in the header block of the representation (or octet) that was wrong. */
  readonly offset: number;

  constructor(detail: string, offset: number) {
    super('LINNET_HTTP2_COMPRESSION_ERROR', `HPACK: ${detail} at byte ${offset} of the header block`, {
      hint: "the peer's HPACK encoder is broken or hostile; the connection is closed with GOAWAY COMPRESSION_ERROR",
    });
    this.name = 'HpackError';
    this.offset = offset;
  }
}
