/**
 * When the CA makes itself a new issuer: pure arithmetic over certificate windows, so the rules
 * are unit-tested without keys or clocks.
 *
 * The issuer is replaced when a third of its life is left (Linkerd leaves it to cert-manager,
 * which renews at 2/3 by default): long enough before the end that a control plane down for a
 * while still rotates in time, and leaves signed by the old issuer stay valid to their own end.
 */
export const DEFAULT_ISSUER_LIFETIME_MS = 7 * 24 * 3_600_000;
export const ROTATE_AT_LIFE_LEFT = 1 / 3;
/** `check` and the gauges call a rotation overdue past this: a quarter of the life left. */
export const OVERDUE_AT_LIFE_LEFT = 1 / 4;

export interface CertWindow {
  notBeforeMs: number;
  notAfterMs: number;
}

/** The instant a third of the window is left. */
export function rotateAt(w: CertWindow): number {
  return w.notAfterMs - (w.notAfterMs - w.notBeforeMs) * ROTATE_AT_LIFE_LEFT;
}

/** Whether a certificate that should have been rotated is still in use (a quarter left). */
export function rotationOverdue(w: CertWindow, now: number): boolean {
  return now >= w.notAfterMs - (w.notAfterMs - w.notBeforeMs) * OVERDUE_AT_LIFE_LEFT;
}

export type IssuerDecision =
  | { action: 'rotate'; reason: string }
  | { action: 'keep'; reason: string; checkAgainInMs: number };

/**
 * What to do about the issuer now. `canSign`: the anchor key is at hand (and self-rotation is
 * on). `issuerUnderSigningAnchor`: the issuer chains to the anchor whose key we hold; when it
 * does not (an anchor rotation moved the key to a new anchor), a new issuer is due at once.
 */
export function decideIssuer(o: { now: number; issuer: CertWindow; canSign: boolean; issuerUnderSigningAnchor: boolean; pollMs: number }): IssuerDecision {
  if (!o.canSign) return { action: 'keep', reason: 'no anchor key: the issuer comes from outside (files, Secret, cert-manager)', checkAgainInMs: o.pollMs };
  if (!o.issuerUnderSigningAnchor) return { action: 'rotate', reason: 'the issuer is not signed by the anchor whose key the control plane holds (anchor rotation)' };
  const at = rotateAt(o.issuer);
  if (o.now >= at) return { action: 'rotate', reason: `a third of its life is left (since ${new Date(at).toISOString()})` };
  return { action: 'keep', reason: `rotates at ${new Date(at).toISOString()}`, checkAgainInMs: Math.min(o.pollMs, at - o.now) };
}

/** Whole days left (negative once expired), as logs, gauges and `check` print them. */
export function daysLeft(notAfterMs: number, now: number): number {
  return Math.floor(((notAfterMs - now) / 86_400_000) * 10) / 10;
}
