/**
 * Which identity a peer certificate proves. Linkerd identities are DNS-like names carried as the
 * certificate's one DNS SAN; anything else (no SAN, several, IP SANs only) proves no identity.
 * Pure, so the rules are unit-tested without a handshake.
 */

/** The DNS names in Node's `subjectaltname` string (`DNS:a, DNS:b, IP Address:1.2.3.4`). */
export function dnsSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const out: string[] = [];
  // Node quotes entries that contain a comma or other special characters as JSON strings.
  const re = /(?:^|,\s*)(?:DNS:("(?:[^"\\]|\\.)*"|[^,]*)|[^,]*)/g;
  for (let m = re.exec(subjectaltname); m && m[0] !== '' ; m = re.exec(subjectaltname)) {
    const v = m[1];
    if (v === undefined) continue;
    out.push(v.startsWith('"') ? (JSON.parse(v) as string) : v.trim());
    if (re.lastIndex >= subjectaltname.length) break;
  }
  return out;
}

/** The identity a certificate proves: its single DNS SAN, lower-cased; undefined otherwise. */
export function identityOf(subjectaltname: string | undefined): string | undefined {
  const names = dnsSans(subjectaltname);
  return names.length === 1 ? names[0]!.toLowerCase() : undefined;
}

/**
 * For tls.connect's checkServerIdentity: the server must prove exactly `expected` (no wildcard,
 * no second name). Returns an Error to fail the handshake, undefined to accept.
 */
export function checkPeerIdentity(expected: string, subjectaltname: string | undefined): Error | undefined {
  const got = identityOf(subjectaltname);
  if (got === expected.toLowerCase()) return undefined;
  const err = new Error(`peer certificate proves ${got ?? `no single identity (SAN ${JSON.stringify(subjectaltname ?? '')})`}, expected ${expected}`);
  (err as NodeJS.ErrnoException).code = 'ERR_TLS_IDENTITY_MISMATCH';
  return err;
}
