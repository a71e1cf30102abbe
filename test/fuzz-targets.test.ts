/**
 * CI runs every fuzz target briefly (LINNET_FUZZ_SECONDS each, default 2.5) with a fixed seed:
 * the runner works end to end (mutation, coverage, progress) and no target finds anything new.
 * A finding fails the test and is not written to the tree; run `npm run fuzz -- --target X` to
 * reproduce and save it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corpusDir, readCorpus, readRegressions } from '../fuzz/corpus';
import { runFuzz } from '../fuzz/runner';
import { loadTarget, targetNames } from '../fuzz/targets';

const seconds = Number(process.env.LINNET_FUZZ_SECONDS ?? '2.5');

for (const name of targetNames()) {
  test(`fuzz ${name} for ${seconds}s finds nothing`, async () => {
    const target = loadTarget(name)!;
    const seeds = [...readCorpus(corpusDir(name)), ...readRegressions(name)].map((f) => f.bytes);
    const r = await runFuzz({ target, timeMs: seconds * 1000, seed: 20261122, seeds, coverage: true, saveFindings: false, minimizeMs: 1000 });
    process.stdout.write(`# ${name}: ${r.execs} execs (${Math.round(r.execsPerSec)}/s), corpus ${r.corpusStart} -> ${r.corpusEnd}, ${r.coverageBlocks} blocks\n`);
    assert.ok(r.execs > 20, `${name} ran only ${r.execs} inputs`);
    assert.deepEqual(
      r.findings.map((f) => `${f.signature}: ${f.message.split('\n')[0]} input=${f.input.toString('base64').slice(0, 200)}`),
      [],
    );
  });
}
