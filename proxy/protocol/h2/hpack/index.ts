/** The HPACK codec (RFC 7541): what the HTTP/2 connection code uses. */
export { HpackDecoder, type DecodedBlock } from './decoder';
export { HpackEncoder } from './encoder';
export { HpackError } from './errors';
