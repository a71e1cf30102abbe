/**
 * The identity CA end to end: `linnet identity create` output, the Identity.Certify gRPC
 * service over a real socket, every refusal with its status, validity window and clamping,
 * `openssl verify` of issued leaves, and anchors/issuers made by openssl (ECDSA and RSA).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { StaticTokenVerifier } from '../control/identity/token-verifier';
import { loadIssuer } from '../control/identity/ca';
import { derToPem } from '../control/identity/keys';
import { IdentityError } from '../control/identity/errors';
import {
  CONTROL_NS, TRUST_DOMAIN, WEB, DB, certify, linnetCa, makeCsr, opensslCa, opensslVerify, quietLog, serveIdentity, tempDir, type Running,
} from './identity/helpers';

const LINNET = join(__dirname, '..', '..', 'bin', 'linnet');
const tokens = () => new StaticTokenVerifier([
  { identity: WEB, token: 'web-secret' },
  { identity: DB, token: 'db-secret' },
]);
const base = (identityDir: string, log: string[] = []) => ({
  identityDir, trustDomain: TRUST_DOMAIN, controlNamespace: CONTROL_NS, tokens: tokens(), log: quietLog(log),
});

describe('linnet identity create', () => {
  it('writes an ECDSA P-256 anchor and issuer that chain, with private keys mode 0600', () => {
    const t = tempDir('idcreate');
    try {
      const out = join(t.dir, 'ca');
      const r = spawnSync(process.execPath, [LINNET, 'identity', 'create', '--out', out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const anchor = new X509Certificate(readFileSync(join(out, 'ca.crt')));
      const issuer = new X509Certificate(readFileSync(join(out, 'issuer.crt')));
      assert.equal(anchor.ca, true);
      assert.equal(issuer.ca, true);
      assert.equal(anchor.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.equal(issuer.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(issuer.checkIssued(anchor) && issuer.verify(anchor.publicKey), 'issuer signed by anchor');
      // Keys belong to their certificates.
      for (const [crt, key] of [[anchor, 'ca.key'], [issuer, 'issuer.key']] as const) {
        const pub = createPublicKey(createPrivateKey(readFileSync(join(out, key))));
        assert.ok(crt.publicKey.equals(pub), `${key} matches`);
        assert.equal(statSync(join(out, key)).mode & 0o777, 0o600);
      }
      // Lifetimes: anchor ~1 year, issuer ~7 days (control makes the next one: ca.key is there).
      const days = (c: X509Certificate) => (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000;
      assert.ok(Math.abs(days(anchor) - 365) < 0.01, `anchor ${days(anchor)}d`);
      assert.ok(Math.abs(days(issuer) - 7) < 0.01, `issuer ${days(issuer)}d`);
      assert.match(spawnSync('openssl', ['verify', '-CAfile', join(out, 'ca.crt'), join(out, 'issuer.crt')], { encoding: 'utf8' }).stdout, /OK/);
      // A second run refuses to overwrite.
      const again = spawnSync(process.execPath, [LINNET, 'identity', 'create', '--out', out], { encoding: 'utf8' });
      assert.equal(again.status, 1);
      assert.match(again.stderr, /LINNET_IDENTITY_OUTPUT_EXISTS/);
    } finally {
      t.remove();
    }
  });
});

describe('Identity.Certify over gRPC (Linnet-made CA)', () => {
  let t: ReturnType<typeof tempDir>;
  let srv: Running;
  const log: string[] = [];
  before(async () => {
    t = tempDir('idsvc');
    await linnetCa(t.dir);
    srv = await serveIdentity(base(t.dir, log));
  });
  after(async () => {
    await srv?.stop();
    t?.remove();
  });

  it('issues a 24h leaf with SAN = identity, both EKUs, from now-20s, that openssl verifies', async () => {
    const before = Date.now();
    const { err, res } = await certify(srv.client, { identity: WEB, token: 'web-secret', csr: await makeCsr([WEB]) });
    assert.equal(err, null, err?.details);
    const leaf = new X509Certificate(res!.leaf_certificate);
    assert.equal(leaf.subjectAltName, `DNS:${WEB}`);
    assert.equal(leaf.ca, false);
    assert.deepEqual([...(leaf.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const nb = Date.parse(leaf.validFrom);
    const na = Date.parse(leaf.validTo);
    assert.ok(Math.abs(nb - (before - 20_000)) < 3_000, `notBefore ${leaf.validFrom}`);
    assert.ok(Math.abs(na - (before + 24 * 3_600_000)) < 3_000, `notAfter ${leaf.validTo}`);
    assert.equal(Number(res!.valid_until!.seconds) * 1000, na);
    assert.equal(res!.intermediate_certificates.length, 1);
    const issuer = new X509Certificate(res!.intermediate_certificates[0]!);
    assert.ok(leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey));
    for (const purpose of [undefined, 'sslserver', 'sslclient'] as const) {
      const v = opensslVerify(t.dir, derToPem(res!.leaf_certificate), purpose);
      assert.ok(v.ok, `openssl verify ${purpose ?? ''}: ${v.output}`);
    }
    assert.ok(log.some((l) => l.includes(`issued a certificate for ${WEB}`)));
  });

  it('does not verify with a different anchor (the openssl check can fail)', async () => {
    const other = tempDir('idother');
    try {
      await linnetCa(other.dir);
      const { res } = await certify(srv.client, { identity: WEB, token: 'web-secret', csr: await makeCsr([WEB]) });
      const v = opensslVerify(other.dir, derToPem(res!.leaf_certificate));
      assert.equal(v.ok, false);
    } finally {
      other.remove();
    }
  });

  const refusals: { name: string; req: () => Promise<{ identity?: string; token?: string; csr?: Buffer }>; code: grpc.status; msg: RegExp }[] = [
    { name: 'wrong token', req: async () => ({ identity: WEB, token: 'db-secret', csr: await makeCsr([WEB]) }), code: grpc.status.UNAUTHENTICATED, msg: /TOKEN_INVALID.*does not prove/ },
    { name: 'missing token', req: async () => ({ identity: WEB, token: '', csr: await makeCsr([WEB]) }), code: grpc.status.UNAUTHENTICATED, msg: /TOKEN_MISSING.*no token/ },
    { name: 'unknown identity', req: async () => ({ identity: 'x.demo.serviceaccount.identity.linnet.cluster.local', token: 'web-secret', csr: await makeCsr(['x.demo.serviceaccount.identity.linnet.cluster.local']) }), code: grpc.status.UNAUTHENTICATED, msg: /TOKEN_INVALID/ },
    { name: 'two SANs', req: async () => ({ identity: WEB, token: 'web-secret', csr: await makeCsr([WEB, DB]) }), code: grpc.status.INVALID_ARGUMENT, msg: /SAN_MISMATCH.*2 subject alternative names.*exactly one/ },
    { name: 'a DNS and an IP SAN', req: async () => ({ identity: WEB, token: 'web-secret', csr: await makeCsr([WEB], { ipSan: '10.0.0.1' }) }), code: grpc.status.INVALID_ARGUMENT, msg: /SAN_MISMATCH.*exactly one/ },
    { name: 'no SAN', req: async () => ({ identity: WEB, token: 'web-secret', csr: await makeCsr([]) }), code: grpc.status.INVALID_ARGUMENT, msg: /SAN_MISMATCH.*0 subject/ },
    { name: 'SAN mismatch', req: async () => ({ identity: WEB, token: 'web-secret', csr: await makeCsr([DB]) }), code: grpc.status.INVALID_ARGUMENT, msg: /SAN_MISMATCH.*does not equal the requested identity/ },
    { name: 'garbage CSR', req: async () => ({ identity: WEB, token: 'web-secret', csr: Buffer.from('not a csr at all') }), code: grpc.status.INVALID_ARGUMENT, msg: /CSR_INVALID.*not a DER-encoded PKCS#10/ },
    { name: 'empty CSR', req: async () => ({ identity: WEB, token: 'web-secret' }), code: grpc.status.INVALID_ARGUMENT, msg: /CSR_INVALID.*empty/ },
    { name: 'PEM instead of DER', req: async () => ({ identity: WEB, token: 'web-secret', csr: Buffer.from(derToPem(await makeCsr([WEB]), 'CERTIFICATE REQUEST')) }), code: grpc.status.INVALID_ARGUMENT, msg: /CSR_INVALID/ },
    { name: 'RSA leaf key', req: async () => ({ identity: WEB, token: 'web-secret', csr: await makeCsr([WEB], { alg: 'rsa' }) }), code: grpc.status.INVALID_ARGUMENT, msg: /CSR_INVALID.*ECDSA P-256/ },
    { name: 'foreign trust domain', req: async () => ({ identity: 'web.demo.serviceaccount.identity.linnet.example.org', token: 'web-secret', csr: await makeCsr([WEB]) }), code: grpc.status.INVALID_ARGUMENT, msg: /NAME_INVALID/ },
    { name: 'no identity', req: async () => ({ identity: '', token: 'web-secret', csr: await makeCsr([WEB]) }), code: grpc.status.INVALID_ARGUMENT, msg: /NAME_INVALID.*names no identity/ },
  ];
  for (const r of refusals) {
    it(`refuses: ${r.name}`, async () => {
      const { err, res } = await certify(srv.client, await r.req());
      assert.ok(err, `expected a refusal, got ${res ? 'a certificate' : 'nothing'}`);
      assert.equal(err.code, r.code, `${grpc.status[err.code]}: ${err.details}`);
      assert.match(err.details, r.msg);
    });
  }

  it('serves a burst of 40 concurrent requests through the signing worker, each leaf unique', async () => {
    const csrs = await Promise.all(Array.from({ length: 40 }, () => makeCsr([WEB])));
    const results = await Promise.all(csrs.map((csr) => certify(srv.client, { identity: WEB, token: 'web-secret', csr })));
    const serials = new Set<string>();
    for (const { err, res } of results) {
      assert.equal(err, null, err?.details);
      serials.add(new X509Certificate(res!.leaf_certificate).serialNumber);
    }
    assert.equal(serials.size, 40);
  });

  it('a tampered CSR (signature no longer matches) is refused', async () => {
    const csr = await makeCsr([WEB]);
    csr[csr.length - 5] ^= 0xff; // inside the signature
    const { err } = await certify(srv.client, { identity: WEB, token: 'web-secret', csr });
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err!.details, /CSR_INVALID/);
  });
});

describe('leaf validity clamping and CA expiry warnings', () => {
  it('clamps the leaf to an issuer expiring in 1h, and warns (log + metric) for it', async () => {
    const t = tempDir('idclamp');
    const log: string[] = [];
    const registry = new Registry();
    let srv: Running | undefined;
    try {
      // Made 23 h ago to last 24 h: an hour left, well past the point where a rotation is
      // overdue (a quarter of its life). No ca.key: nothing rotates it, so the warning stands.
      await linnetCa(t.dir, { now: Date.now() - 23 * 3_600_000, issuerLifetimeMs: 24 * 3_600_000 });
      rmSync(join(t.dir, 'ca.key'));
      srv = await serveIdentity({ ...base(t.dir, log), registry });
      const { err, res } = await certify(srv.client, { identity: WEB, token: 'web-secret', csr: await makeCsr([WEB]) });
      assert.equal(err, null, err?.details);
      const leaf = new X509Certificate(res!.leaf_certificate);
      const issuer = new X509Certificate(readFileSync(join(t.dir, 'issuer.crt')));
      assert.equal(leaf.validTo, issuer.validTo, 'leaf ends with its issuer');
      assert.ok(opensslVerify(t.dir, derToPem(res!.leaf_certificate)).ok);
      assert.ok(log.some((l) => /^warn identity issuer certificate .* expires in 0 day/.test(l)), log.join('\n'));
      const text = await registry.metrics();
      assert.match(text, /identity_issuer_expiry_warning\{cert="issuer"\} 1/);
      assert.match(text, /identity_issuer_expiry_warning\{cert="anchor"\} 0/);
      const expiry = Number(/identity_ca_expiration_timestamp_seconds\{cert="issuer"\} (\S+)/.exec(text)?.[1]);
      assert.equal(expiry * 1000, Date.parse(issuer.validTo));
    } finally {
      await srv?.stop();
      t.remove();
    }
  });

  it('honours a custom issuance lifetime and clock skew', async () => {
    const t = tempDir('idlife');
    let srv: Running | undefined;
    try {
      await linnetCa(t.dir);
      srv = await serveIdentity({ ...base(t.dir), issuanceLifetimeMs: 60_000, clockSkewMs: 5_000 });
      const now = Date.now();
      const { res } = await certify(srv.client, { identity: WEB, token: 'web-secret', csr: await makeCsr([WEB]) });
      const leaf = new X509Certificate(res!.leaf_certificate);
      assert.ok(Math.abs(Date.parse(leaf.validFrom) - (now - 5_000)) < 2_000);
      assert.ok(Math.abs(Date.parse(leaf.validTo) - (now + 60_000)) < 2_000);
    } finally {
      await srv?.stop();
      t.remove();
    }
  });

  it('refuses to start with an expired issuer, or one the anchor did not sign', async () => {
    const t = tempDir('idexp');
    const u = tempDir('idexp2');
    try {
      await linnetCa(t.dir, { now: Date.now() - 3 * 86_400_000, issuerLifetimeMs: 86_400_000 });
      await assert.rejects(loadIssuer(t.dir), (e: IdentityError) => e.code === 'LINNET_IDENTITY_ISSUER_EXPIRED');
      await linnetCa(u.dir);
      // Swap in a foreign anchor: the issuer no longer chains.
      spawnSync('cp', [join(t.dir, 'ca.crt'), join(u.dir, 'ca.crt')]);
      await assert.rejects(
        loadIssuer(u.dir),
        (e: IdentityError) => e.code === 'LINNET_IDENTITY_ISSUER_UNTRUSTED' && e.message.includes(join(u.dir, 'issuer.crt')) && /signed by none of the 1 anchor/.test(e.message),
      );
    } finally {
      t.remove();
      u.remove();
    }
  });
});

describe('anchors and issuers made with openssl', () => {
  for (const [anchor, issuer] of [['ec', 'ec'], ['rsa', 'ec'], ['rsa', 'rsa']] as const) {
    it(`${anchor.toUpperCase()} anchor + ${issuer.toUpperCase()} issuer: certify works and openssl verifies the leaf`, async () => {
      const t = tempDir(`idossl${anchor}${issuer}`);
      let srv: Running | undefined;
      try {
        opensslCa(t.dir, anchor, issuer);
        const anchorCert = new X509Certificate(readFileSync(join(t.dir, 'ca.crt')));
        assert.equal(anchorCert.publicKey.asymmetricKeyType, anchor);
        srv = await serveIdentity(base(t.dir));
        const { err, res } = await certify(srv.client, { identity: WEB, token: 'web-secret', csr: await makeCsr([WEB]) });
        assert.equal(err, null, err?.details);
        const v = opensslVerify(t.dir, derToPem(res!.leaf_certificate), 'sslserver');
        assert.ok(v.ok, v.output);
        // And refusals still hold with this CA.
        const bad = await certify(srv.client, { identity: WEB, token: 'nope', csr: await makeCsr([WEB]) });
        assert.equal(bad.err?.code, grpc.status.UNAUTHENTICATED);
      } finally {
        await srv?.stop();
        t.remove();
      }
    });
  }
});
