import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { checkCsr } from './csr';
import { x509 } from './keys';
import { IdentityError } from './errors';

const ID = 'web.demo.serviceaccount.identity.linnet.cluster.local';

async function csr(names: { type: 'dns' | 'ip' | 'url'; value: string }[], alg: 'p256' | 'p384' = 'p256'): Promise<Uint8Array> {
  const a = alg === 'p256' ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
  const keys = await webcrypto.subtle.generateKey(a, false, ['sign', 'verify']);
  const r = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=x', keys: keys as never, signingAlgorithm: a, extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return new Uint8Array(r.rawData);
}

const code = (c: string, re?: RegExp) => (e: IdentityError) => e.code === c && (!re || re.test(e.message));

describe('checkCsr', () => {
  it('accepts one DNS SAN equal to the identity (case-insensitively)', async () => {
    await checkCsr(await csr([{ type: 'dns', value: ID }]), ID);
    await checkCsr(await csr([{ type: 'dns', value: ID.toUpperCase() }]), ID);
  });
  it('refuses other SAN shapes and key kinds', async () => {
    await assert.rejects(checkCsr(await csr([{ type: 'url', value: `spiffe://${ID}` }]), ID), code('LINNET_IDENTITY_CSR_SAN_MISMATCH', /url:spiffe/));
    await assert.rejects(checkCsr(await csr([{ type: 'dns', value: ID }, { type: 'dns', value: ID }]), ID), code('LINNET_IDENTITY_CSR_SAN_MISMATCH', /2 subject/));
    await assert.rejects(checkCsr(await csr([{ type: 'dns', value: ID }], 'p384'), ID), code('LINNET_IDENTITY_CSR_INVALID', /P-384/));
    await assert.rejects(checkCsr(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), ID), code('LINNET_IDENTITY_CSR_INVALID', /PKCS#10/));
  });
});
