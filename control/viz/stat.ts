/**
 * `linnet viz stat` rows from two snapshots per proxy (the window's start and end):
 * success rate, RPS and latency percentiles per workload (deploy), pod or authority, read from the
 * inbound side as Linkerd's stat does, or from the source's outbound side with --from/--to. Pure.
 */
import type { ProxyTarget } from './inventory';
import { exactQuantile, histogramQuantile } from './quantile';
import { addCounts, countsDelta, emptyCounts, mapInc, type Counts, type ProxySnapshot } from './snapshot';

export type ResourceKind = 'deploy' | 'pod' | 'authority';
export const RESOURCE_KINDS: readonly ResourceKind[] = ['deploy', 'pod', 'authority'];

/** `deploy`, `deployment`, `deployments`, `po`, `pods`, `au`, ... → the kind (as kubectl and linkerd accept). */
export function parseKind(text: string): ResourceKind | undefined {
  const t = text.toLowerCase();
  if (['deploy', 'deploys', 'deployment', 'deployments'].includes(t)) return 'deploy';
  if (['po', 'pod', 'pods'].includes(t)) return 'pod';
  if (['au', 'authority', 'authorities'].includes(t)) return 'authority';
  return undefined;
}

export interface Ref {
  kind: 'deploy' | 'pod';
  name: string;
}

/** `deploy/web` → Ref; throws an Error naming the accepted form. */
export function parseRef(text: string): Ref {
  const [k, name, extra] = text.split('/');
  const kind = parseKind(k ?? '');
  if (!name || extra !== undefined || (kind !== 'deploy' && kind !== 'pod')) throw new Error(`${JSON.stringify(text)} is not a resource; expected deploy/NAME or pod/NAME`);
  return { kind, name };
}

/** One proxy over the window: its snapshot at the end, and at the start (undefined: none yet). */
export interface TargetWindow {
  target: ProxyTarget;
  cur?: ProxySnapshot;
  base?: ProxySnapshot;
  /** its last scrape answered */
  up: boolean;
  error?: string;
}

export interface StatRow {
  name: string;
  namespace: string;
  /** pods whose proxy answers, of those known (undefined for an authority) */
  meshed?: number;
  pods?: number;
  requests: number;
  success: number;
  failure: number;
  successRate?: number;
  rps?: number;
  /** ms */
  p50?: number;
  p95?: number;
  p99?: number;
  /** 'hdr' when exact (the proxies' HDR histograms), 'buckets' when interpolated */
  latency?: 'hdr' | 'buckets';
  tcpConn?: number;
  /** proxies that do not answer, with why */
  down?: string[];
}

interface Acc {
  name: string;
  namespace: string;
  counts: Counts;
  hdr: Map<number, number>;
  hdrComplete: boolean;
  secs: number;
  pods: number;
  meshed: number;
  tcp: number;
  down: string[];
}

const newAcc = (name: string, namespace: string): Acc => ({ name, namespace, counts: emptyCounts(), hdr: new Map(), hdrComplete: true, secs: 0, pods: 0, meshed: 0, tcp: 0, down: [] });

const keyOf = (kind: 'deploy' | 'pod', t: ProxyTarget) => (kind === 'deploy' ? t.workload : t.pod);

export function matchesRef(ref: Ref, t: ProxyTarget): boolean {
  return keyOf(ref.kind, t) === ref.name;
}

/** Seconds the window covers for one proxy: from its base snapshot, or from its start (no base: counted from zero). */
export function windowSecs(w: TargetWindow): number {
  if (!w.cur) return 0;
  const from = w.base?.at ?? w.cur.startedAt;
  return from === undefined ? 0 : Math.max(0, (w.cur.at - from) / 1000);
}

function addHdr(acc: Acc, w: TargetWindow, keys: (k: string) => boolean): void {
  if (!w.cur?.hdr || (w.base && !w.base.hdr)) {
    acc.hdrComplete = false;
    return;
  }
  for (const [k, cur] of w.cur.hdr) {
    if (!keys(k)) continue;
    for (const [v, c] of mapInc(cur, w.base?.hdr?.get(k))) acc.hdr.set(v, (acc.hdr.get(v) ?? 0) + c);
  }
}

