/**
 * X.509 in PEM and DER, shared by the control plane's CA and the proxy's identity client:
 * @peculiar/x509 (ECDSA and RSA certificates and CSRs, which node-forge cannot make) set up once
 * on Node's WebCrypto, and the two PEM conversions both sides need.
 */
import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs the Reflect polyfill
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** Splits a PEM bundle into its certificates' DER bytes (other blocks are ignored). */
export function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}
