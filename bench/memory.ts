/**
 * The arithmetic of the memory scenarios (pure, so it is tested): how much a soak's memory grew
 * after its first minute, what one idle keep-alive connection costs, and how many connections a
 * proxy really holds according to `ss`.
 */

/** One reading of a proxy's memory during a soak, `t` seconds after the load started. */
export interface MemorySample {
  readonly t: number;
  readonly rss: number;
  readonly private: number;
  readonly pss: number;
}

export interface Growth {
  /** When the baseline was read (the first sample at or after `baselineAtS`). */
  readonly baselineT: number;
  readonly baselineRss: number;
  readonly finalRss: number;
  /** (last RSS − baseline RSS) / baseline RSS, percent. */
  readonly rssGrowthPct: number;
  /** The highest RSS after the baseline, over the baseline, percent (a leak that GC hides at the end shows here). */
  readonly rssPeakGrowthPct: number;
  readonly baselinePrivate: number;
  readonly finalPrivate: number;
  readonly privateGrowthPct: number;
  /**
   * RSS growth over the second half of the time after the baseline (from the first sample at or
   * after its midpoint to the last): a heap still settling flattens out there, a leak keeps its slope.
   */
  readonly lateRssGrowthPct: number;
}

/**
 * Growth after warm-up: the first minute of a soak fills pools, caches, JIT code and the heap's
 * young generation, which is not a leak; what a long-lived sidecar must not do is keep growing
 * after that. So the baseline is the first sample at or after `baselineAtS`, compared with the last.
 * NaN figures when there is no sample after the baseline.
 */
export function soakGrowth(samples: readonly MemorySample[], baselineAtS: number): Growth {
  const sorted = [...samples].filter((s) => Number.isFinite(s.rss)).sort((a, b) => a.t - b.t);
  const i = sorted.findIndex((s) => s.t >= baselineAtS);
  const base = i >= 0 && i < sorted.length - 1 ? sorted[i]! : undefined;
  const last = sorted[sorted.length - 1];
  if (!base || !last) {
    return { baselineT: NaN, baselineRss: NaN, finalRss: NaN, rssGrowthPct: NaN, rssPeakGrowthPct: NaN, baselinePrivate: NaN, finalPrivate: NaN, privateGrowthPct: NaN, lateRssGrowthPct: NaN };
  }
  const after = sorted.slice(i);
  const pctOver = (v: number, b: number) => (b > 0 ? ((v - b) / b) * 100 : NaN);
  const mid = after.find((x) => x.t >= (base.t + last.t) / 2)!;
  return {
    baselineT: base.t,
    baselineRss: base.rss,
    finalRss: last.rss,
    rssGrowthPct: pctOver(last.rss, base.rss),
    rssPeakGrowthPct: pctOver(Math.max(...after.map((s) => s.rss)), base.rss),
    baselinePrivate: base.private,
    finalPrivate: last.private,
    privateGrowthPct: pctOver(last.private, base.private),
    lateRssGrowthPct: pctOver(last.rss, mid.rss),
  };
}

/**
 * When a soak of `seconds` reads its memory, and when its baseline is: every 10 s and after the
 * first minute in a real soak; a short (--quick) soak scales both down so that it still has a
 * baseline and several samples after it.
 */
export function soakSchedule(seconds: number): { intervalS: number; baselineAtS: number } {
  return { intervalS: Math.min(10, Math.max(1, seconds / 8)), baselineAtS: Math.min(60, seconds / 4) };
}

/** Bytes per connection from the memory before the connections were opened and while they are held. */
export function perConnection(before: { rss: number; private: number }, held: { rss: number; private: number }, connections: number): { rss: number; private: number } {
  if (!(connections > 0)) return { rss: NaN, private: NaN };
  return { rss: (held.rss - before.rss) / connections, private: (held.private - before.private) / connections };
}

/**
 * Established TCP connections in `ss -Htn state established` output whose local port is
 * `localPort` and whose peer is `peerIp`: the client connections a proxy holds, seen by the
 * kernel rather than by the proxy's own counters. With `state established`, ss leaves out the
 * state column: `Recv-Q Send-Q Local:Port Peer:Port`.
 */
export function countEstablished(ssOutput: string, localPort: number, peerIp: string): number {
  let n = 0;
  for (const line of ssOutput.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4) continue;
    // The state column is there when ss was not given a state filter.
    const [local, peer] = cols[0] === 'ESTAB' ? [cols[3]!, cols[4]!] : [cols[2]!, cols[3]!];
    if (!local || !peer) continue;
    const lport = Number(local.slice(local.lastIndexOf(':') + 1));
    const pip = peer.slice(0, peer.lastIndexOf(':')).replace(/^\[(?:::ffff:)?|\]$/g, '');
    if (lport === localPort && pip === peerIp) n++;
  }
  return n;
}

/** The soak's traffic mix: shares of the offered rate (they sum to 1). */
export const SOAK_MIX = { h1KeepAlive: 0.5, h1NewConnection: 0.2, grpc: 0.3 } as const;

/** Requests due per kind after `elapsedS` at a total `rate`, split by SOAK_MIX (open loop). */
export function soakDue(elapsedS: number, rate: number): { h1KeepAlive: number; h1NewConnection: number; grpc: number } {
  const due = (share: number) => (elapsedS < 0 ? 0 : Math.floor(elapsedS * rate * share));
  return { h1KeepAlive: due(SOAK_MIX.h1KeepAlive), h1NewConnection: due(SOAK_MIX.h1NewConnection), grpc: due(SOAK_MIX.grpc) };
}
