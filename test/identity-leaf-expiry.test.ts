/**
 * The proxy's leaf over its life, against the real Certify service on loopback with 2 s leaves:
 * renewed at 70% of the life (counted in identity_cert_refresh_total), the old certificate kept
 * while the control plane is gone (failures counted, retried with jittered backoff), and once it
 * has expired with nobody to renew it: identity_cert_expired 1 and an error line (repeated each
 * minute), while current() still answers (the proxy keeps /ready for existing traffic).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StaticTokenVerifier } from '../control/identity/token-verifier';
import { createLogger } from '../core/log';
import { createIdentityClient } from '../proxy/identity/client';
import { Registry } from '../proxy/metrics/registry';
import { CONTROL_NS, TRUST_DOMAIN, WEB, linnetCa, quietLog, serveIdentity, tempDir } from './identity/helpers';
import { readFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const value = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

describe('the proxy leaf: renewal, outage, expiry', () => {
  it('renews at 70%, counts refreshes, keeps the old leaf through an outage and says loudly when it expired', async () => {
    const t = tempDir('idleaf');
    await linnetCa(t.dir);
    writeFileSync(join(t.dir, 'web.token'), 'web-secret');
    const srv = await serveIdentity({ identityDir: t.dir, trustDomain: TRUST_DOMAIN, controlNamespace: CONTROL_NS, tokens: new StaticTokenVerifier([{ identity: WEB, token: 'web-secret' }]), log: quietLog(), issuanceLifetimeMs: 2_000, clockSkewMs: 0 });
    const logs: string[] = [];
    const registry = new Registry();
    const client = createIdentityClient({
      svcAddr: srv.addr, localName: WEB, tokenFile: join(t.dir, 'web.token'), trustAnchorsPem: readFileSync(join(t.dir, 'ca.crt'), 'utf8'),
      minRefreshMs: 100, maxRefreshMs: 60_000, backoff: { baseMs: 100, maxMs: 400, jitter: 0.5 }, registry, log: createLogger('info', 'identity', (l) => logs.push(l)),
    });
    try {
      const first = await client.ready();
      const renewals: number[] = [];
      client.on('rotated', () => renewals.push(Date.now()));
      const t0 = Date.now();
      await sleep(3_200);
      // X.509 times are whole seconds, so a "2 s" leaf lasts 1–2 s from now: renewals every 0.7–1.4 s.
      assert.ok(renewals.length >= 2, `renewed ${renewals.length} times in 3.2 s`);
      assert.ok(renewals[0]! - t0 <= 1_500, `the first renewal came ${renewals[0]! - t0} ms after, within 70% of the life`);
      assert.ok(client.current()!.notAfter > first.notAfter);
      let text = registry.text();
      assert.ok(value(text, /identity_cert_refresh_total\{result="ok"\} (\d+)/) >= 3, text);
      assert.equal(value(text, /^identity_cert_expiration_timestamp_seconds (\S+)$/m) * 1000, client.current()!.notAfter.getTime(), text);

      await srv.stop(); // the control plane goes away
      const held = client.current()!;
      await sleep(Math.max(0, held.notAfter.getTime() - Date.now()) + 400);
      text = registry.text();
      assert.ok(value(text, /identity_cert_refresh_total\{result="failure"\} (\d+)/) >= 2, 'failures counted while retrying');
      assert.equal(client.current(), held, 'the last certificate is kept');
      assert.equal(value(text, /identity_cert_expired (\d+)/), 1);
      assert.ok(logs.some((l) => /ERROR identity: identity certificate EXPIRED and not renewed/.test(l) && /last_error=/.test(l)), logs.slice(-5).join(''));
      assert.ok(logs.some((l) => /WARN  identity: certify failed; keeping the certificate valid until/.test(l)));
    } finally {
      client.close();
      await srv.stop().catch(() => {});
      t.remove();
    }
  });
});
