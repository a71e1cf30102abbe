import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStatCpuTicks, treeCpuSeconds, treePeakRss } from './proc-stats';

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
