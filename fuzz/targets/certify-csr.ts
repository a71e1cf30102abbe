/**
 * Fuzz target for the Certify request check (control/identity/csr.ts `checkCsr`). One input is a
 * DER certificate signing request; the identity asked for is fixed. Seeds are real CSRs, right
 * and subtly wrong (fuzz/corpus/certify-csr/, made by `makeCsrSeeds` below). A CSR the check
 * accepts is cross-examined by openssl (a second, independent parser): if openssl does not see
 * exactly one DER request, a good self-signature, a P-256 key and one DNS name equal to the
 * identity, the acceptance is a finding.
 */
import { spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { checkCsr } from '../../control/identity/csr';
import { x509 } from '../../control/identity/keys';
import { inputHash } from '../corpus';
import { refusalOrValueAsync, violations, type Fail } from '../target';

export const name = 'certify-csr';
export const IDENTITY = 'web.demo.serviceaccount.identity.linnet.cluster.local';
export const properties = [
  'typed-errors: checkCsr resolves or rejects with IdentityError LINNET_IDENTITY_CSR_INVALID / _SAN_MISMATCH',
  'exact-der: an accepted input is exactly one DER SEQUENCE, no byte before or after',
  'openssl-agrees: openssl reads an accepted CSR as self-signed OK, key prime256v1, SANs exactly DNS:<identity>',
];
const fail: Fail = violations(name);
const CODES = ['LINNET_IDENTITY_CSR_INVALID', 'LINNET_IDENTITY_CSR_SAN_MISMATCH'];

/** Length of the DER TLV at the start of `b` (definite lengths only), or -1. Written again on purpose: the oracle must not share the code it checks (control/identity/csr.ts). */
export function derLength(b: Buffer): number {
  if (b.length < 2) return -1;
  const first = b[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

// openssl is only asked about accepted inputs, and each distinct one once.
const opensslSeen = new Map<string, string | undefined>();

function opensslProblem(der: Buffer, identity: string): string | undefined {
  const key = inputHash(der);
  if (opensslSeen.has(key)) return opensslSeen.get(key);
  const r = spawnSync('openssl', ['req', '-inform', 'DER', '-noout', '-verify', '-text'], { input: der, encoding: 'latin1' });
  let problem: string | undefined;
  const all = `${r.stdout}\n${r.stderr}`;
  if (r.error) problem = `openssl could not run: ${r.error.message}`;
  else if (r.status !== 0) problem = `openssl refuses it: ${r.stderr.trim().split('\n')[0]}`;
  else if (!/verify OK/.test(all)) problem = 'openssl: self-signature does not verify';
  else if (!/ASN1 OID: prime256v1/.test(r.stdout)) problem = 'openssl: key is not prime256v1';
  else {
    const m = /X509v3 Subject Alternative Name:.*\n\s*(.*)\n/.exec(r.stdout);
    const sans = (r.stdout.match(/X509v3 Subject Alternative Name/g) ?? []).length;
    if (sans !== 1 || !m) problem = `openssl sees ${sans} SAN extensions`;
    else if (m[1]!.trim().toLowerCase() !== `dns:${identity}`) problem = `openssl sees SANs ${JSON.stringify(m[1]!.trim())}`;
  }
  opensslSeen.set(key, problem);
  return problem;
}

export async function run(input: Buffer): Promise<void> {
  const r = await refusalOrValueAsync(fail, 'checkCsr', CODES, () => checkCsr(new Uint8Array(input), IDENTITY));
  if (!r.ok) return;
  if (input[0] !== 0x30 || derLength(input) !== input.length) fail('exact-der', `accepted ${input.length} bytes whose DER element is ${derLength(input)} bytes`);
  const p = opensslProblem(input, IDENTITY);
  if (p) fail('openssl-agrees', `checkCsr accepted a CSR that ${p}`);
}

/** Seeds: the right CSR and near misses (names, key kinds, extension shapes). */
export async function makeCsrSeeds(): Promise<Record<string, Buffer>> {
  const algs = {
    p256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
    p384: { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
    rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
  } as const;
  const make = async (
    names: { type: 'dns' | 'ip' | 'url' | 'email'; value: string }[][],
    alg: keyof typeof algs = 'p256',
    subject = 'CN=web',
  ): Promise<Buffer> => {
    const a = algs[alg];
    const keys = await webcrypto.subtle.generateKey(a as never, false, ['sign', 'verify']);
    const r = await x509.Pkcs10CertificateRequestGenerator.create({
      name: subject,
      keys: keys as never,
      signingAlgorithm: a as never,
      extensions: names.map((n) => new x509.SubjectAlternativeNameExtension(n)),
    });
    return Buffer.from(r.rawData);
  };
  const dns = (v: string) => ({ type: 'dns' as const, value: v });
  return {
    'good.der': await make([[dns(IDENTITY)]]),
    'good-upper.der': await make([[dns(IDENTITY.toUpperCase())]]),
    'good-cn-identity.der': await make([[dns(IDENTITY)]], 'p256', `CN=${IDENTITY}`),
    'two-dns.der': await make([[dns(IDENTITY), dns('other.demo.serviceaccount.identity.linnet.cluster.local')]]),
    'two-san-extensions.der': await make([[dns(IDENTITY)], [dns('admin.kube-system.serviceaccount.identity.linnet.cluster.local')]]),
    'uri-san.der': await make([[{ type: 'url', value: `spiffe://cluster.local/ns/demo/sa/web` }]]),
    'ip-san.der': await make([[{ type: 'ip', value: '10.0.0.1' }]]),
    'no-san.der': await make([]),
    'other-identity.der': await make([[dns('admin.kube-system.serviceaccount.identity.linnet.cluster.local')]]),
    'identity-trailing-dot.der': await make([[dns(IDENTITY + '.')]]),
    'p384.der': await make([[dns(IDENTITY)]], 'p384'),
    'rsa.der': await make([[dns(IDENTITY)]], 'rsa'),
  };
}

export const dictionary = [
  Buffer.from([0x30, 0x82]), Buffer.from([0x30, 0x81]), Buffer.from([0x30, 0x00]), Buffer.from([0xa0, 0x00]), Buffer.from([0x82]),
  Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x11]), Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
  Buffer.from([0x00]), Buffer.from([0x05, 0x00]), 'web', 'demo', '.', 'cluster.local', IDENTITY,
];

const target = { name, properties, run, dictionary, maxInputBytes: 8 * 1024 };
export default target;
