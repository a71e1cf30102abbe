/**
 * The check both ends apply to a SETTINGS_HEADER_TABLE_SIZE handed to them: the setting is a
 * 32-bit unsigned integer (RFC 9113 §6.5.1), so anything else is the caller's bug, not the peer's.
 */
import { LinnetError } from '../../../../core/errors';

export const DEFAULT_TABLE_SIZE = 4096;

export function checkTableSize(n: number, where: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new LinnetError('LINNET_HTTP2_HPACK_MISUSE', `${where}: table size ${n} is not a SETTINGS_HEADER_TABLE_SIZE (an integer 0 .. 2^32-1)`, {
      hint: 'a bug in the HTTP/2 connection code: pass the value from the SETTINGS frame',
    });
  }
  return n;
}
