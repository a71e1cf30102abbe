import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequestHead, DEFAULT_LIMITS } from './parse-head';
import { worthParsing } from './reparse';

/** Feeds `head` in pieces as the handler does; returns how many parses ran and the final result kind. */
function trickle(head: Buffer, cuts: number[]): { parses: number; scanned: number; kind: string } {
  let last = 0;
  let parses = 0;
  let scanned = 0;
  let kind = 'need-more';
  for (const end of [...cuts, head.length]) {
    const b = head.subarray(0, end);
    if (!worthParsing(b, last, DEFAULT_LIMITS.maxHeaderBytes)) continue;
    parses++;
    scanned += b.length;
    const r = parseRequestHead(b, DEFAULT_LIMITS);
    kind = r.kind;
    if (r.kind !== 'need-more') break;
    last = b.length;
  }
  return { parses, scanned, kind };
}

describe('worthParsing', () => {
  const big = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 60 }, (_, i) => `x-f${i}: ${'v'.repeat(200)}\r\n`).join('')}\r\n`);
  const byByte = Array.from({ length: big.length - 1 }, (_, i) => i + 1);

  it('a 12 KiB head trickled one byte per read is parsed a few dozen times, not once per byte', () => {
    const r = trickle(big, byByte);
    assert.equal(r.kind, 'ok');
    assert.ok(r.parses <= 80, `${r.parses} parses`);
    assert.ok(r.scanned <= 4 * big.length, `${r.scanned} bytes scanned for a ${big.length}-byte head`);
  });

  it('a head is parsed at the read that completes it, whatever the split', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: big.length - 1 }), { maxLength: 40 }), (cuts) => {
        cuts.sort((a, b) => a - b);
        assert.equal(trickle(big, cuts).kind, 'ok');
      }),
    );
  });

  it('a malformed head is still refused, at most at twice its bytes, and an oversized one at the limit', () => {
    const bad = Buffer.from('GET / HTTP/1.1\r\nBad Header: x\r\n' + 'x-pad: y\r\n'.repeat(50));
    const cutsBad = Array.from({ length: bad.length - 1 }, (_, i) => i + 1);
    assert.equal(trickle(bad, cutsBad).kind, 'error');
    const huge = Buffer.from('GET / HTTP/1.1\r\n' + 'x-pad: y\r\n'.repeat(2000));
    const r = trickle(huge, Array.from({ length: huge.length - 1 }, (_, i) => i + 1));
    assert.equal(r.kind, 'error');
  });
});
