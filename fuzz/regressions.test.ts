/**
 * Replays every saved fuzz finding (fuzz/regressions/<target>/*.bin) and every seed of every
 * target's corpus: each must now pass all of its target's properties.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { corpusDir, readCorpus, readRegressions } from './corpus';
import { describeError } from './target';
import { loadTarget, targetNames } from './targets';

for (const name of targetNames()) {
  describe(`fuzz target ${name}`, () => {
    const target = loadTarget(name)!;
    it('states its properties', () => {
      assert.equal(target.name, name);
      assert.ok(target.properties.length > 0);
    });
    const seeds = readCorpus(corpusDir(name));
    it(`passes on its ${seeds.length} seeds`, async () => {
      assert.ok(seeds.length > 0, `fuzz/corpus/${name}/ has seeds`);
      for (const s of seeds) {
        try {
          await target.run(s.bytes.subarray(0, target.maxInputBytes ?? 64 * 1024));
        } catch (e) {
          assert.fail(`seed ${s.name}: ${describeError(e)}`);
        }
      }
    });
    const regs = readRegressions(name);
    for (const r of regs) {
      it(`regression ${r.name}`, async () => {
        try {
          await target.run(r.bytes.subarray(0, target.maxInputBytes ?? 64 * 1024));
        } catch (e) {
          // A finding listed as known (reported, not yet fixed) is not a new failure.
          if (e instanceof Error && target.known?.some((k) => k.match.test(e.message))) return;
          assert.fail(`fuzz/regressions/${name}/${r.name} fails again: ${describeError(e)}`);
        }
      });
    }
  });
}
