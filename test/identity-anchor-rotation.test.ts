/**
 * The trust anchor replaced under traffic, with no restart of a proxy: `linnet control` on an
 * identity directory (leaves of 3 s so proxies renew every ~2 s), three proxy identity clients,
 * and mTLS handshakes between two of them every 50 ms with exactly the options the proxy's TLS
 * store uses (TLS 1.3, both sides verify against the anchors the client holds now). The
 * rotation is interrupted after its first step and the control plane restarted; the rerun
 * resumes. A proxy started during the overlap trusts both anchors. At the end every proxy holds
 * the new anchor only, every leaf chains to it, no handshake failed, and a proxy that kept only
 * the old anchor is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { parseControlArgs, startControl, type RunningControl } from '../control/control-command';
import { rotateAnchor } from '../control/identity/rotate-anchor';
import { dirStore } from '../control/identity/store';
import { createLogger } from '../core/log';
import { createIdentityClient, type IdentityClient, type IdentityMaterial } from '../proxy/identity/client';
import { DB, WEB, linnetCa, tempDir } from './identity/helpers';
import { Registry } from '../proxy/metrics/registry';

const API = 'api.demo.serviceaccount.identity.linnet.cluster.local';
const silent = createLogger('error', 'test', () => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One mTLS handshake, server = `srv`'s material, client = `cli`'s; resolves with the error if any. */
function handshake(srv: IdentityMaterial, cli: IdentityMaterial): Promise<string | undefined> {
  const opts = (m: IdentityMaterial) => ({ key: m.keyPem, cert: m.certChainPem, ca: m.trustAnchorsPem, minVersion: 'TLSv1.3' as const, maxVersion: 'TLSv1.3' as const });
  return new Promise((resolve) => {
    const server = tls.createServer({ ...opts(srv), requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
    let serverErr: string | undefined;
    server.on('tlsClientError', (e) => (serverErr = `server: ${e.message}`));
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      const c = tls.connect({ ...opts(cli), host: '127.0.0.1', port, servername: srv.localName, checkServerIdentity: (_h, cert) => tls.checkServerIdentity(srv.localName, cert) });
      let got = '';
      c.on('data', (d: Buffer) => (got += d.toString()));
      const done = (err?: string) => {
        c.destroy();
        server.close();
        resolve(err);
      };
      c.on('end', () => done(got === 'ok' ? undefined : serverErr ?? `no answer (${got})`));
      c.on('error', (e) => done(serverErr ?? `client: ${e.message}`));
    });
  });
}

const t = tempDir('idanchor');
let control: RunningControl;
let identityPort = 0;
let adminPort = 0;
const clients: IdentityClient[] = [];
const start = async () => {
  const o = parseControlArgs([
    '--discovery-file', join(t.dir, 'mesh.yaml'), '--identity-dir', join(t.dir, 'id'),
    '--destination-addr', '127.0.0.1:0', '--identity-addr', `127.0.0.1:${identityPort}`, '--admin-addr', `127.0.0.1:${adminPort}`,
    '--identity-issuance-lifetime', '3s', '--identity-poll', '100ms', '--log', 'error',
  ]);
  control = await startControl(o, silent);
  identityPort = control.identityPort!;
  adminPort = control.adminPort;
};
const proxy = (name: string, anchorsPem: string) => {
  writeFileSync(join(t.dir, `${name}.token`), `${name}-token`);
  const c = createIdentityClient({ svcAddr: `127.0.0.1:${identityPort}`, localName: name, tokenFile: join(t.dir, `${name}.token`), trustAnchorsPem: anchorsPem, minRefreshMs: 200, maxRefreshMs: 60_000, registry: new Registry(), log: silent });
  clients.push(c);
  return c;
};

before(async () => {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(t.dir, 'id'));
  await linnetCa(join(t.dir, 'id'));
  writeFileSync(join(t.dir, 'mesh.yaml'), `services: []\nworkloads:\n${[WEB, DB, API].map((i) => `  - identity: ${i}\n    token: "${i}-token"\n`).join('')}`);
  await start();
});
after(async () => {
  for (const c of clients) c.close();
  await control?.stop();
  t.remove();
});

