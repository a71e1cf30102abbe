import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa } from './ca';
import { rotateAnchor } from './rotate-anchor';
import { dirStore, type IdentityStore } from './store';

describe('rotateAnchor reading a store the control plane is writing', () => {
  it('reads a state caught between the issuer key and certificate writes again instead of failing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linnet-rotread-'));
    try {
      const ca = await createCa();
      const other = await createCa();
      for (const [f, t] of [['ca.crt', ca.anchorPem], ['ca.key', ca.anchorKeyPem], ['issuer.crt', ca.issuerPem], ['issuer.key', ca.issuerKeyPem]]) writeFileSync(join(dir, f!), t!);
      const real = dirStore(dir);
      let torn = 2; // the first two reads see a new key beside the old certificate
      const store: IdentityStore = {
        ...real,
        names: real.names,
        kind: real.kind,
        read: async () => {
          const s = await real.read();
          return torn-- > 0 ? { ...s, text: { ...s.text, issuerKeyPem: other.issuerKeyPem } } : s;
        },
      };
      const lines: string[] = [];
      const r = await rotateAnchor({ store, trustDomain: 'cluster.local', controlNamespace: 'linnet', anchorLifetimeMs: 86_400_000, dryRun: true, pollMs: 10, out: (l) => lines.push(l) });
      assert.equal(r, 'planned');
      assert.ok(torn < 0, 'the torn reads were read past');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
