/**
 * The proxy's identity client against the real Identity service over gRPC: first certificate,
 * renewal at 70% of a short lifetime, the material working for a real TLS 1.3 mTLS connection,
 * and an outage (server stopped, then restarted on the same port) survived on the old cert.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Registry } from '../proxy/metrics/registry';
import { StaticTokenVerifier } from '../control/identity/token-verifier';
import { identityServerCredentials } from '../control/identity/server-tls';
import { createIdentityClient, type IdentityClient, type IdentityMaterial } from '../proxy/identity/client';
import { createLogger } from '../core/log';
import type { LinnetError } from '../core/errors';
import { CONTROL_NS, TRUST_DOMAIN, WEB, DB, linnetCa, opensslVerify, quietLog, serveIdentity, tempDir, type Running } from './identity/helpers';

const silent = createLogger('error', 'identity', () => {});

function nextEvent<T extends unknown[]>(client: IdentityClient, event: 'rotated' | 'certify-failed', timeoutMs: number): Promise<T> {
  return Promise.race([
    once(client, event) as Promise<T>,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs}ms`)), timeoutMs).unref()),
  ]);
}

async function setup(tag: string, lifetimeMs: number) {
  const t = tempDir(tag);
  await linnetCa(t.dir);
  writeFileSync(join(t.dir, 'web.token'), 'web-secret\n');
  writeFileSync(join(t.dir, 'db.token'), 'db-secret');
  const opts = {
    identityDir: t.dir,
    trustDomain: TRUST_DOMAIN,
    controlNamespace: CONTROL_NS,
    tokens: new StaticTokenVerifier([{ identity: WEB, token: 'web-secret' }, { identity: DB, token: 'db-secret' }]),
    issuanceLifetimeMs: lifetimeMs,
    clockSkewMs: 0,
    log: quietLog(),
  };
  return { t, opts, anchors: readFileSync(join(t.dir, 'ca.crt'), 'utf8') };
}

describe('proxy identity client', () => {
  it('certifies, renews at 70% of a short lifetime, exports the expiry gauge', async () => {
    const { t, opts, anchors } = await setup('idcli', 3_000);
    const srv = await serveIdentity(opts);
    const registry = new Registry();
    const client = createIdentityClient({
      svcAddr: srv.addr, localName: WEB, tokenFile: join(t.dir, 'web.token'), trustAnchorsPem: anchors,
      minRefreshMs: 100, maxRefreshMs: 60_000, registry, log: silent,
    });
    try {
      const first = await client.ready();
      assert.equal(client.current(), first);
      assert.equal(first.localName, WEB);
      const lifetime = first.notAfter.getTime() - first.notBefore.getTime();
      assert.ok(lifetime <= 3_000 && lifetime >= 2_000, `lifetime ${lifetime}`);
      assert.ok(opensslVerify(t.dir, first.certChainPem.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!).ok);
      assert.match(registry.text(), new RegExp(`identity_cert_expiration_timestamp_seconds ${first.notAfter.getTime() / 1000}\\b`));
      // 70% of ~3s left → renewal ~2.1s later, well before expiry.
      const started = Date.now();
      const [second] = await nextEvent<[IdentityMaterial]>(client, 'rotated', 5_000);
      const waited = Date.now() - started;
      // Not at once (min refresh is 100ms), and before the old certificate ran out.
      assert.ok(waited > 1_000, `renewed after only ${waited}ms`);
      assert.ok(Date.now() < first.notAfter.getTime(), `renewed after ${waited}ms, past the old expiry`);
      assert.ok(second.notAfter > first.notAfter, 'a new, later certificate');
      assert.equal(second.keyPem, first.keyPem, 'the key is kept across renewals');
      assert.notEqual(second.certChainPem, first.certChainPem);
      assert.equal(client.current(), second);
      assert.match(registry.text(), new RegExp(`identity_cert_expiration_timestamp_seconds ${second.notAfter.getTime() / 1000}\\b`));
    } finally {
      client.close();
      await srv.stop();
      t.remove();
    }
  });

  it('gives material that two proxies use for TLS 1.3 mutual authentication', async () => {
    const { t, opts, anchors } = await setup('idtls', 60_000);
    const srv = await serveIdentity(opts);
    const web = createIdentityClient({ svcAddr: srv.addr, localName: WEB, tokenFile: join(t.dir, 'web.token'), trustAnchorsPem: anchors, log: silent });
    const db = createIdentityClient({ svcAddr: srv.addr, localName: DB, tokenFile: join(t.dir, 'db.token'), trustAnchorsPem: anchors, log: silent });
    let server: tls.Server | undefined;
    try {
      const [w, d] = await Promise.all([web.ready(), db.ready()]);
      const seen: string[] = [];
      server = tls.createServer(
        { key: d.keyPem, cert: d.certChainPem, ca: d.trustAnchorsPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
        (s) => {
          seen.push(String(s.getPeerCertificate().subjectaltname));
          s.end('hi');
        },
      );
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const sock = tls.connect({
        host: '127.0.0.1', port, key: w.keyPem, cert: w.certChainPem, ca: w.trustAnchorsPem, servername: DB, minVersion: 'TLSv1.3',
        checkServerIdentity: (host, cert) => tls.checkServerIdentity(host, cert),
      });
      await once(sock, 'secureConnect');
      assert.equal(sock.getProtocol(), 'TLSv1.3');
      assert.equal(sock.getPeerCertificate().subjectaltname, `DNS:${DB}`);
      const [data] = await once(sock, 'data');
      assert.equal(String(data), 'hi');
      sock.destroy();
      assert.deepEqual(seen, [`DNS:${WEB}`]);
    } finally {
      web.close();
      db.close();
      server?.close();
      await srv.stop();
      t.remove();
    }
  });

  it('keeps the old certificate through a control-plane outage, retries with backoff, recovers after restart', async () => {
    const { t, opts, anchors } = await setup('idout', 2_000);
    let srv: Running | undefined = await serveIdentity(opts);
    const port = srv.port;
    const client = createIdentityClient({
      svcAddr: srv.addr, localName: WEB, tokenFile: join(t.dir, 'web.token'), trustAnchorsPem: anchors,
      minRefreshMs: 100, maxRefreshMs: 60_000, backoff: { baseMs: 50, maxMs: 400, jitter: 0.5 }, log: silent,
    });
    const failures: { err: LinnetError; attempt: number }[] = [];
    client.on('certify-failed', (err: LinnetError, attempt: number) => failures.push({ err, attempt }));
    try {
      const first = await client.ready();
      await srv.stop();
      srv = undefined;
      // Renewal comes due (~1.4s) while the server is down: attempts fail, the old cert stays.
      const deadline = Date.now() + 6_000;
      while (failures.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(failures.length >= 4, `only ${failures.length} failures`);
      assert.deepEqual(failures.slice(0, 4).map((f) => f.attempt), [1, 2, 3, 4]);
      assert.match(failures[0]!.err.message, /UNAVAILABLE/);
      assert.equal(client.current(), first, 'the old certificate is still served');
      // Restart on the same port: the next retry succeeds with a new certificate.
      srv = await serveIdentity(opts, port);
      const [renewed] = await nextEvent<[IdentityMaterial]>(client, 'rotated', 5_000);
      assert.ok(renewed.notAfter > first.notAfter);
      assert.equal(client.current(), renewed);
    } finally {
      client.close();
      await srv?.stop();
      t.remove();
    }
  });

  it('refuses a chain that does not lead to its trust anchors, and keeps retrying', async () => {
    const { t, opts } = await setup('idbadanchor', 60_000);
    const other = tempDir('idbadanchor2');
    await linnetCa(other.dir);
    const srv = await serveIdentity(opts);
    const client = createIdentityClient({
      svcAddr: srv.addr, localName: WEB, tokenFile: join(t.dir, 'web.token'),
      trustAnchorsPem: readFileSync(join(other.dir, 'ca.crt'), 'utf8'), backoff: { baseMs: 50, maxMs: 100, jitter: 0 }, log: silent,
    });
    try {
      const [err] = await nextEvent<[LinnetError]>(client, 'certify-failed', 5_000);
      assert.equal(err.code, 'LINNET_IDENTITY_CHAIN_INVALID');
      assert.equal(client.current(), undefined);
    } finally {
      client.close();
      await srv.stop();
      t.remove();
      other.remove();
    }
  });

  it('reports a wrong token as UNAUTHENTICATED and has no certificate', async () => {
    const { t, opts, anchors } = await setup('idbadtok', 60_000);
    const srv = await serveIdentity(opts);
    writeFileSync(join(t.dir, 'bad.token'), 'not-the-secret');
    const client = createIdentityClient({
      svcAddr: srv.addr, localName: WEB, tokenFile: join(t.dir, 'bad.token'), trustAnchorsPem: anchors,
      backoff: { baseMs: 50, maxMs: 100, jitter: 0 }, log: silent,
    });
    try {
      const [err] = await nextEvent<[LinnetError]>(client, 'certify-failed', 5_000);
      assert.match(err.message, /UNAUTHENTICATED.*TOKEN_INVALID/);
      assert.equal(client.current(), undefined);
      // Fixing the token file is picked up at the next attempt (it is re-read each time).
      writeFileSync(join(t.dir, 'bad.token'), 'web-secret');
      const m = await client.ready();
      assert.equal(m.localName, WEB);
    } finally {
      client.close();
      await srv.stop();
      t.remove();
    }
  });

  it('talks TLS to the identity service when LINNET_PROXY_IDENTITY_SVC_NAME is set, checking its name and anchor', async () => {
    const { t, opts, anchors } = await setup('idsvctls', 60_000);
    const serverTls = await identityServerCredentials({ identityDir: t.dir, controlNamespace: CONTROL_NS, trustDomain: TRUST_DOMAIN });
    assert.equal(serverTls.identity, 'linnet-identity.linnet.serviceaccount.identity.linnet.cluster.local');
    assert.ok(opensslVerify(t.dir, serverTls.certChainPem.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!, 'sslserver').ok);
    const srv = await serveIdentity(opts, 0, serverTls.credentials);
    const mk = (svcName: string | undefined, trustAnchorsPem = anchors) =>
      createIdentityClient({
        svcAddr: srv.addr, svcName, localName: WEB, tokenFile: join(t.dir, 'web.token'), trustAnchorsPem,
        backoff: { baseMs: 50, maxMs: 100, jitter: 0 }, log: silent,
      });
    const other = tempDir('idsvctls2');
    await linnetCa(other.dir);
    const good = mk(serverTls.identity);
    const wrongName = mk('evil.demo.serviceaccount.identity.linnet.cluster.local');
    const plain = mk(undefined);
    const foreignAnchor = mk(serverTls.identity, readFileSync(join(other.dir, 'ca.crt'), 'utf8'));
    try {
      const m = await good.ready();
      assert.equal(m.localName, WEB);
      // Same anchors but another expected name, or no TLS at all: no certificate.
      const [e1] = await nextEvent<[LinnetError]>(wrongName, 'certify-failed', 5_000);
      assert.match(e1.message, /UNAVAILABLE/);
      const [e2] = await nextEvent<[LinnetError]>(plain, 'certify-failed', 5_000);
      assert.match(e2.message, /UNAVAILABLE/);
      const [e3] = await nextEvent<[LinnetError]>(foreignAnchor, 'certify-failed', 5_000);
      assert.match(e3.message, /UNAVAILABLE/);
      for (const c of [wrongName, plain, foreignAnchor]) assert.equal(c.current(), undefined);
    } finally {
      for (const c of [good, wrongName, plain, foreignAnchor]) c.close();
      await srv.stop();
      t.remove();
      other.remove();
    }
  });
});
