/**
 * The process_* series Prometheus' client libraries and linkerd2-proxy export (CPU, memory, file
 * descriptors, start time), plus the V8 heap of the main thread's isolate (the one lane of a
 * one-worker proxy) in total and per space: read when scraped, so they cost nothing between scrapes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { Computed, type Registry } from './registry';

/** Field 23 of /proc/self/stat (1-based, counting the pid as 1): the virtual memory size in bytes. */
function virtualMemoryBytes(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[20]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function openFds(): number | undefined {
  try {
    // The listing includes the descriptor opened to read the directory itself.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const v = Number(soft);
    return soft === 'unlimited' ? Infinity : Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function registerProcessMetrics(registry: Registry): void {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const one = (v: number | undefined) => (v === undefined ? [] : [{ labels: {}, value: v }]);
  new Computed(registry, 'process_cpu_seconds_total', 'Total user and system CPU time spent in seconds', 'counter', () => {
    const u = process.cpuUsage();
    return one((u.user + u.system) / 1e6);
  });
  new Computed(registry, 'process_start_time_seconds', 'Start time of the process since unix epoch in seconds', 'gauge', () => one(startSeconds));
  new Computed(registry, 'process_resident_memory_bytes', 'Resident memory size in bytes', 'gauge', () => one(process.memoryUsage.rss()));
  new Computed(registry, 'process_virtual_memory_bytes', 'Virtual memory size in bytes', 'gauge', () => one(virtualMemoryBytes()));
  new Computed(registry, 'process_open_fds', 'Number of open file descriptors', 'gauge', () => one(openFds()));
  new Computed(registry, 'process_max_fds', 'Maximum number of open file descriptors', 'gauge', () => one(maxFds()));
  new Computed(registry, 'nodejs_heap_size_used_bytes', "The main thread's V8 heap in use, in bytes", 'gauge', () => one(process.memoryUsage().heapUsed));
  new Computed(registry, 'nodejs_heap_size_total_bytes', "The main thread's V8 heap reserved, in bytes", 'gauge', () => one(process.memoryUsage().heapTotal));
  // Per V8 space (new, old, code, large_object, ...): where a heap that grew under load grew.
  const spaces = (pick: 'space_used_size' | 'space_size') => () => getHeapSpaceStatistics().map((s) => ({ labels: { space: s.space_name.replace(/_space$/, '') }, value: s[pick] }));
  new Computed(registry, 'nodejs_heap_space_size_used_bytes', "The main thread's V8 heap in use, per space, in bytes", 'gauge', spaces('space_used_size'));
  new Computed(registry, 'nodejs_heap_space_size_total_bytes', "The main thread's V8 heap reserved, per space, in bytes", 'gauge', spaces('space_size'));
  new Computed(registry, 'nodejs_external_memory_bytes', 'Memory held outside the V8 heaps (Buffers and native objects), in bytes', 'gauge', () => one(process.memoryUsage().external));
}
