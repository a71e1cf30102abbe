/**
 * The trust anchor and the issuer: creating a fresh pair (`linnet identity create`) and loading
 * a pair made elsewhere (openssl, step, cert-manager) from an identity directory holding
 * `ca.crt` (one or more anchors), `issuer.crt` and `issuer.key`.
 *
 * Lifetimes: the anchor 1 year, the issuer 7 days. With the anchor's key at hand (ca.key in the
 * identity dir, or the anchor Secret) the control plane makes its next issuer itself at a third
 * of the life left, and `linnet identity rotate-anchor` replaces the anchor without restarting a
 * pod, so neither needs to be long-lived; an offline root can be made longer with the flags.
 */
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IdentityError } from './errors';
import { checkMaterial, type LoadedIssuer, type MaterialNames, type MaterialText } from './material';
import { x509, derToPem, importPrivateKeyPem, randomSerial, signingAlgorithm, type CryptoKey } from './keys';
import { DEFAULT_TRUST_DOMAIN, DEFAULT_CONTROL_NAMESPACE } from './names';

/** 1 year: the control plane rotates the anchor (`linnet identity rotate-anchor`), check warns 60 days out. */
export const ANCHOR_LIFETIME_MS = 365 * 24 * 3_600_000;
export const ISSUER_LIFETIME_MS = 7 * 24 * 3_600_000;

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

/** A new self-signed ECDSA P-256 trust anchor and its key, as PEM text. */
export async function createAnchor(opts: CreateCaOptions = {}): Promise<{ anchorPem: string; anchorKeyPem: string }> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const controlNs = opts.controlNamespace ?? DEFAULT_CONTROL_NAMESPACE;
  const now = opts.now ?? Date.now();
  const anchorKeys = await newKeys();
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
  return { anchorPem: anchor.toString('pem') + '\n', anchorKeyPem: await pkcs8Pem(anchorKeys.privateKey) };
}

/**
 * A new ECDSA P-256 issuer signed by the given anchor (any key kind Linnet reads). Its end is
 * clamped to the anchor's: an issuer outliving its anchor would fail verification anyway.
 */
export async function createIssuer(anchorPem: string, anchorKeyPem: string, opts: CreateCaOptions = {}): Promise<{ issuerPem: string; issuerKeyPem: string }> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const controlNs = opts.controlNamespace ?? DEFAULT_CONTROL_NAMESPACE;
  const now = opts.now ?? Date.now();
  const anchor = new x509.X509Certificate(anchorPem);
  const { key: anchorKey, kind } = await importPrivateKeyPem(anchorKeyPem, 'the trust anchor key');
  const issuerKeys = await newKeys();
  const lifetimeMs = opts.issuerLifetimeMs ?? ISSUER_LIFETIME_MS;
  // Backdated for peers whose clocks lag, but by at most a tenth of the lifetime: the rotation
  // point (a third left) counts from notBefore, and short test lifetimes must not start past it.
  const notBefore = new Date(Math.floor((now - Math.min(60_000, lifetimeMs / 10)) / 1000) * 1000);
  const notAfter = new Date(Math.min(now + lifetimeMs, anchor.notAfter.getTime()));
  const anchorSki = anchor.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const issuer = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=identity.${controlNs}.${trustDomain}`,
    issuer: anchor.subjectName, // the parsed DER name, so chain matching is byte-exact
    notBefore,
    notAfter,
    publicKey: issuerKeys.publicKey,
    signingKey: anchorKey,
    signingAlgorithm: signingAlgorithm(kind),
    extensions: [
      // pathlen 0: the issuer signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(issuerKeys.publicKey),
      anchorSki ? new x509.AuthorityKeyIdentifierExtension(anchorSki, false) : await x509.AuthorityKeyIdentifierExtension.create(anchor, false),
    ],
  });
  return { issuerPem: issuer.toString('pem') + '\n', issuerKeyPem: await pkcs8Pem(issuerKeys.privateKey) };
}

/** A new ECDSA P-256 trust anchor and an issuer it signed, as PEM text. */
export async function createCa(opts: CreateCaOptions = {}): Promise<CreatedCa> {
  const anchor = await createAnchor(opts);
  const issuer = await createIssuer(anchor.anchorPem, anchor.anchorKeyPem, opts);
  return { ...anchor, ...issuer };
}

export type { LoadedIssuer } from './material';

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
      hint: 'create one with `linnet identity create --out DIR`',
      cause: err,
    });
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The names of an identity directory's files, for messages. */
export function dirNames(dir: string): MaterialNames {
  return { bundle: join(dir, FILES.anchor), issuer: join(dir, FILES.issuer), issuerKey: join(dir, FILES.issuerKey), anchorKey: join(dir, FILES.anchorKey) };
}

/** Reads an identity directory's texts; ca.key is optional (without it the issuer cannot rotate itself). */
export async function readIdentityDir(dir: string): Promise<MaterialText> {
  const n = dirNames(dir);
  const [bundlePem, issuerPem, issuerKeyPem, anchorKeyPem] = await Promise.all([readText(n.bundle), readText(n.issuer), readText(n.issuerKey), readOptional(n.anchorKey!)]);
  return { bundlePem, issuerPem, issuerKeyPem, ...(anchorKeyPem !== undefined ? { anchorKeyPem } : {}) };
}

/**
 * Loads and checks an identity directory (see material.ts for the checks): the issuer is a CA,
 * its key matches it, it is signed by one of the anchors in ca.crt (a bundle during an anchor
 * rotation), and it has not expired.
 */
export async function loadIssuer(dir: string, now = Date.now()): Promise<LoadedIssuer> {
  return checkMaterial(await readIdentityDir(dir), dirNames(dir), { now });
}
