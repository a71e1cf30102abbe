/**
 * The results file (results.json): a versioned schema so that `--compare old.json` and other
 * tools can read runs made by other versions. Bump SCHEMA when a field changes meaning; add
 * fields freely (readers ignore what they do not know).
 */
import { BenchError } from './errors';
import type { Growth, MemorySample } from './memory';
import type { Stat } from './stats';

export const SCHEMA = 'linnet-bench/1';

/**
 * What a path is: the app reached directly, or through one of the proxies under test. The meshed
 * paths have two proxies: `linnet-mesh` Linnet's outbound and inbound proxies, `haproxy-mesh` the
 * peer mesh baseline (a haproxy beside the client and one beside the server, mTLS and HTTP/2
 * between them).
 */
export type TargetId = 'direct' | 'linnet' | 'linnet-2w' | 'linnet-tap' | 'nginx' | 'haproxy' | 'linnet-mesh' | 'linnet-routes' | 'linnet-policy' | 'haproxy-mesh';

export const TARGET_LABEL: Record<TargetId, string> = {
  direct: 'direct (no proxy)',
  linnet: 'linnet (1 hop, 1 worker)',
  'linnet-2w': 'linnet (1 hop, 2 workers)',
  'linnet-tap': 'linnet (1 hop, 1 worker, a tap open on all traffic)',
  'linnet-policy': 'linnet (1 hop, 1 worker, a Server with 20 routes and 100 identities)',
  nginx: 'nginx (1 worker)',
  haproxy: 'haproxy (1 thread)',
  'linnet-mesh': 'linnet meshed (2 proxies, mTLS)',
  'linnet-routes': 'linnet meshed, 50 routes + retries never triggered',
  'haproxy-mesh': 'haproxy pair (peer mesh, mTLS)',
};

/** The peer mesh baseline, and the meshed targets compared with it as well as with direct. */
export const PEER_MESH_TARGET = 'haproxy-mesh' satisfies TargetId;
export const COMPARED_WITH_PEER_MESH: readonly TargetId[] = ['linnet-mesh'];

export interface Cost {
  /** CPU seconds (user + system, every thread) the proxy spent per 1,000 operations (meshed: both proxies; the haproxy pair: both haproxies). */
  readonly cpuSecondsPer1k: Stat;
  /** The proxy's peak resident set (VmHWM) when the scenario finished, in bytes (meshed: both proxies). */
  readonly peakRssBytes: number;
  /**
   * Private memory (USS: pages no other process maps) when the scenario finished, in bytes: what
   * one more proxy on a node costs, since the node binary's pages are shared by every proxy on it.
   * Absent in results written before it was measured.
   */
  readonly privateBytes?: number;
  /** Proportional set size when the scenario finished (shared pages split among their users). */
  readonly pssBytes?: number;
}

export type Percentile = 'p50' | 'p90' | 'p99' | 'p99.9';
export const PERCENTILES: readonly Percentile[] = ['p50', 'p90', 'p99', 'p99.9'];

/** The soak (kind 'soak'): memory read every few seconds under a long constant mixed load. */
export interface SoakResult {
  /** Seconds of load, the offered rate (req/s, all kinds together), how often memory was read. */
  readonly seconds: number;
  readonly rate: number;
  readonly intervalS: number;
  /** Growth is measured from the first sample at or after this (60 s in a real soak). */
  readonly baselineAtS: number;
  /** The proxies' memory (meshed: both together), `t` seconds after the load started. */
  readonly samples: readonly MemorySample[];
  readonly growth: Growth;
  /** Requests answered and sent; per kind of traffic too (h1KeepAlive, h1NewConnection, grpc). */
  readonly ops: number;
  readonly sent: number;
  readonly kinds: Readonly<Record<string, { readonly ops: number; readonly errors: number; readonly sent: number }>>;
  /** The first few failures, as the load tool saw them. */
  readonly firstErrors?: readonly string[];
}

/** The idle-connection scenario (kind 'idle-conns'): what one idle keep-alive connection costs a proxy. */
export interface IdleConnsResult {
  /** Connections opened (one request answered on each), then held idle. */
  readonly connections: number;
  /** (memory while held − memory before) / connections, bytes, per run. */
  readonly perConnectionRssBytes: Stat;
  readonly perConnectionPrivateBytes: Stat;
  readonly beforeRssBytes: Stat;
  readonly heldRssBytes: Stat;
  readonly beforePrivateBytes: Stat;
  readonly heldPrivateBytes: Stat;
  /** The fewest connections over the runs that the client still had open after the proxy's memory was read, and that the kernel showed the proxy holding then (ss). */
  readonly heldAtClient: number;
  readonly heldAtProxy: number;
  /** Private bytes per connection over haproxy's, from the same run (the target: <= 2). */
  readonly vsHaproxy?: number;
  /** What the proxy was configured with to hold them (limits, timeouts). */
  readonly settings: string;
}

