import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { test } from 'node:test';
import { registerProcessMetrics } from './process-metrics';
import { Registry } from './registry';

function values(r: Registry): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of r.families()) for (const s of f.samples) out.set(s.labels['space'] ? `${f.name}{${s.labels['space']}}` : f.name, s.value);
  return out;
}

test('process metrics read this process: CPU, memory, descriptors, limits, start time, heap spaces', () => {
  const r = new Registry();
  registerProcessMetrics(r);
  const before = values(r);
  assert.ok(before.get('process_cpu_seconds_total')! > 0);
  const rss = before.get('process_resident_memory_bytes')!;
  assert.ok(rss > 10e6 && rss < 4e9, `rss ${rss}`);
  assert.ok(before.get('process_virtual_memory_bytes')! > rss, 'virtual exceeds resident');
  const started = before.get('process_start_time_seconds')!;
  assert.ok(Math.abs(started - (Date.now() / 1000 - process.uptime())) < 2, `start ${started}`);
  // The soft limit, as a shell started from this process sees it.
  const limit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  assert.equal(before.get('process_max_fds'), limit === 'unlimited' ? Infinity : Number(limit));
  // Three more open descriptors show up at the next scrape.
  const fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
  try {
    assert.equal(values(r).get('process_open_fds'), before.get('process_open_fds')! + 3);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  for (const space of ['new', 'old', 'code', 'large_object']) {
    assert.ok(before.get(`nodejs_heap_space_size_total_bytes{${space}}`)! >= before.get(`nodejs_heap_space_size_used_bytes{${space}}`)!, space);
  }
  assert.ok(before.get('nodejs_heap_size_used_bytes')! > 0);
  assert.match(r.text(), /^# TYPE process_cpu_seconds_total counter$/m);
});
