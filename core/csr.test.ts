/**
 * The proxy's hand-written CSR, read back by independent parsers: OpenSSL (`openssl req -verify`)
 * and @peculiar/x509, the library the control plane's CA parses CSRs with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { ecdsaCsr } from './csr';
import { x509 } from './x509';

const haveOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
const NAMES = [
  'web.demo.serviceaccount.identity.linnet.cluster.local',
  // Past 127 bytes: the DER long-form lengths.
  `${'a'.repeat(60)}.${'b'.repeat(60)}.serviceaccount.identity.linnet.cluster.local`,
];

for (const name of NAMES) {
  test(`a CSR for ${name.length} bytes of name verifies and carries CN and the DNS SAN`, { skip: haveOpenssl ? false : 'openssl not installed (bash .ci/setup-debian)' }, async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = ecdsaCsr(name, privateKey, publicKey.export({ type: 'spki', format: 'der' }));
    const r = spawnSync('openssl', ['req', '-inform', 'DER', '-verify', '-noout', '-text'], { input: der, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /verify OK/);
    assert.match(r.stdout, new RegExp(`Subject: CN\\s?=\\s?${name.replace(/\./g, '\\.')}`));
    assert.match(r.stdout, new RegExp(`DNS:${name.replace(/\./g, '\\.')}`));
    assert.match(r.stdout, /ecdsa-with-SHA256/);
    const csr = new x509.Pkcs10CertificateRequest(der);
    assert.equal(await csr.verify(), true);
    assert.equal(csr.subject, `CN=${name}`);
    const san = csr.extensions.find((e) => e.type === '2.5.29.17');
    assert.ok(san);
    assert.deepEqual(new x509.SubjectAlternativeNameExtension(san.rawData).names.toJSON(), [{ type: 'dns', value: name }]);
    // A CSR signed by another key does not verify: the signature covers what it should.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = ecdsaCsr(name, other.privateKey, publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(await new x509.Pkcs10CertificateRequest(forged).verify(), false);
  });
}

test('a name that is not DNS-like is refused before anything is signed', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  for (const bad of ['', 'a b', 'naïve.example']) assert.throws(() => ecdsaCsr(bad, privateKey, spki), RangeError);
});
