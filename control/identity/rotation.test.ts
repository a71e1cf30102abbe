import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { daysLeft, decideIssuer, rotateAt, rotationOverdue } from './rotation';

const D = 86_400_000;
const w = { notBeforeMs: 0, notAfterMs: 9 * D };

describe('issuer rotation planning', () => {
  it('rotates at a third of the life left', () => {
    assert.equal(rotateAt(w), 6 * D);
    assert.deepEqual(decideIssuer({ now: 6 * D - 1, issuer: w, canSign: true, issuerUnderSigningAnchor: true, pollMs: 10_000 }).action, 'keep');
    assert.equal(decideIssuer({ now: 6 * D, issuer: w, canSign: true, issuerUnderSigningAnchor: true, pollMs: 10_000 }).action, 'rotate');
  });
  it('checks again at the poll interval or at the rotation instant, whichever comes first', () => {
    const d = decideIssuer({ now: 6 * D - 5000, issuer: w, canSign: true, issuerUnderSigningAnchor: true, pollMs: 10_000 });
    assert.equal(d.action === 'keep' && d.checkAgainInMs, 5000);
  });
  it('never rotates without the anchor key, however late', () => {
    const d = decideIssuer({ now: 8.9 * D, issuer: w, canSign: false, issuerUnderSigningAnchor: false, pollMs: 10_000 });
    assert.equal(d.action, 'keep');
    assert.match(d.reason, /no anchor key/);
  });
  it('rotates at once when the anchor key moved to another anchor', () => {
    const d = decideIssuer({ now: 1, issuer: w, canSign: true, issuerUnderSigningAnchor: false, pollMs: 10_000 });
    assert.equal(d.action, 'rotate');
    assert.match(d.reason, /anchor rotation/);
  });
  it('calls a rotation overdue at a quarter left, and counts days to one decimal', () => {
    assert.equal(rotationOverdue(w, 6.7 * D), false);
    assert.equal(rotationOverdue(w, 6.75 * D), true);
    assert.equal(daysLeft(9 * D, 6.75 * D), 2.2);
    assert.equal(daysLeft(0, D / 2), -0.5);
  });
});