describe('linnet identity rotate-anchor', () => {
  it('replaces the anchor under continuous mTLS with no failed handshake, resuming after an interruption and a control-plane restart', async () => {
    const oldAnchorPem = readFileSync(join(t.dir, 'id', 'ca.crt'), 'utf8');
    const web = proxy(WEB, oldAnchorPem);
    const db = proxy(DB, oldAnchorPem);
    await Promise.all([web.ready(), db.ready()]);
    const store = dirStore(join(t.dir, 'id'));
    const lines: string[] = [];
    const base = { store, controlAdmin: [`127.0.0.1:${adminPort}`], trustDomain: 'cluster.local', controlNamespace: 'linnet', anchorLifetimeMs: 365 * 86_400_000, pollMs: 100, out: (l: string) => lines.push(l) };

    const planned = await rotateAnchor({ ...base, dryRun: true });
    assert.equal(planned, 'planned');
    assert.equal(readFileSync(join(t.dir, 'id', 'ca.crt'), 'utf8'), oldAnchorPem, '--dry-run changes nothing');
    assert.ok(lines.some((l) => /\[3\/5\] issue an issuer under the new anchor/.test(l)), lines.join('\n'));

    // Traffic: a handshake each way every 50 ms with whatever each proxy holds at that moment.
    let stop = false;
    const failures: string[] = [];
    let handshakes = 0;
    const traffic = (async () => {
      while (!stop) {
        for (const [s, c] of [[db, web], [web, db]] as const) {
          const err = await handshake(s.current()!, c.current()!);
          handshakes++;
          if (err) failures.push(err);
        }
        await sleep(50);
      }
    })();

    try {
      // Interrupted at the first wait (a timeout of nothing), then the control plane restarted.
      await assert.rejects(rotateAnchor({ ...base, dryRun: false, timeoutMs: 0 }), /LINNET_IDENTITY_ROTATION_BLOCKED|gave up waiting/);
      assert.equal(new X509Certificate(readFileSync(join(t.dir, 'id', 'ca.crt'))).fingerprint256, new X509Certificate(oldAnchorPem).fingerprint256);
      assert.equal((readFileSync(join(t.dir, 'id', 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'step 1 done: old + new in the bundle');
      await control.stop();
      await sleep(300);
      await start();
      // A proxy started now (the injector hands it the bundle file) trusts both anchors.
      const api = proxy(API, readFileSync(join(t.dir, 'id', 'ca.crt'), 'utf8'));
      const apiM = await api.ready();
      assert.equal((apiM.trustAnchorsPem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);

      lines.length = 0;
      const result = await rotateAnchor({ ...base, dryRun: false, timeoutMs: 120_000 });
      assert.equal(result, 'finished');
      assert.match(lines[0]!, /^resuming the rotation/);
      for (const n of [2, 3, 4, 5]) assert.ok(lines.some((l) => l.startsWith(`[${n}/5]`)), `step ${n} shown: ${lines.join('\n')}`);
      assert.ok(lines.some((l) => /restarted since/.test(l)), 'the restart made a wait count a leaf lifetime');

      // Every proxy renews once more, then: the new anchor only, and leaves chaining to it.
      const newAnchor = new X509Certificate(readFileSync(join(t.dir, 'id', 'ca.crt')));
      assert.equal((readFileSync(join(t.dir, 'id', 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
      assert.notEqual(newAnchor.fingerprint256, new X509Certificate(oldAnchorPem).fingerprint256);
      await sleep(3500);
      stop = true;
      await traffic;
      for (const c of [web, db, api]) {
        const m = c.current()!;
        const anchors = (m.trustAnchorsPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
        assert.deepEqual(anchors.map((a) => a.fingerprint256), [newAnchor.fingerprint256], `${m.localName} trusts the new anchor only`);
        assert.ok(new X509Certificate(m.intermediatesDer[0]!).verify(newAnchor.publicKey), `${m.localName}'s leaf chains to the new anchor`);
      }
      assert.ok(handshakes > 50, `traffic ran (${handshakes} handshakes)`);
      assert.deepEqual(failures, [], `${failures.length} of ${handshakes} handshakes failed`);
    } finally {
      stop = true; // a failed assertion must not leave the traffic loop holding the test open
      await traffic;
    }
    // A proxy that never took the new bundle is refused now: verification uses the bundle live.
    const stale = { ...web.current()!, trustAnchorsPem: oldAnchorPem };
    assert.ok(await handshake(db.current()!, stale), 'a client trusting only the old anchor cannot verify the server');
    assert.equal(await store.readRotation(), undefined, 'the record is gone when done');
    // linnet check against the running control plane: all current, nobody on the old anchor.
    // (spawned, not spawnSync: the control plane serving the check lives in this process)
    const { execFile } = await import('node:child_process');
    const chk = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [join(__dirname, '..', '..', 'bin', 'linnet'), 'check', '--control', `127.0.0.1:${adminPort}`], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: join(t.dir, 'none') } }, (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    assert.equal(chk.status, 0, chk.stdout + chk.stderr);
    assert.match(chk.stdout, /√ issuer is rotated in time \(\d+\.\d day\(s\) left\)/);
    assert.match(chk.stdout, /√ every proxy trusts the anchor in use/);
    assert.match(chk.stdout, /√ trust anchor in use is valid for at least 60 days \(36[45]\.\d day\(s\) left\)/);
    process.stdout.write(`# handshakes ${handshakes}, failed ${failures.length}\n`);
  });
});
