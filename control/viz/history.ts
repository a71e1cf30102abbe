/**
 * A few minutes of snapshots per proxy, in memory, and the window an answer is cut from. Pure.
 */
import type { ProxySnapshot } from './snapshot';

export interface WindowPair {
  cur?: ProxySnapshot;
  /** undefined: count from zero (the proxy started inside the window) */
  base?: ProxySnapshot;
}

export class History {
  private readonly byKey = new Map<string, ProxySnapshot[]>();

  constructor(private readonly keepMs: number) {}

  add(key: string, s: ProxySnapshot): void {
    let list = this.byKey.get(key);
    if (!list) this.byKey.set(key, (list = []));
    list.push(s);
    while (list.length > 1 && list[0]!.at < s.at - this.keepMs) list.shift();
  }

  latest(key: string): ProxySnapshot | undefined {
    return this.byKey.get(key)?.at(-1);
  }

  all(key: string): readonly ProxySnapshot[] {
    return this.byKey.get(key) ?? [];
  }

  /** Drops proxies no longer in the inventory. */
  retain(keys: ReadonlySet<string>): void {
    for (const k of [...this.byKey.keys()]) if (!keys.has(k)) this.byKey.delete(k);
  }

  /**
   * The snapshots a window of `windowMs` ending now is cut from: the latest, and the oldest one
   * inside the window. A proxy that started inside the window counts from zero (its counters did),
   * so requests made before its first scrape are not lost.
   */
  window(key: string, windowMs: number, now: number): WindowPair {
    const list = this.byKey.get(key) ?? [];
    const cur = list.at(-1);
    if (!cur) return {};
    const from = now - windowMs;
    if (cur.startedAt !== undefined && cur.startedAt >= from) return { cur };
    const base = list.find((s) => s.at >= from && (s.startedAt === cur.startedAt || s.startedAt === undefined)) ?? cur;
    return { cur, base };
  }
}
