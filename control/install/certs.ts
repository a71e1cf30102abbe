/**
 * Certificates `linnet install` needs: the identity trust anchor + issuer (made by the identity
 * module's createCa, or read from files and checked), and the webhook's serving certificate with
 * the CA the API server trusts it by (the MutatingWebhookConfiguration's caBundle). ECDSA P-256
 * through @peculiar/x509 (WebCrypto), since node-forge has no ECDSA.
 */
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { createCa } from '../identity/ca';
import { derToPem, randomSerial, x509 } from '../identity/keys';
import { checkIdentity } from '../check/cert-checks';
import { InstallError } from './errors';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const YEAR_MS = 365 * 24 * 3_600_000;

export interface IdentityCerts {
  /** Absent by default: the control plane makes the anchor in the cluster (nothing secret in the output). */
  anchorsPem?: string;
  /** Present only when install made the anchor itself (the cert-manager path needs it in-cluster). */
  anchorKeyPem?: string;
  issuerPem?: string;
  issuerKeyPem?: string;
  generated: boolean;
}

export interface IdentityFiles {
  anchorsFile?: string;
  issuerCertFile?: string;
  issuerKeyFile?: string;
}

function read(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InstallError('LINNET_INSTALL_INPUT', `${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { hint: `check the path given to ${flag}`, cause: err });
  }
}

/**
 * Given files are checked (an install with a broken issuer would only fail later, in the pods).
 * With none, nothing is made here: the control plane creates the anchor and the issuer in the
 * cluster on first start, so the output is the same bytes every time and holds no key.
 * `externalIssuer`: cert-manager makes the issuer from the anchor; with no anchor given, one is
 * generated (as before: cert-manager needs its key in a Secret, and the output says so).
 */
export async function identityCerts(files: IdentityFiles, opts: { externalIssuer: boolean; trustDomain: string; controlPlaneNamespace: string; now?: number }): Promise<IdentityCerts> {
  const given = [files.anchorsFile, files.issuerCertFile, files.issuerKeyFile].filter((f) => f !== undefined).length;
  if (given === 0 && !opts.externalIssuer) return { generated: false };
  if (given === 0) {
    const ca = await createCa({ trustDomain: opts.trustDomain, controlNamespace: opts.controlPlaneNamespace, now: opts.now });
    return { anchorsPem: ca.anchorPem, anchorKeyPem: ca.anchorKeyPem, generated: true };
  }
  if (!files.anchorsFile) {
    throw new InstallError('LINNET_INSTALL_INPUT', 'issuer files given without --identity-trust-anchors-file', { hint: 'give the trust anchors that signed the issuer' });
  }
  const anchorsPem = read(files.anchorsFile, '--identity-trust-anchors-file');
  if (opts.externalIssuer) {
    const results = checkIdentity({ anchorsPem, issuerPem: anchorsPem, source: files.anchorsFile }, opts.now).filter((r) => r.name.startsWith('trust anchor'));
    const bad = results.find((r) => r.status === 'fail');
    if (bad) throw new InstallError('LINNET_INSTALL_CERTS', `${bad.name}: ${bad.detail}`, { hint: bad.hint });
    return { anchorsPem, generated: false };
  }
  if (!files.issuerCertFile || !files.issuerKeyFile) {
    throw new InstallError('LINNET_INSTALL_INPUT', 'give both --identity-issuer-certificate-file and --identity-issuer-key-file (or neither, to generate them)', {
      hint: 'or use --identity-external-issuer to let cert-manager make the issuer',
    });
  }
  const issuerPem = read(files.issuerCertFile, '--identity-issuer-certificate-file');
  const issuerKeyPem = read(files.issuerKeyFile, '--identity-issuer-key-file');
  const bad = checkIdentity({ anchorsPem, issuerPem, issuerKeyPem, source: 'the given files' }, opts.now).find((r) => r.status === 'fail');
  if (bad) throw new InstallError('LINNET_INSTALL_CERTS', `${bad.name}: ${bad.detail}`, { hint: bad.hint });
  return { anchorsPem, issuerPem, issuerKeyPem, generated: false };
}

export interface WebhookCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  return derToPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key)), 'PRIVATE KEY');
}

/**
 * A CA and a serving certificate for `<service>.<namespace>.svc` (the name the API server dials),
 * plus the short forms and any extra names (tests add `localhost` and 127.0.0.1).
 */
export async function webhookCerts(service: string, namespace: string, opts: { lifetimeMs?: number; now?: number; extraDns?: string[]; extraIps?: string[] } = {}): Promise<WebhookCerts> {
  const now = opts.now ?? Date.now();
  const notBefore = new Date(Math.floor((now - 60_000) / 1000) * 1000);
  const notAfter = new Date(now + (opts.lifetimeMs ?? YEAR_MS));
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const leafKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${service}.${namespace}.svc CA`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const dns = [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service, ...(opts.extraDns ?? [])];
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${service}.${namespace}.svc`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: 'dns' as const, value })), ...(opts.extraIps ?? []).map((value) => ({ type: 'ip' as const, value }))]),
      new x509.AuthorityKeyIdentifierExtension(ca.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId, false),
    ],
  });
  return { caPem: ca.toString('pem') + '\n', certPem: leaf.toString('pem') + '\n', keyPem: await pkcs8Pem(leafKeys.privateKey) };
}
