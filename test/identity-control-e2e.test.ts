/**
 * The identity pieces as a user runs them: `linnet identity create` (or an openssl-made RSA
 * anchor), `linnet control --identity-dir` as a real process, and the proxy's identity client
 * configured only from LINNET_PROXY_IDENTITY_* variables.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIdentityClient } from '../proxy/identity';
import { parseIdentityEnv } from '../proxy/runtime/config/identity';
import { createLogger } from '../core/log';
import { WEB, opensslCa, opensslVerify, tempDir } from './identity/helpers';

const LINNET = join(__dirname, '..', '..', 'bin', 'linnet');

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  return port;
}

for (const made of ['linnet identity create', 'openssl (RSA anchor)'] as const) {
  describe(`linnet control serving identity from a CA made by ${made}`, () => {
    it('certifies a proxy configured from LINNET_PROXY_IDENTITY_*; a wrong token is refused', async () => {
      const t = tempDir('ide2e');
      const caDir = join(t.dir, 'ca');
      if (made === 'linnet identity create') {
        const r = spawnSync(process.execPath, [LINNET, 'identity', 'create', '--out', caDir], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      } else {
        spawnSync('mkdir', ['-p', caDir]);
        opensslCa(caDir, 'rsa', 'ec');
      }
      writeFileSync(join(t.dir, 'mesh.yaml'), `services: []\nworkloads:\n  - identity: ${WEB}\n    token: "s3cret-web"\n`);
      writeFileSync(join(t.dir, 'web.token'), 's3cret-web\n');
      writeFileSync(join(t.dir, 'bad.token'), 'guess');
      const [dport, iport] = [await freePort(), await freePort()];
      const control = spawn(process.execPath, [
        LINNET, 'control', '--discovery-file', join(t.dir, 'mesh.yaml'), '--identity-dir', caDir,
        '--destination-addr', `127.0.0.1:${dport}`, '--identity-addr', `127.0.0.1:${iport}`,
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      control.stdout.on('data', (d) => (output += d));
      control.stderr.on('data', (d) => (output += d));
      const clients: { close(): void }[] = [];
      try {
        const env = (tokenFile: string) => ({
          LINNET_PROXY_IDENTITY_SVC_ADDR: `127.0.0.1:${iport}`,
          LINNET_PROXY_IDENTITY_LOCAL_NAME: WEB,
          LINNET_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
          LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: join(caDir, 'ca.crt'),
        });
        const log = createLogger('error', 'identity', () => {});
        const good = createIdentityClient({ ...parseIdentityEnv(env(join(t.dir, 'web.token')))!, backoff: { baseMs: 100, maxMs: 500, jitter: 0.5 }, log });
        const bad = createIdentityClient({ ...parseIdentityEnv(env(join(t.dir, 'bad.token')))!, backoff: { baseMs: 100, maxMs: 500, jitter: 0.5 }, log });
        clients.push(good, bad);
        // Retries cover the control plane still starting.
        const m = await Promise.race([good.ready(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no certificate; control said:\n${output}`)), 15_000).unref())]);
        assert.equal(m.localName, WEB);
        const leafPem = m.certChainPem.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!;
        const v = opensslVerify(caDir, leafPem, 'sslclient');
        assert.ok(v.ok, v.output);
        let lastError = '';
        bad.on('certify-failed', (e: Error) => (lastError = e.message));
        // Early attempts may meet a control plane still starting (UNAVAILABLE); wait for a real answer.
        const until = Date.now() + 5_000;
        while (!/UNAUTHENTICATED/.test(lastError) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        assert.equal(bad.current(), undefined);
        assert.match(lastError, /UNAUTHENTICATED/);
      } finally {
        for (const c of clients) c.close();
        control.kill('SIGTERM');
        if (control.exitCode === null) await once(control, 'exit');
        t.remove();
      }
    });
  });
}
