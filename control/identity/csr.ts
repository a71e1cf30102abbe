/**
 * Checks a proxy's certificate signing request before anything is signed: it parses, its
 * self-signature holds (the caller owns the key), its key is ECDSA P-256 (the mesh's leaf key
 * kind), and its only subject alternative name is a DNS name equal to the requested identity.
 */
import { createPublicKey, verify } from 'node:crypto';
import { x509 } from './keys';
import { IdentityError } from './errors';

const SAN_OID = '2.5.29.17';

export interface CheckedCsr {
  csr: x509.Pkcs10CertificateRequest;
}

export async function checkCsr(der: Uint8Array, identity: string): Promise<CheckedCsr> {
  if (der.length === 0) {
    throw new IdentityError('LINNET_IDENTITY_CSR_INVALID', 'the certificate signing request is empty', {
      hint: 'send a DER-encoded PKCS#10 CSR in certificate_signing_request',
    });
  }
  let csr: x509.Pkcs10CertificateRequest;
  let alg: { name?: string; namedCurve?: string };
  try {
    // The library would also take PEM or base64; the API says DER (an ASN.1 SEQUENCE), so hold
    // callers to it rather than guess.
    if (der[0] !== 0x30) throw new Error('not an ASN.1 SEQUENCE');
    // Exactly one DER element: the parser ignores bytes after it, we do not (fuzz finding).
    if (derElementLength(der) !== der.length) throw new Error('bytes before or after the DER SEQUENCE');
    csr = new x509.Pkcs10CertificateRequest(Buffer.from(der));
    // The key is decoded lazily, and a malformed one throws plain Errors: decode it here.
    alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  } catch (err) {
    throw new IdentityError('LINNET_IDENTITY_CSR_INVALID', 'the certificate signing request is not a DER-encoded PKCS#10 request', {
      hint: 'send DER, not PEM',
      cause: err,
    });
  }
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
    throw new IdentityError(
      'LINNET_IDENTITY_CSR_INVALID',
      `the CSR's key is ${alg.name ?? 'unknown'}${alg.namedCurve ? ' ' + alg.namedCurve : ''}; mesh leaf keys must be ECDSA P-256`,
    );
  }
  let signatureOk = false;
  try {
    // Node's (OpenSSL's) verify as well: it holds the signature to strict DER, where the library
    // took an ECDSA-Sig-Value with a wrong tag byte (fuzz finding: a malleable encoding passed).
    signatureOk = (await csr.verify()) && strictSignatureOk(der, Buffer.from(csr.publicKey.rawData));
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) {
    throw new IdentityError('LINNET_IDENTITY_CSR_INVALID', "the CSR's signature does not verify with its own public key");
  }
  const sans: { type: string; value: string }[] = [];
  // Every SAN extension counts (a CSR could smuggle a second one).
  for (const ext of csr.extensions) {
    if (ext.type !== SAN_OID) continue;
    const san = ext instanceof x509.SubjectAlternativeNameExtension ? ext : new x509.SubjectAlternativeNameExtension(ext.rawData);
    for (const n of san.names.items) sans.push({ type: n.type, value: n.value });
  }
  if (sans.length !== 1) {
    throw new IdentityError(
      'LINNET_IDENTITY_CSR_SAN_MISMATCH',
      `the CSR has ${sans.length} subject alternative names (${sans.map((s) => `${s.type}:${s.value}`).join(', ') || 'none'}); it must have exactly one, DNS:${identity}`,
    );
  }
  const [only] = sans as [{ type: string; value: string }];
  if (only.type !== 'dns' || only.value.toLowerCase() !== identity.toLowerCase()) {
    throw new IdentityError(
      'LINNET_IDENTITY_CSR_SAN_MISMATCH',
      `the CSR's subject alternative name ${only.type}:${only.value} does not equal the requested identity DNS:${identity}`,
    );
  }
  return { csr };
}

/** Length of the DER element at the start (tag, definite length, contents), or -1. */
function derElementLength(b: Uint8Array): number {
  if (b.length < 2) return -1;
  const first = b[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

/** Header length and total length of the DER element at `off`, or undefined. */
function element(b: Uint8Array, off: number): { head: number; total: number } | undefined {
  if (off + 2 > b.length) return undefined;
  const first = b[off + 1]!;
  if (first < 0x80) return off + 2 + first <= b.length ? { head: 2, total: 2 + first } : undefined;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || off + 2 + n > b.length) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[off + 2 + i]!;
  return off + 2 + n + len <= b.length ? { head: 2 + n, total: 2 + n + len } : undefined;
}

/** CertificationRequest = SEQUENCE { info, algorithm, BIT STRING signature }: verify with node:crypto. */
function strictSignatureOk(der: Uint8Array, spki: Buffer): boolean {
  const outer = element(der, 0);
  if (!outer) return false;
  const info = element(der, outer.head);
  if (!info) return false;
  const algOff = outer.head + info.total;
  const alg = element(der, algOff);
  if (!alg) return false;
  const sigOff = algOff + alg.total;
  const sig = element(der, sigOff);
  if (!sig || der[sigOff] !== 0x03 || der[sigOff + sig.head] !== 0) return false;
  const tbs = der.subarray(outer.head, outer.head + info.total);
  const signature = der.subarray(sigOff + sig.head + 1, sigOff + sig.total);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return verify('sha256', tbs, { key, dsaEncoding: 'der' }, signature);
}
