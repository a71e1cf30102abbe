/**
 * What a header block on a stream already open is (RFC 9113 §8.1), pure: on the client side the
 * response, after any number of informational (1xx) ones; on either side the trailers, which end
 * the stream and must complete the declared content-length. Anything else is a stream error,
 * with the reason the connection logs.
 */
import { H2Code } from './grpc-status';
import { checkSection, type Fields } from './semantics';

/** The parts of a stream's state that decide what its next header block may be. */
export interface SectionState {
  remoteEnded: boolean;
  /** The final header section arrived already: the next block is trailers. */
  headersIn: boolean;
  /** A response to HEAD (its content-length describes no body). */
  head: boolean;
  expectedLength: number;
  receivedLength: number;
}

export type SectionVerdict =
  | { kind: 'informational' }
  | { kind: 'final'; expectedLength: number }
  | { kind: 'trailers' }
  | { kind: 'error'; why: string; code: number };

const error = (why: string, code: number = H2Code.PROTOCOL_ERROR): SectionVerdict => ({ kind: 'error', why, code });
const INFORMATIONAL: SectionVerdict = { kind: 'informational' };
const TRAILERS: SectionVerdict = { kind: 'trailers' };

export function sectionOnStream(s: SectionState, fields: Fields, size: number, endStream: boolean, maxHeaderListSize: number): SectionVerdict {
  if (s.remoteEnded) return error('HEADERS after END_STREAM', H2Code.STREAM_CLOSED);
  if (size > maxHeaderListSize) return error(`a header list of ${size} bytes`);
  if (!s.headersIn) {
    const c = checkSection(fields, 'response');
    if (c.error !== undefined) return error(c.error);
    if (c.status! < 200) return endStream ? error('an informational response with END_STREAM') : INFORMATIONAL;
    // A response to HEAD, a 204 or a 304 declares a length it does not carry (RFC 9110 §8.6).
    const expectedLength = s.head || c.status === 204 || c.status === 304 ? -1 : c.contentLength;
    if (endStream && expectedLength > 0) return error('content-length without a body');
    return { kind: 'final', expectedLength };
  }
  if (!endStream) return error('trailers without END_STREAM');
  const c = checkSection(fields, 'trailers');
  if (c.error !== undefined) return error(c.error);
  if (s.expectedLength >= 0 && s.receivedLength !== s.expectedLength) return error('a body shorter than its content-length');
  return TRAILERS;
}
