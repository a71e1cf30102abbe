/**
 * Checks a candidate identity state (trust bundle, issuer certificate and key, optionally the
 * anchor's key) before the CA signs with it. The same checks guard the first load, every reload
 * of files or Secrets, and every issuer the CA makes itself, so a bad edit is refused with one
 * message that names the file or Secret and the check, and the running state is kept.
 * No I/O here: the callers read the text; this module only parses and compares.
 */
import { X509Certificate } from 'node:crypto';
import { IdentityError, type IdentityErrorCode } from './errors';
import { importPrivateKeyPem, pemCertificates, publicSpki, type KeyKind } from './keys';

/** The PEM texts of one identity state. */
export interface MaterialText {
  bundlePem: string;
  issuerPem: string;
  issuerKeyPem: string;
  /** The key of one anchor in the bundle; present: the CA can make its own issuers. */
  anchorKeyPem?: string;
}

/** Where each part came from, for messages: a path, or `Secret linnet/linnet-identity-issuer (tls.crt)`. */
export interface MaterialNames {
  bundle: string;
  issuer: string;
  issuerKey: string;
  anchorKey?: string;
}

/** An issuer ready to sign: what the CA service holds in memory. */
export interface LoadedIssuer {
  text: MaterialText;
  anchors: X509Certificate[];
  issuer: X509Certificate;
  issuerDer: Buffer;
  issuerKeyPkcs8: Buffer;
  issuerKeyKind: KeyKind;
  /** The anchor the issuer chains to. */
  anchor: X509Certificate;
  /** The anchor whose key we hold (it can sign a new issuer); undefined without an anchor key. */
  signingAnchor?: X509Certificate;
  /** Problems that do not stop signing (an anchor key that fits no anchor). */
  warnings: string[];
}

/** The names of the checks, as messages and `linnet check` show them. */
export const CHECKS = {
  parse: 'the certificates and keys parse',
  ca: 'the issuer is a CA certificate',
  keyMatch: 'the issuer key belongs to the issuer certificate',
  bundleKeepsAnchor: 'the bundle holds the anchor that signed the current issuer',
  issuerTrusted: 'the issuer is signed by an anchor in the bundle',
  notExpired: 'the issuer has not expired',
  anchorKey: 'the anchor key belongs to an anchor in the bundle',
} as const;

function refuse(code: IdentityErrorCode, what: string, check: string, detail: string, hint: string, cause?: unknown): IdentityError {
  return new IdentityError(code, `refused ${what}: check "${check}" failed: ${detail}`, { hint, cause });
}

function parseCerts(text: string, what: string): X509Certificate[] {
  const ders = pemCertificates(text);
  if (ders.length === 0) throw refuse('LINNET_IDENTITY_ISSUER_INVALID', what, CHECKS.parse, 'no PEM certificate in it', 'give PEM certificates (-----BEGIN CERTIFICATE-----)');
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (err) {
      throw refuse('LINNET_IDENTITY_ISSUER_INVALID', what, CHECKS.parse, `certificate #${i + 1} does not parse`, 'give PEM certificates', err);
    }
  });
}

const subject = (c: X509Certificate) => c.subject.replace(/\n/g, ', ');
const signs = (anchor: X509Certificate, cert: X509Certificate) => cert.checkIssued(anchor) && cert.verify(anchor.publicKey);

/**
 * Parses and checks `text`. `running` is the state the CA signs with now: a new bundle that
 * drops the anchor of an unchanged issuer is named as such (the usual mistake in a manual
 * anchor rotation), rather than as an untrusted issuer.
 */
export async function checkMaterial(text: MaterialText, names: MaterialNames, opts: { now: number; running?: LoadedIssuer }): Promise<LoadedIssuer> {
  const anchors = parseCerts(text.bundlePem, names.bundle);
  const issuer = parseCerts(text.issuerPem, names.issuer)[0]!;
  let key;
  try {
    key = await importPrivateKeyPem(text.issuerKeyPem, names.issuerKey);
  } catch (err) {
    const e = err as IdentityError;
    throw refuse('LINNET_IDENTITY_ISSUER_INVALID', names.issuerKey, CHECKS.parse, e.message, e.hint ?? 'give an unencrypted PEM private key', err);
  }
  if (!issuer.ca) throw refuse('LINNET_IDENTITY_ISSUER_INVALID', names.issuer, CHECKS.ca, 'basicConstraints CA:TRUE is missing', 'the issuer signs leaves, so it must be a CA');
  const certSpki = issuer.publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
  if (!certSpki.equals(publicSpki(key.object))) {
    throw refuse('LINNET_IDENTITY_KEY_MISMATCH', `${names.issuerKey}`, CHECKS.keyMatch, `its public key differs from that of ${names.issuer}`, 'give the key the issuer certificate was made for (update both together)');
  }
  const anchor = anchors.find((a) => signs(a, issuer));
  if (!anchor) {
    const running = opts.running;
    if (running && running.issuerDer.equals(issuer.raw) && running.text.bundlePem !== text.bundlePem) {
      throw refuse(
        'LINNET_IDENTITY_BUNDLE_INCOMPLETE',
        names.bundle,
        CHECKS.bundleKeepsAnchor,
        `the current issuer ${subject(issuer)} was signed by ${subject(running.anchor)}, which the new bundle (${anchors.length} anchor(s)) leaves out`,
        'keep the old anchor in the bundle until an issuer signed by the new anchor is in place (linnet identity rotate-anchor does it in order)',
      );
    }
    throw refuse(
      'LINNET_IDENTITY_ISSUER_UNTRUSTED',
      names.issuer,
      CHECKS.issuerTrusted,
      `${subject(issuer)} (issued by ${subject({ subject: issuer.issuer } as X509Certificate)}) is signed by none of the ${anchors.length} anchor(s) in ${names.bundle}`,
      'sign the issuer with an anchor of the bundle, or add its anchor to the bundle first',
    );
  }
  const end = new Date(issuer.validTo).getTime();
  if (end <= opts.now) {
    throw refuse('LINNET_IDENTITY_ISSUER_EXPIRED', names.issuer, CHECKS.notExpired, `it expired at ${new Date(end).toISOString()}`, 'give a current issuer (or the anchor key, so the control plane makes one)');
  }
  const warnings: string[] = [];
  let signingAnchor: X509Certificate | undefined;
  if (text.anchorKeyPem !== undefined) {
    try {
      const ak = await importPrivateKeyPem(text.anchorKeyPem, names.anchorKey ?? 'the anchor key');
      const spki = publicSpki(ak.object);
      signingAnchor = anchors.find((a) => (a.publicKey.export({ format: 'der', type: 'spki' }) as Buffer).equals(spki));
      if (!signingAnchor) warnings.push(`${names.anchorKey}: check "${CHECKS.anchorKey}" failed: it fits none of the anchors in ${names.bundle}; the issuer will not rotate itself`);
    } catch (err) {
      warnings.push(`${names.anchorKey}: check "${CHECKS.parse}" failed: ${(err as Error).message}; the issuer will not rotate itself`);
    }
  }
  return {
    text,
    anchors,
    issuer,
    issuerDer: issuer.raw,
    issuerKeyPkcs8: key.pkcs8,
    issuerKeyKind: key.kind,
    anchor,
    ...(signingAnchor ? { signingAnchor } : {}),
    warnings,
  };
}
