/**
 * The trust anchor and the issuer: creating a fresh pair (`linnet identity create`) and loading
 * a pair made elsewhere (openssl, step, cert-manager) from an identity directory holding
 * `ca.crt` (one or more anchors), `issuer.crt` and `issuer.key`.
 *
 * Lifetimes follow Linkerd's documented setup: the anchor 10 years (step's root-ca default, what
 * Linkerd's docs generate), the issuer 1 year (`--not-after 8760h`). Operators rotate the issuer
 * yearly without touching proxies, because proxies trust only the anchor.
 */
import { X509Certificate, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IdentityError } from './errors';
import { x509, derToPem, importPrivateKeyPem, pemCertificates, publicSpki, randomSerial, type CryptoKey, type KeyKind } from './keys';
import { DEFAULT_TRUST_DOMAIN, DEFAULT_CONTROL_NAMESPACE } from './names';

export const ANCHOR_LIFETIME_MS = 10 * 365 * 24 * 3_600_000;
export const ISSUER_LIFETIME_MS = 365 * 24 * 3_600_000;

export const FILES = { anchor: 'ca.crt', anchorKey: 'ca.key', issuer: 'issuer.crt', issuerKey: 'issuer.key' } as const;

export interface CreatedCa {
  anchorPem: string;
  anchorKeyPem: string;
  issuerPem: string;
  issuerKeyPem: string;
}

export interface CreateCaOptions {
  trustDomain?: string;
  controlNamespace?: string;
  anchorLifetimeMs?: number;
  issuerLifetimeMs?: number;
  /** Start of validity; defaults to now. Tests move it to make expired or expiring issuers. */
  now?: number;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  return derToPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key)), 'PRIVATE KEY');
}

/** A new ECDSA P-256 trust anchor and an issuer it signed, as PEM text. */
export async function createCa(opts: CreateCaOptions = {}): Promise<CreatedCa> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const controlNs = opts.controlNamespace ?? DEFAULT_CONTROL_NAMESPACE;
  const now = opts.now ?? Date.now();
  const anchorKeys = await newKeys();
  const issuerKeys = await newKeys();
  // Backdate a little, as for leaves, so a freshly made CA works on a peer whose clock lags.
  const notBefore = new Date(Math.floor((now - 60_000) / 1000) * 1000);
  const anchor = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=root.${controlNs}.${trustDomain}`,
    notBefore,
    notAfter: new Date(now + (opts.anchorLifetimeMs ?? ANCHOR_LIFETIME_MS)),
    keys: anchorKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(anchorKeys.publicKey),
    ],
  });
  const anchorSki = anchor.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  const issuer = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=identity.${controlNs}.${trustDomain}`,
    issuer: anchor.subject,
    notBefore,
    notAfter: new Date(now + (opts.issuerLifetimeMs ?? ISSUER_LIFETIME_MS)),
    publicKey: issuerKeys.publicKey,
    signingKey: anchorKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      // pathlen 0: the issuer signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(issuerKeys.publicKey),
      new x509.AuthorityKeyIdentifierExtension(anchorSki, false),
    ],
  });
  return {
    anchorPem: anchor.toString('pem') + '\n',
    anchorKeyPem: await pkcs8Pem(anchorKeys.privateKey),
    issuerPem: issuer.toString('pem') + '\n',
    issuerKeyPem: await pkcs8Pem(issuerKeys.privateKey),
  };
}

/** An issuer ready to sign: what the CA service holds in memory. */
export interface LoadedIssuer {
  anchors: X509Certificate[];
  issuer: X509Certificate;
  issuerDer: Buffer;
  issuerKeyPkcs8: Buffer;
  issuerKeyKind: KeyKind;
  /** The anchor the issuer chains to. */
  anchor: X509Certificate;
}

function invalid(message: string, hint?: string, cause?: unknown): IdentityError {
  return new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', message, { hint, cause });
}

async function readText(dir: string, name: string): Promise<string> {
  try {
    return await readFile(join(dir, name), 'utf8');
  } catch (err) {
    throw invalid(`cannot read ${join(dir, name)}: ${(err as Error).message}`, 'create one with `linnet identity create --out DIR`', err);
  }
}

function parseCerts(text: string, what: string): X509Certificate[] {
  const ders = pemCertificates(text);
  if (ders.length === 0) throw invalid(`${what} holds no PEM certificate`);
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (err) {
      throw invalid(`${what}: certificate #${i + 1} does not parse`, undefined, err);
    }
  });
}

/**
 * Loads and checks an identity directory: the issuer is a CA, its key matches it, and it is
 * signed by one of the anchors in ca.crt (which may be a bundle, for anchor rotation). An
 * expired issuer is refused here rather than at the first Certify.
 */
export async function loadIssuer(dir: string, now = Date.now()): Promise<LoadedIssuer> {
  const anchors = parseCerts(await readText(dir, FILES.anchor), FILES.anchor);
  const issuerCerts = parseCerts(await readText(dir, FILES.issuer), FILES.issuer);
  const issuer = issuerCerts[0]!;
  const { kind, pkcs8, object } = await importPrivateKeyPem(await readText(dir, FILES.issuerKey), FILES.issuerKey);
  if (!issuer.ca) throw invalid(`${FILES.issuer} is not a CA certificate (basicConstraints CA:TRUE is missing)`);
  const certSpki = issuer.publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
  if (!certSpki.equals(publicSpki(object))) throw invalid(`${FILES.issuerKey} does not belong to ${FILES.issuer} (the public keys differ)`);
  const anchor = anchors.find((a) => issuer.checkIssued(a) && issuer.verify(a.publicKey));
  if (!anchor) {
    throw invalid(`${FILES.issuer} (${issuer.subject.replace(/\n/g, ', ')}) is not signed by any anchor in ${FILES.anchor}`, 'put the anchor that signed the issuer into ca.crt');
  }
  if (new Date(issuer.validTo).getTime() <= now) {
    throw new IdentityError('LINNET_IDENTITY_ISSUER_EXPIRED', `${FILES.issuer} expired at ${new Date(issuer.validTo).toISOString()}`, {
      hint: 'rotate the issuer (linnet identity create, or your PKI) and restart',
    });
  }
  return { anchors, issuer, issuerDer: issuer.raw, issuerKeyPkcs8: pkcs8, issuerKeyKind: kind, anchor };
}
