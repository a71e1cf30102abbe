import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAnchor, createCa, createIssuer } from './ca';
import { checkMaterial, CHECKS } from './material';
import type { IdentityError } from './errors';

const names = { bundle: 'B', issuer: 'I', issuerKey: 'K', anchorKey: 'AK' };
const D = 86_400_000;

describe('checkMaterial', () => {
  it('accepts a chaining set, finds the anchor whose key it holds, and refuses each bad input by name and check', async () => {
    const now = Date.now();
    const ca = await createCa();
    const other = await createCa();
    const ok = await checkMaterial({ bundlePem: ca.anchorPem, issuerPem: ca.issuerPem, issuerKeyPem: ca.issuerKeyPem, anchorKeyPem: ca.anchorKeyPem }, names, { now });
    assert.ok(ok.signingAnchor && ok.signingAnchor.raw.equals(ok.anchor.raw));
    assert.deepEqual(ok.warnings, []);
    const refused = async (t: Parameters<typeof checkMaterial>[0], code: string, what: string, check: string, running = ok) => {
      await assert.rejects(checkMaterial(t, names, { now, running }), (e: IdentityError) => {
        assert.equal(e.code, code);
        assert.ok(e.message.startsWith(`refused ${what}: check "${check}" failed`), e.message);
        return true;
      });
    };
    await refused({ bundlePem: other.anchorPem, issuerPem: ca.issuerPem, issuerKeyPem: ca.issuerKeyPem }, 'LINNET_IDENTITY_BUNDLE_INCOMPLETE', 'B', CHECKS.bundleKeepsAnchor);
    await refused({ bundlePem: ca.anchorPem, issuerPem: other.issuerPem, issuerKeyPem: other.issuerKeyPem }, 'LINNET_IDENTITY_ISSUER_UNTRUSTED', 'I', CHECKS.issuerTrusted);
    await refused({ bundlePem: ca.anchorPem, issuerPem: ca.issuerPem, issuerKeyPem: other.issuerKeyPem }, 'LINNET_IDENTITY_KEY_MISMATCH', 'K', CHECKS.keyMatch);
    const expired = await createIssuer(ca.anchorPem, ca.anchorKeyPem, { now: now - 3 * D, issuerLifetimeMs: D });
    await refused({ bundlePem: ca.anchorPem, issuerPem: expired.issuerPem, issuerKeyPem: expired.issuerKeyPem }, 'LINNET_IDENTITY_ISSUER_EXPIRED', 'I', CHECKS.notExpired);
    await refused({ bundlePem: 'nothing', issuerPem: ca.issuerPem, issuerKeyPem: ca.issuerKeyPem }, 'LINNET_IDENTITY_ISSUER_INVALID', 'B', CHECKS.parse);
    // Without a running state, a foreign bundle is named as an untrusted issuer (nothing was dropped).
    await assert.rejects(checkMaterial({ bundlePem: other.anchorPem, issuerPem: ca.issuerPem, issuerKeyPem: ca.issuerKeyPem }, names, { now }), /ISSUER_UNTRUSTED|signed by none/);
  });
  it('a bundle of two anchors (a rotation) takes an issuer under either; an anchor key fitting none is a warning, not a refusal', async () => {
    const now = Date.now();
    const ca = await createCa();
    const next = await createAnchor();
    const under = await createIssuer(next.anchorPem, next.anchorKeyPem);
    const bundle = ca.anchorPem + next.anchorPem;
    const a = await checkMaterial({ bundlePem: bundle, issuerPem: ca.issuerPem, issuerKeyPem: ca.issuerKeyPem, anchorKeyPem: next.anchorKeyPem }, names, { now });
    assert.equal(a.anchors.length, 2);
    assert.ok(a.signingAnchor && !a.signingAnchor.raw.equals(a.anchor.raw), 'the key is the new anchor\'s; the issuer is still under the old one');
    const b = await checkMaterial({ bundlePem: bundle, issuerPem: under.issuerPem, issuerKeyPem: under.issuerKeyPem }, names, { now });
    assert.equal(b.anchor.fingerprint256, new (await import('node:crypto')).X509Certificate(next.anchorPem).fingerprint256);
    const stray = await checkMaterial({ bundlePem: ca.anchorPem, issuerPem: ca.issuerPem, issuerKeyPem: ca.issuerKeyPem, anchorKeyPem: next.anchorKeyPem }, names, { now });
    assert.equal(stray.signingAnchor, undefined);
    assert.match(stray.warnings[0]!, /^AK: check "the anchor key belongs to an anchor in the bundle" failed/);
  });
});
