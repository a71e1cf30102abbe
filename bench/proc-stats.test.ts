import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSmapsRollup, parseStatCpuTicks, treeCpuSeconds, treeMemoryNow, treePeakRss } from './proc-stats';

test('utime + stime from a stat line whose comm has spaces and parentheses', () => {
  const line = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 5000 100000 2000';
  assert.equal(parseStatCpuTicks(line), 325);
});

test('this process: CPU time grows with work, peak RSS is plausible', () => {
  const before = treeCpuSeconds(process.pid);
  // Spin until 0.1 CPU seconds show up (on a busy shared machine that takes more wall time),
  // bounded: if the counter never moves, the reading is broken.
  const end = Date.now() + 10_000;
  let x = 0;
  while (treeCpuSeconds(process.pid) - before < 0.1 && Date.now() < end) for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + 1);
  assert.ok(x > 0);
  const used = treeCpuSeconds(process.pid) - before;
  assert.ok(used >= 0.1, `used ${used}s in 10s of spinning`);
  const rss = treePeakRss(process.pid);
  assert.ok(rss > 10 * 2 ** 20 && rss < 4 * 2 ** 30, `rss ${rss}`);
});

test('smaps_rollup: private is Private_Clean + Private_Dirty; this process holds less private than resident', () => {
  const text = [
    '55d1c0000000-7ffd00000000 ---p 00000000 00:00 0                          [rollup]',
    'Rss:               56832 kB',
    'Pss:               20480 kB',
    'Pss_Anon:          12288 kB',
    'Shared_Clean:      40960 kB',
    'Private_Clean:      1024 kB',
    'Private_Dirty:     12800 kB',
  ].join('\n');
  assert.deepEqual(parseSmapsRollup(text), { rss: 56832 * 1024, pss: 20480 * 1024, private: 13824 * 1024 });
  const now = treeMemoryNow(process.pid);
  assert.ok(now.private > 1 << 20 && now.private < now.rss, JSON.stringify(now));
  assert.ok(now.pss <= now.rss && now.pss >= now.private, JSON.stringify(now));
});
