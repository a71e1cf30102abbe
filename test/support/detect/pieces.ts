/** Test support: the PrefixDetector's promise, checked on one input split into pieces. */
import assert from 'node:assert/strict';
import { detect, type DetectResult } from '../../../proxy/accept/detect/detect';
import { PrefixDetector } from '../../../proxy/accept/detect/prefix-detector';

const positive = (r: DetectResult) => r.kind === 'tls' || r.kind === 'h2' || r.kind === 'http1';

/**
 * Feeds `input` in pieces of `sizes` (the rest at once) and checks the promise the connection
 * handler relies on: every answer is detect() of the bytes seen; a positive answer (tls, h2,
 * http1) comes at exactly the piece where detect() of the bytes seen first gives it; settle()
 * then answers as detect() of everything. Returns the detector for its counters.
 */
export function checkPieces(input: Buffer, sizes: number[]): PrefixDetector {
  const d = new PrefixDetector();
  let at = 0;
  let answer: DetectResult = { kind: 'need-more' };
  for (const size of [...sizes, input.length]) {
    if (at >= input.length) break;
    const piece = input.subarray(at, at + Math.max(1, size));
    at += piece.length;
    answer = d.push(piece);
    const truth = detect(input.subarray(0, at));
    if (answer.kind === 'need-more') {
      assert.ok(!positive(truth), `need-more at ${at} bytes where detect() answers ${JSON.stringify(truth)}`);
    } else {
      assert.deepEqual(answer, truth, `at ${at} bytes`);
      return d;
    }
  }
  assert.deepEqual(d.settle(), detect(input.subarray(0, at)));
  return d;
}

