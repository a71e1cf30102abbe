/**
 * CPU time and memory of a process tree, from /proc. The proxy's CPU is read before and after
 * each measured run; the difference over the run's operations is its cost per request. A tree,
 * because nginx does its work in a worker child of the master.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat, after the parenthesised comm). */
export function parseStatCpuTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14 → rest[11], stime field 15 → rest[12].
  return Number(rest[11]) + Number(rest[12]);
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** CPU seconds used so far by pid and all its descendants (live ones). */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      ticks += parseStatCpuTicks(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      continue;
    }
    stack.push(...childrenOf(p));
  }
  return ticks / TICKS_PER_SECOND;
}

/** Peak resident set (VmHWM) summed over the tree, bytes. */
export function treePeakRss(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      continue;
    }
    stack.push(...childrenOf(p));
  }
  return total;
}

/**
 * Memory a process holds now, from /proc/<pid>/smaps_rollup, in bytes. RSS counts the pages of
 * the node binary and shared libraries that every proxy on a node shares (tens of MB of it);
 * `private` (USS: Private_Clean + Private_Dirty) is what one more proxy adds, `pss` splits the
 * shared pages among the processes that map them.
 */
export interface MemoryNow {
  readonly rss: number;
  readonly pss: number;
  readonly private: number;
}

export function parseSmapsRollup(text: string): MemoryNow {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { rss: kb('Rss'), pss: kb('Pss'), private: kb('Private_Clean') + kb('Private_Dirty') };
}

/** MemoryNow summed over the tree (NaN fields where smaps_rollup cannot be read). */
export function treeMemoryNow(pid: number): MemoryNow {
  const total = { rss: 0, pss: 0, private: 0 };
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    let m: MemoryNow;
    try {
      m = parseSmapsRollup(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
    } catch {
      continue;
    }
    total.rss += m.rss;
    total.pss += m.pss;
    total.private += m.private;
    stack.push(...childrenOf(p));
  }
  return total;
}