export interface TargetResult {
  readonly target: TargetId;
  readonly status: 'ok' | 'skipped' | 'failed';
  readonly reason?: string;
  /** Throughput scenarios: operations per second (or Gbit/s for tcp), per run. */
  readonly throughput?: Stat;
  /** throughput median / direct median from the same run. */
  readonly vsDirect?: number;
  /** Linnet's meshed path: throughput median / the haproxy pair's (`haproxy-mesh`) median from the same run. */
  readonly vsPeerMesh?: number;
  /** Errors summed over the measured runs (non-2xx, resets, failed calls). */
  readonly errors?: number;
  /** Constant-rate scenarios: latency in ms per percentile, per run. */
  readonly latencyMs?: Record<Percentile, Stat>;
  /** Latency added over direct at each percentile: median(target) - median(direct), ms. */
  readonly addedMs?: Record<Percentile, number>;
  /** Linnet's meshed path: latency over the haproxy pair's at each percentile: median(target) - median(haproxy-mesh), ms. */
  readonly overPeerMeshMs?: Record<Percentile, number>;
  /** Requests actually completed per second in the constant-rate runs (should equal the rate). */
  readonly achievedRate?: Stat;
  readonly cost?: Cost;
  readonly soak?: SoakResult;
  readonly idleConns?: IdleConnsResult;
}

/** throughput and latency: repeated runs of a load tool; soak and idle-conns: the memory scenarios. */
export type ScenarioKind = 'throughput' | 'latency' | 'soak' | 'idle-conns';

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly kind: ScenarioKind;
  /** Unit of `throughput`: 'req/s', 'msg/s', 'Gbit/s'. */
  readonly unit: string;
  /** The load tool and its settings, as a reader would re-run it. */
  readonly tool: string;
  /** For constant-rate scenarios: the offered rate. */
  readonly rate?: number;
  readonly status: 'ok' | 'skipped' | 'failed';
  readonly reason?: string;
  readonly targets: readonly TargetResult[];
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
  readonly loadAvgAtStart: readonly number[];
  /** 1, 5, 15-minute load averages when the run finished: with the start, how busy the machine was. */
  readonly loadAvgAtEnd?: readonly number[];
  readonly memoryBytes: number;
}

export interface Settings {
  readonly runs: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly rates: readonly number[];
  readonly quick: boolean;
  readonly pinning: string;
  readonly command: string;
  /** The soak's length and rate, and the idle-conns scenario's connections (absent in older files). */
  readonly soakSeconds?: number;
  readonly soakRate?: number;
  readonly idleConnections?: number;
}

export interface BenchResults {
  readonly schema: typeof SCHEMA;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly gitCommit: string;
  readonly machine: Machine;
  readonly settings: Settings;
  readonly scenarios: readonly ScenarioResult[];
}

/** Checks a parsed results file enough to compare against it; throws BenchError otherwise. */
export function validateResults(data: unknown, source = 'results'): BenchResults {
  const bad = (what: string): never => {
    throw new BenchError('LINNET_BENCH_BAD_RESULTS', `${source} is not a Linnet bench results file: ${what}`, `expected the results.json written by \`linnet bench\` (schema ${SCHEMA})`);
  };
  if (typeof data !== 'object' || data === null) return bad('not a JSON object');
  const d = data as Record<string, unknown>;
  if (d.schema !== SCHEMA) return bad(`schema is ${JSON.stringify(d.schema)}, not ${SCHEMA}`);
  if (!Array.isArray(d.scenarios)) return bad('no scenarios array');
  for (const [i, s] of (d.scenarios as unknown[]).entries()) {
    const sc = s as Record<string, unknown>;
    if (typeof sc?.id !== 'string' || !Array.isArray(sc.targets)) return bad(`scenario ${i} lacks id or targets`);
    if (!['ok', 'skipped', 'failed'].includes(sc.status as string)) return bad(`scenario ${sc.id} has status ${JSON.stringify(sc.status)}`);
    for (const t of sc.targets as Record<string, unknown>[]) {
      if (typeof t?.target !== 'string') return bad(`scenario ${sc.id} has a target without a name`);
      if (t.throughput !== undefined && !isStat(t.throughput)) return bad(`scenario ${sc.id}/${t.target}: throughput is not a stat`);
    }
  }
  if (typeof d.settings !== 'object' || typeof d.machine !== 'object') return bad('no settings or machine');
  return data as BenchResults;
}

function isStat(v: unknown): boolean {
  const s = v as Record<string, unknown>;
  // JSON has no NaN: a stat of failed runs carries null, which is allowed.
  const num = (x: unknown) => typeof x === 'number' || x === null;
  return typeof s === 'object' && s !== null && Array.isArray(s.runs) && num(s.median) && num(s.min) && num(s.max);
}
