/**
 * Fuzz target for protocol detection (proxy/detect): one input is one stream prefix as a client
 * might send it. `run` throws an InvariantViolation (code LINNET_DETECT_INVARIANT, with the
 * property's name) when a promise of detect() or of the ClientHello parser breaks.
 * Seed corpus: fuzz/corpus/detect/ (real ClientHellos, h2 preface, request lines, other protocols).
 */
import { checkDetectInvariants, DETECT_PROPERTIES } from '../../proxy/detect/invariants';

export const name = 'detect';
export const properties: string[] = [...DETECT_PROPERTIES];
export function run(input: Buffer): void {
  checkDetectInvariants(input);
}

const target = { name, properties, run };
export default target;
