/**
 * The leaf certificate's validity window, kept pure so that clamping is tested without keys.
 */
import { IdentityError } from './errors';

export const DEFAULT_ISSUANCE_LIFETIME_MS = 24 * 3_600_000;
export const DEFAULT_CLOCK_SKEW_MS = 20_000;

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

/**
 * Valid from `now - clockSkew` (peers whose clocks lag a little still accept it) to
 * `now + lifetime`, but never past the issuer's own notAfter: a leaf outliving its issuer would
 * fail verification anyway, and the proxy must know the real end to renew in time.
 * X.509 times have whole-second precision, so both ends are truncated to the second.
 */
export function leafValidity(
  now: number,
  lifetimeMs: number,
  clockSkewMs: number,
  issuer: { notBefore: Date; notAfter: Date },
): ValidityWindow {
  const issuerEnd = issuer.notAfter.getTime();
  if (issuerEnd <= now) {
    throw new IdentityError('LINNET_IDENTITY_ISSUER_EXPIRED', `the issuer certificate expired at ${issuer.notAfter.toISOString()}`, {
      hint: 'rotate the issuer: `linnet identity create` or your own PKI, then restart `linnet control`',
    });
  }
  if (issuer.notBefore.getTime() > now) {
    throw new IdentityError('LINNET_IDENTITY_ISSUER_EXPIRED', `the issuer certificate is not valid before ${issuer.notBefore.toISOString()}`, {
      hint: "check this machine's clock",
    });
  }
  const floorSec = (ms: number) => Math.floor(ms / 1000) * 1000;
  const notBefore = floorSec(now - clockSkewMs);
  const notAfter = floorSec(Math.min(now + lifetimeMs, issuerEnd));
  return { notBefore: new Date(notBefore), notAfter: new Date(notAfter) };
}
