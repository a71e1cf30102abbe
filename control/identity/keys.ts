/**
 * Private keys and certificates between PEM files (whatever openssl, step or Linnet wrote) and
 * WebCrypto, which @peculiar/x509 signs with. Node's KeyObject reads every common PEM form
 * (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY"); we normalise to PKCS#8 DER.
 */
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { derToPem, pemCertificates, x509 } from '../../core/x509';
import { IdentityError } from './errors';

export type CryptoKey = webcrypto.CryptoKey;

export { derToPem, pemCertificates, x509 };

/** The WebCrypto algorithms Linnet signs with, by key kind. */
export type KeyKind = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa';

export const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export function signingAlgorithm(kind: KeyKind): { name: string; namedCurve?: string; hash: string } {
  switch (kind) {
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    case 'ecdsa-p384':
      return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
}

/** What kind of key this is, or an error naming what it is instead. */
export function keyKind(key: KeyObject, what: string): KeyKind {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'rsa';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsa-p256';
    if (curve === 'secp384r1') return 'ecdsa-p384';
    throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `${what} is an EC key on curve ${curve}, not P-256 or P-384`);
  }
  throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `${what} is a ${type} key; Linnet signs with ECDSA P-256/P-384 or RSA`);
}

/** A PEM private key (any common form, unencrypted) → a WebCrypto signing key and its kind. */
export async function importPrivateKeyPem(pem: string, what: string): Promise<{ key: CryptoKey; kind: KeyKind; pkcs8: Buffer; object: KeyObject }> {
  let object: KeyObject;
  try {
    object = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `${what} is not a readable unencrypted PEM private key`, {
      hint: 'write it without a passphrase (openssl: -noenc / step: --no-password --insecure)',
      cause: err,
    });
  }
  const kind = keyKind(object, what);
  const pkcs8 = object.export({ format: 'der', type: 'pkcs8' }) as Buffer;
  const key = await importPkcs8(pkcs8, kind);
  return { key, kind, pkcs8, object };
}

export function importPkcs8(pkcs8: Uint8Array, kind: KeyKind): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', pkcs8, signingAlgorithm(kind), false, ['sign']) as Promise<CryptoKey>;
}

/** SPKI DER of a private key's public half, to compare with a certificate's public key. */
export function publicSpki(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ format: 'der', type: 'spki' }) as Buffer;
}

/** A random positive 128-bit serial number as hex (RFC 5280 allows up to 20 octets). */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // keep it positive in DER's two's complement
  if (bytes[0] === 0) bytes[0] = 1; // and free of a leading zero octet
  return Buffer.from(bytes).toString('hex');
}
