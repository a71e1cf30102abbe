import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { leafValidity } from './validity';
import { IdentityError } from './errors';

const H = 3_600_000;
const now = Date.UTC(2026, 0, 10, 12, 0, 0, 500);
const issuer = (fromH: number, toH: number) => ({ notBefore: new Date(now + fromH * H), notAfter: new Date(now + toH * H) });

describe('leafValidity', () => {
  it('runs from now-skew to now+lifetime, truncated to whole seconds', () => {
    const w = leafValidity(now, 24 * H, 20_000, issuer(-100, 1000));
    assert.equal(w.notBefore.toISOString(), '2026-01-10T11:59:40.000Z');
    assert.equal(w.notAfter.toISOString(), '2026-01-11T12:00:00.000Z');
  });
  it('is clamped to the issuer notAfter', () => {
    const w = leafValidity(now, 24 * H, 20_000, issuer(-100, 2));
    assert.equal(w.notAfter.getTime(), Math.floor((now + 2 * H) / 1000) * 1000);
    assert.ok(w.notAfter.getTime() <= now + 2 * H);
  });
  it('refuses to issue from an expired or not-yet-valid issuer', () => {
    assert.throws(() => leafValidity(now, 24 * H, 20_000, issuer(-100, 0)), (e: IdentityError) => e.code === 'LINNET_IDENTITY_ISSUER_EXPIRED' && /expired/.test(e.message));
    assert.throws(() => leafValidity(now, 24 * H, 20_000, issuer(1, 100)), (e: IdentityError) => e.code === 'LINNET_IDENTITY_ISSUER_EXPIRED' && /not valid before/.test(e.message));
  });
});
