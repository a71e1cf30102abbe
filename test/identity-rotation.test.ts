/**
 * The issuer changing under a running CA, over real gRPC on loopback: the CA makes its own
 * issuer at a third of the life left when ca.key is in the identity directory; without it, a new
 * issuer written into the directory is taken live on the next poll (no restart); and each kind of
 * bad input is refused with a message naming the file and the check while the CA keeps signing
 * with what it had. Leaves carry the trust bundle (CertifyResponse.trust_anchors).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { StaticTokenVerifier } from '../control/identity/token-verifier';
import { createCa, createIssuer } from '../control/identity/ca';
import { derToPem } from '../control/identity/keys';
import type { LinnetError } from '../core/errors';
import { CONTROL_NS, TRUST_DOMAIN, WEB, certify, linnetCa, makeCsr, opensslVerify, quietLog, serveIdentity, tempDir, type Running } from './identity/helpers';

const tokens = () => new StaticTokenVerifier([{ identity: WEB, token: 'web-secret' }]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function leafIssuer(srv: Running): Promise<{ issuer: X509Certificate; leafPem: string; anchors: X509Certificate[] }> {
  const { err, res } = await certify(srv.client, { identity: WEB, token: 'web-secret', csr: await makeCsr([WEB]) });
  assert.equal(err, null, err?.details);
  return {
    issuer: new X509Certificate(res!.intermediate_certificates[0]!),
    leafPem: derToPem(res!.leaf_certificate),
    anchors: (res!.trust_anchors ?? []).map((d) => new X509Certificate(d)),
  };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('the issuer rotates itself with the anchor key at hand', () => {
  it('makes a new issuer at a third of its life left, writes it to the directory, and signs with it; old leaves stay valid', async () => {
    const t = tempDir('idrot');
    const log: string[] = [];
    const registry = new Registry();
    let srv: Running | undefined;
    try {
      await linnetCa(t.dir, { issuerLifetimeMs: 9_000 });
      const firstIssuerPem = readFileSync(join(t.dir, 'issuer.crt'), 'utf8');
      srv = await serveIdentity({ identityDir: t.dir, trustDomain: TRUST_DOMAIN, controlNamespace: CONTROL_NS, tokens: tokens(), log: quietLog(log), registry, pollMs: 200, issuerLifetimeMs: 60_000 });
      const before = await leafIssuer(srv);
      assert.equal(before.issuer.toString(), new X509Certificate(firstIssuerPem).toString());
      assert.equal(before.anchors.length, 1, 'the bundle comes with the certificate');
      // 9 s (backdated by a tenth, whole seconds): rotates about 6 s after it was made.
      await until('a rotation', () => srv!.svc.manager.current().issuer.serialNumber !== before.issuer.serialNumber, 10_000);
      const onDisk = new X509Certificate(readFileSync(join(t.dir, 'issuer.crt')));
      assert.equal(onDisk.serialNumber, srv.svc.manager.current().issuer.serialNumber, 'written to the directory');
      const after = await leafIssuer(srv);
      assert.equal(after.issuer.serialNumber, onDisk.serialNumber, 'new leaves are signed by the new issuer');
      assert.ok(opensslVerify(t.dir, after.leafPem).ok, 'the new leaf chains to the same anchor');
      // The leaf signed by the old issuer still verifies against the anchor with its own issuer.
      writeFileSync(join(t.dir, 'old-issuer.crt'), firstIssuerPem);
      writeFileSync(join(t.dir, 'old-leaf.crt'), before.leafPem);
      const { spawnSync } = await import('node:child_process');
      const v = spawnSync('openssl', ['verify', '-CAfile', join(t.dir, 'ca.crt'), '-untrusted', join(t.dir, 'old-issuer.crt'), join(t.dir, 'old-leaf.crt')], { encoding: 'utf8' });
      assert.equal(v.status, 0, v.stderr);
      const text = await registry.metrics();
      assert.match(text, /identity_issuer_updates_total\{reason="rotated"\} [1-9]/);
      assert.match(text, /identity_ca_days_left\{cert="issuer"\} 0/);
      assert.ok(log.some((l) => /issuer rotated: now signing with .* day\(s\) left/.test(l)), log.join('\n'));
    } finally {
      await srv?.stop();
      t.remove();
    }
  });
});

describe('without the anchor key: a new issuer from outside is taken live, bad input is refused', () => {
  it('takes a new issuer written into the directory without a restart, and refuses four kinds of bad input by name', async () => {
    const t = tempDir('idreload');
    const log: string[] = [];
    const registry = new Registry();
    let srv: Running | undefined;
    try {
      await linnetCa(t.dir);
      const anchorPem = readFileSync(join(t.dir, 'ca.crt'), 'utf8');
      const anchorKeyPem = readFileSync(join(t.dir, 'ca.key'), 'utf8');
      rmSync(join(t.dir, 'ca.key')); // an offline root
      srv = await serveIdentity({ identityDir: t.dir, trustDomain: TRUST_DOMAIN, controlNamespace: CONTROL_NS, tokens: tokens(), log: quietLog(log), registry, pollMs: 100 });
      const refusals: LinnetError[] = [];
      srv.svc.manager.on('refused', (e) => refusals.push(e));
      const first = await leafIssuer(srv);

      // A new issuer from the offline root: taken on the next poll.
      const next = await createIssuer(anchorPem, anchorKeyPem, { issuerLifetimeMs: 30 * 86_400_000 });
      writeFileSync(join(t.dir, 'issuer.key'), next.issuerKeyPem);
      writeFileSync(join(t.dir, 'issuer.crt'), next.issuerPem);
      const nextSerial = new X509Certificate(next.issuerPem).serialNumber;
      await until('the new issuer', () => srv!.svc.manager.current().issuer.serialNumber === nextSerial);
      assert.notEqual(nextSerial, first.issuer.serialNumber);
      assert.equal((await leafIssuer(srv)).issuer.serialNumber, nextSerial);
      assert.match(await registry.metrics(), /identity_issuer_updates_total\{reason="reloaded"\} 1/);

      const good = { crt: next.issuerPem, key: next.issuerKeyPem, ca: anchorPem };
      const restore = () => {
        writeFileSync(join(t.dir, 'ca.crt'), good.ca);
        writeFileSync(join(t.dir, 'issuer.key'), good.key);
        writeFileSync(join(t.dir, 'issuer.crt'), good.crt);
      };
      const foreign = await createCa();
      const expired = await createIssuer(anchorPem, anchorKeyPem, { now: Date.now() - 3 * 86_400_000, issuerLifetimeMs: 86_400_000 });
      const cases: { name: string; write: () => void; code: string; file: string; check: RegExp }[] = [
        { name: 'a bundle without the anchor that signed the current issuer', write: () => writeFileSync(join(t.dir, 'ca.crt'), foreign.anchorPem), code: 'LINNET_IDENTITY_BUNDLE_INCOMPLETE', file: 'ca.crt', check: /the bundle holds the anchor that signed the current issuer/ },
        { name: 'an issuer not signed by any anchor in the bundle', write: () => { writeFileSync(join(t.dir, 'issuer.key'), foreign.issuerKeyPem); writeFileSync(join(t.dir, 'issuer.crt'), foreign.issuerPem); }, code: 'LINNET_IDENTITY_ISSUER_UNTRUSTED', file: 'issuer.crt', check: /the issuer is signed by an anchor in the bundle/ },
        { name: 'a key that does not match its certificate', write: () => writeFileSync(join(t.dir, 'issuer.key'), foreign.issuerKeyPem), code: 'LINNET_IDENTITY_KEY_MISMATCH', file: 'issuer.key', check: /the issuer key belongs to the issuer certificate/ },
        { name: 'an expired issuer', write: () => { writeFileSync(join(t.dir, 'issuer.key'), expired.issuerKeyPem); writeFileSync(join(t.dir, 'issuer.crt'), expired.issuerPem); }, code: 'LINNET_IDENTITY_ISSUER_EXPIRED', file: 'issuer.crt', check: /the issuer has not expired/ },
      ];
      for (const c of cases) {
        const n = refusals.length;
        c.write();
        await until(`a refusal of ${c.name}`, () => refusals.length > n);
        const e = refusals[refusals.length - 1]!;
        assert.equal(e.code, c.code, `${c.name}: ${e.message}`);
        assert.ok(e.message.includes(`refused ${join(t.dir, c.file)}`), `${c.name} names the file: ${e.message}`);
        assert.match(e.message, c.check, `${c.name} names the check`);
        assert.equal(srv.svc.manager.current().issuer.serialNumber, nextSerial, `${c.name}: the running issuer is kept`);
        assert.equal((await leafIssuer(srv)).issuer.serialNumber, nextSerial, `${c.name}: still signing`);
        restore();
        await sleep(250);
      }
      assert.ok(log.some((l) => /^warn LINNET_IDENTITY_KEY_MISMATCH: refused .*issuer\.key.*still signing with/.test(l)), log.join('\n'));
      // Each refusal is counted once. Two-file cases (key, then certificate) and their restore can
      // be polled between the writes, a real half-written pair refused as a key mismatch: so at
      // least the four cases, and exactly what the manager reported.
      assert.ok(refusals.length >= cases.length, `${refusals.length} refusals`);
      assert.match(await registry.metrics(), new RegExp(`identity_issuer_refused_total ${refusals.length}\n`));
    } finally {
      await srv?.stop();
      t.remove();
    }
  });
});