function finish(acc: Acc, withPods: boolean): StatRow {
  const c = acc.counts;
  const requests = c.success + c.failure;
  const row: StatRow = { name: acc.name, namespace: acc.namespace, requests, success: c.success, failure: c.failure };
  if (withPods) {
    row.meshed = acc.meshed;
    row.pods = acc.pods;
    row.tcpConn = acc.tcp;
  }
  if (acc.down.length > 0) row.down = acc.down;
  if (acc.secs > 0) row.rps = requests / acc.secs;
  if (requests > 0) {
    row.successRate = c.success / requests;
    const exact = acc.hdrComplete && [...acc.hdr.values()].some((n) => n > 0);
    const q = (p: number) => (exact ? (exactQuantile(p, acc.hdr) ?? 0) / 1000 : histogramQuantile(p, c.buckets));
    row.latency = exact ? 'hdr' : 'buckets';
    const [p50, p95, p99] = [q(0.5), q(0.95), q(0.99)];
    if (p50 !== undefined) row.p50 = p50;
    if (p95 !== undefined) row.p95 = p95;
    if (p99 !== undefined) row.p99 = p99;
  }
  return row;
}

export interface StatQuery {
  kind: ResourceKind;
  name?: string;
  from?: Ref;
  to?: Ref;
}

/** The IPs of the proxies a ref names. */
export const ipsOf = (ref: Ref, windows: readonly TargetWindow[]) => new Set(windows.filter((w) => matchesRef(ref, w.target)).map((w) => w.target.ip));

export function statRows(q: StatQuery, windows: readonly TargetWindow[]): StatRow[] {
  if (q.kind === 'authority') return authorityRows(q, windows);
  const kind = q.kind;
  const accs = new Map<string, Acc>();
  const accFor = (t: ProxyTarget) => {
    const k = keyOf(kind, t);
    let a = accs.get(k);
    if (!a) accs.set(k, (a = newAcc(k, t.namespace)));
    return a;
  };
  const fromIps = q.from ? ipsOf(q.from, windows) : undefined;
  const toIps = q.to ? ipsOf(q.to, windows) : undefined;
  for (const w of windows) {
    const a = accFor(w.target);
    a.pods += 1;
    if (w.up) a.meshed += 1;
    else a.down.push(`${w.target.pod}: ${w.error ?? 'no answer'}`);
    if (!w.cur) continue;
    a.tcp += w.cur.tcpOpen;
    a.secs = Math.max(a.secs, windowSecs(w));
    if (toIps) {
      // This row's own outbound requests to the --to resource.
      for (const [ip, c] of w.cur.outboundByIp) if (toIps.has(ip)) addCounts(a.counts, countsDelta(c, w.base?.outboundByIp.get(ip)));
      a.hdrComplete = false;
    } else if (!fromIps) {
      addCounts(a.counts, countsDelta(w.cur.inbound, w.base?.inbound));
      addHdr(a, w, (k) => k.startsWith('inbound '));
    }
  }
  if (fromIps) {
    // Rows are destinations; the numbers are the --from resource's outbound requests to each.
    const byIp = new Map(windows.map((w) => [w.target.ip, w.target] as const));
    for (const w of windows) {
      if (!fromIps.has(w.target.ip) || !w.cur) continue;
      for (const [ip, c] of w.cur.outboundByIp) {
        const t = byIp.get(ip);
        if (!t) continue;
        const a = accFor(t);
        addCounts(a.counts, countsDelta(c, w.base?.outboundByIp.get(ip)));
        a.hdrComplete = false;
        a.secs = Math.max(a.secs, windowSecs(w));
      }
    }
  }
  let rows = [...accs.values()];
  if (q.name !== undefined) rows = rows.filter((a) => a.name === q.name);
  if (fromIps) rows = rows.filter((a) => a.counts.success + a.counts.failure > 0 || q.name !== undefined);
  return rows.map((a) => finish(a, true)).sort((x, y) => x.name.localeCompare(y.name));
}

export function authorityRows(q: StatQuery, windows: readonly TargetWindow[]): StatRow[] {
  const accs = new Map<string, Acc>();
  for (const w of windows) {
    if (!w.cur) continue;
    if (q.to && !matchesRef(q.to, w.target)) continue;
    for (const [auth, c] of w.cur.inboundByAuthority) {
      let a = accs.get(auth);
      if (!a) accs.set(auth, (a = newAcc(auth, w.target.namespace)));
      addCounts(a.counts, countsDelta(c, w.base?.inboundByAuthority.get(auth)));
      addHdr(a, w, (k) => k === `inbound ${auth}`);
      a.secs = Math.max(a.secs, windowSecs(w));
    }
  }
  let rows = [...accs.values()];
  if (q.name !== undefined) rows = rows.filter((a) => a.name === q.name);
  return rows.map((a) => finish(a, false)).sort((x, y) => x.name.localeCompare(y.name));
}

/** The names that exist for a kind (for "unknown name" errors and the dashboard). */
export function knownNames(kind: ResourceKind, windows: readonly TargetWindow[]): string[] {
  if (kind === 'authority') return [...new Set(windows.flatMap((w) => [...(w.cur?.inboundByAuthority.keys() ?? [])]))].sort();
  return [...new Set(windows.map((w) => keyOf(kind, w.target)))].sort();
}
