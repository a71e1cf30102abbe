import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, webcrypto } from 'node:crypto';
import { createCa, type CreatedCa } from '../../control/identity/ca';
import { issueLeaf } from '../../control/identity/issue';
import { importPrivateKeyPem, pemCertificates, x509 } from '../../control/identity/keys';
import { verifyChain, IdentityChainError } from '../../proxy/identity/chain';

const NAME = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

describe('verifyChain', () => {
  let ca: CreatedCa;
  let other: CreatedCa;
  let leafDer: Uint8Array;
  let spki: Buffer;
  before(async () => {
    [ca, other] = await Promise.all([createCa(), createCa()]);
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${NAME}`, keys: keys as never, signingAlgorithm: ALG, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: NAME }])],
    });
    const issuerKey = await importPrivateKeyPem(ca.issuerKeyPem, 'issuer.key');
    const r = await issueLeaf({
      identity: NAME, csrDer: new Uint8Array(csr.rawData), issuerCertDer: pemCertificates(ca.issuerPem)[0]!, issuerKeyPkcs8: issuerKey.pkcs8,
      issuerKeyKind: issuerKey.kind, notBeforeMs: Date.now() - 20_000, notAfterMs: Date.now() + 3_600_000,
    });
    assert.ok(r.ok);
    leafDer = r.leafDer;
  });
  const args = (over: Partial<Parameters<typeof verifyChain>[0]> = {}) => ({
    leafDer, intermediatesDer: pemCertificates(ca.issuerPem), anchors: [new X509Certificate(ca.anchorPem)], localName: NAME, publicKeySpki: spki, now: Date.now(), ...over,
  });
  const chainErr = (re: RegExp) => (e: unknown) => e instanceof IdentityChainError && e.code === 'LINNET_IDENTITY_CHAIN_INVALID' && re.test(e.message);

  it('accepts leaf → issuer → anchor', () => {
    const v = verifyChain(args());
    assert.equal(v.leaf.subjectAltName, `DNS:${NAME}`);
  });
  it('accepts when the anchor bundle also holds other anchors', () => {
    verifyChain(args({ anchors: [new X509Certificate(other.anchorPem), new X509Certificate(ca.anchorPem)] }));
  });
  it('refuses foreign anchors, a missing intermediate, another name, another key, a stale clock', () => {
    assert.throws(() => verifyChain(args({ anchors: [new X509Certificate(other.anchorPem)] })), chainErr(/does not lead to any trust anchor/));
    assert.throws(() => verifyChain(args({ intermediatesDer: [] })), chainErr(/does not lead/));
    assert.throws(() => verifyChain(args({ localName: 'db.demo.serviceaccount.identity.linnet.cluster.local' })), chainErr(/not db\.demo/));
    const otherSpki = createPublicKey(other.issuerKeyPem).export({ type: 'spki', format: 'der' }) as Buffer;
    assert.throws(() => verifyChain(args({ publicKeySpki: otherSpki })), chainErr(/public key/));
    assert.throws(() => verifyChain(args({ now: Date.now() + 2 * 3_600_000 })), chainErr(/not now/));
    assert.throws(() => verifyChain(args({ leafDer: new Uint8Array([1, 2, 3]) })), chainErr(/not a DER certificate/));
  });
});
