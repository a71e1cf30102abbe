/**
 * Fuzz target for protocol detection (proxy/accept/detect): one input is one stream prefix as a client
 * might send it. `run` throws an InvariantViolation (code LINNET_DETECT_INVARIANT, with the
 * property's name) when a promise of detect() or of the ClientHello parser breaks; the
 * invariants check every prefix (every split point) of short inputs.
 * Seed corpus: fuzz/corpus/detect/ (real ClientHellos, h2 preface, request lines, other protocols).
 */
import { checkDetectInvariants, DETECT_PROPERTIES } from '../../proxy/accept/detect/invariants';

export const name = 'detect';
export const properties: string[] = [...DETECT_PROPERTIES];
export function run(input: Buffer): void {
  checkDetectInvariants(input);
}

export const dictionary = [
  'GET ', 'POST ', 'CONNECT ', 'OPTIONS ', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', ' HTTP/1.1\r\n', ' HTTP/1.0\r\n', 'HTTP/2.0',
  '\r\n', '\n', '\r', ' ', '*', '/', 'http://', 'a.b:80', '[::1]:443', '%', '\x16\x03\x01', '\x16\x03\x03\x00', '\x01\x00\x00',
  '\x00\x00', '\x00\x10', '\x00\x2b', 'h2', 'http/1.1',
];

const target = { name, properties, run, dictionary, maxInputBytes: 20 * 1024 };
export default target;
