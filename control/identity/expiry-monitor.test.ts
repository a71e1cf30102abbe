import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { expiryWarnings, startExpiryMonitor, type ExpiringCert } from './expiry-monitor';

const D = 86_400_000;
const now = Date.UTC(2026, 5, 1);
const certs: ExpiringCert[] = [
  { role: 'issuer', subject: 'CN=identity', notAfter: new Date(now + 59 * D + 1000) },
  { role: 'anchor', subject: 'CN=root-old', notAfter: new Date(now + 400 * D) },
  { role: 'anchor', subject: 'CN=root-new', notAfter: new Date(now + 3000 * D) },
];

describe('CA expiry warnings', () => {
  it('warns for what expires within 60 days only', () => {
    const w = expiryWarnings(certs, now);
    assert.equal(w.length, 1);
    assert.match(w[0]!.message, /issuer certificate CN=identity expires in 59 day/);
    assert.equal(expiryWarnings(certs, now - 2 * D).length, 0);
    assert.match(expiryWarnings(certs, now + 61 * D)[0]!.message, /expired 1 day\(s\) ago/);
  });
  it('sets the gauges and logs, per role, the soonest anchor expiry', async () => {
    const registry = new Registry();
    const lines: string[] = [];
    const m = startExpiryMonitor({ certs, registry, log: (l, msg) => lines.push(`${l} ${msg}`), now: () => now });
    try {
      const text = await registry.metrics();
      assert.match(text, /identity_issuer_expiry_warning\{cert="issuer"\} 1/);
      assert.match(text, /identity_issuer_expiry_warning\{cert="anchor"\} 0/);
      assert.match(text, new RegExp(`identity_ca_expiration_timestamp_seconds\\{cert="anchor"\\} ${(now + 400 * D) / 1000}\\b`));
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^warn /);
    } finally {
      m.close();
    }
    assert.doesNotMatch(await registry.metrics(), /identity_issuer_expiry_warning/);
  });
});
