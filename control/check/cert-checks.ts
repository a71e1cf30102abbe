/**
 * Certificate checks, pure over PEM text and a clock: the trust anchors and the issuer parse, are
 * CAs, are valid now and for the next 60 days (‼ inside that window, × when expired), the issuer
 * is signed by an anchor and its key belongs to it.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { fail, ok, warn, type CheckResult } from './result';

export const EXPIRY_WINDOW_MS = 60 * 24 * 3_600_000;
const CATEGORY = 'linnet-identity';

export interface IdentityMaterial {
  anchorsPem: string;
  issuerPem: string;
  issuerKeyPem?: string;
  /** Where the material came from, for the messages (`--identity-dir /x`, `install manifests`). */
  source: string;
}

export function parsePemCertificates(text: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function day(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function validity(what: string, cert: X509Certificate, now: number, hint: string): CheckResult {
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  const name = `${what} is valid for at least 60 days`;
  if (now < from) return fail(CATEGORY, name, `not valid before ${day(from)}`, 'check the clock, or create the certificate with an earlier start');
  if (now >= to) return fail(CATEGORY, name, `expired at ${day(to)}`, hint);
  if (to - now < EXPIRY_WINDOW_MS) {
    const days = Math.floor((to - now) / 86_400_000);
    return warn(CATEGORY, name, `expires at ${day(to)}, in ${days} day(s)`, hint);
  }
  return ok(CATEGORY, name, `valid until ${day(to)}`);
}

function keyAlgorithm(cert: X509Certificate): string {
  const k = cert.publicKey;
  if (k.asymmetricKeyType === 'ec') return `ecdsa-${k.asymmetricKeyDetails?.namedCurve ?? '?'}`;
  return k.asymmetricKeyType ?? '?';
}

/** Runs every certificate check it can; later checks that depend on a failed parse are skipped. */
export function checkIdentity(m: IdentityMaterial, now = Date.now()): CheckResult[] {
  const out: CheckResult[] = [];
  let anchors: X509Certificate[] = [];
  try {
    anchors = parsePemCertificates(m.anchorsPem);
  } catch (err) {
    out.push(fail(CATEGORY, 'trust anchors are valid certificates', `${m.source}: ${(err as Error).message}`, 'give the PEM certificates of the trust anchors'));
    return out;
  }
  if (anchors.length === 0) {
    out.push(fail(CATEGORY, 'trust anchors are valid certificates', `${m.source}: no PEM certificate found`, 'give the PEM certificates of the trust anchors'));
    return out;
  }
  const badAnchor = anchors.find((a) => !a.ca || !['ecdsa-prime256v1', 'rsa'].includes(keyAlgorithm(a)));
  out.push(
    badAnchor
      ? fail(CATEGORY, 'trust anchors are valid certificates', `${badAnchor.subject.replace(/\n/g, ', ')}: ${badAnchor.ca ? `key ${keyAlgorithm(badAnchor)}` : 'not a CA'}`, 'trust anchors must be CA certificates with ECDSA P-256 or RSA keys')
      : ok(CATEGORY, 'trust anchors are valid certificates', `${anchors.length} anchor(s)`),
  );
  // With several anchors (a rotation in progress), only the latest-expiring one has to last.
  const longest = anchors.reduce((a, b) => (new Date(b.validTo) > new Date(a.validTo) ? b : a));
  out.push(validity('trust anchor', longest, now, 'create a new trust anchor and rotate it in (Linkerd-style: bundle old and new in the trust roots, then swap the issuer)'));

  let issuer: X509Certificate | undefined;
  try {
    issuer = parsePemCertificates(m.issuerPem)[0];
  } catch (err) {
    out.push(fail(CATEGORY, 'issuer certificate is a valid CA certificate', `${m.source}: ${(err as Error).message}`, 'give the issuer certificate as PEM'));
    return out;
  }
  if (!issuer) {
    out.push(fail(CATEGORY, 'issuer certificate is a valid CA certificate', `${m.source}: no PEM certificate found`, 'give the issuer certificate as PEM'));
    return out;
  }
  out.push(
    issuer.ca
      ? ok(CATEGORY, 'issuer certificate is a valid CA certificate')
      : fail(CATEGORY, 'issuer certificate is a valid CA certificate', 'basicConstraints CA:TRUE is missing', 'the issuer signs proxy certificates, so it must be a CA'),
  );
  out.push(validity('issuer certificate', issuer, now, 'renew the issuer: `linnet identity create` with the anchor, or let cert-manager renew it (linnet install --identity-external-issuer)'));
  const signer = anchors.find((a) => issuer!.checkIssued(a) && issuer!.verify(a.publicKey));
  out.push(
    signer
      ? ok(CATEGORY, 'issuer certificate is signed by a trust anchor')
      : fail(CATEGORY, 'issuer certificate is signed by a trust anchor', `issuer ${issuer.issuer.replace(/\n/g, ', ')} matches none of the ${anchors.length} anchor(s)`, 'sign the issuer with the trust anchor, or add the anchor that signed it to the trust roots'),
  );
  if (m.issuerKeyPem !== undefined) {
    try {
      const key = createPrivateKey(m.issuerKeyPem);
      const a = createPublicKey(key).export({ format: 'der', type: 'spki' });
      const b = issuer.publicKey.export({ format: 'der', type: 'spki' });
      out.push(
        a.equals(b)
          ? ok(CATEGORY, 'issuer key belongs to the issuer certificate')
          : fail(CATEGORY, 'issuer key belongs to the issuer certificate', 'the public keys differ', 'give the key the issuer certificate was made for'),
      );
    } catch (err) {
      out.push(fail(CATEGORY, 'issuer key belongs to the issuer certificate', `the key does not parse: ${(err as Error).message}`, 'give an unencrypted PEM private key'));
    }
  }
  return out;
}
