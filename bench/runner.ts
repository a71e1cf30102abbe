/**
 * Runs the chosen scenarios in one bench cluster and returns the results. For each scenario:
 * one warm-up run per target (not counted), then `runs` rounds in which every target is measured
 * once, in turn, so that a change in the machine's load during the scenario hits all targets
 * alike; the proxy's CPU time is read around every measured run. Ratios are taken against the
 * direct baseline of the same scenario in the same run.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { MESH_SKIP_REASON, NOT_PROBED, type BenchEnv } from './environment';
import { Progress } from './progress';
import { COMPARED_WITH_PEER_MESH, PEER_MESH_TARGET, PERCENTILES, SCHEMA, type BenchResults, type Machine, type Percentile, type ScenarioResult, type Settings, type TargetId, type TargetResult } from './schema';
import { proxyOf, TARGET_ROUTE, type Measured, type ScenarioDef } from './scenarios';
import type { MemoryContext, MemoryScenarioDef } from './memory-scenarios';
import type { Protocol } from './topology';
import { summarize, ratio } from './stats';
import { si } from './format';

export interface RunSettings {
  runs: number;
  durationS: number;
  warmupS: number;
  connections: number;
  rates: number[];
  quick: boolean;
  command: string;
  /** The memory scenarios' settings, recorded in results.json (they are in their definitions). */
  soakSeconds?: number;
  soakRate?: number;
  idleConnections?: number;
}

/** A load-tool scenario the runner repeats, or a memory scenario that runs itself. */
export type AnyScenario = ScenarioDef | MemoryScenarioDef;

function isMemory(d: AnyScenario): d is MemoryScenarioDef {
  return 'run' in d;
}

export function machine(): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    kernel: release(),
    node: process.version,
    loadAvgAtStart: loadavg(),
    memoryBytes: totalmem(),
  };
}

export function gitCommit(cwd: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Measurements a scenario list will take (warm-ups included), for the progress display. */
export function plannedSteps(defs: readonly AnyScenario[], s: RunSettings): number {
  return defs.reduce((n, d) => n + (isMemory(d) ? d.steps() : d.targets.length * (s.runs + (s.warmupS > 0 ? 1 : 0))), 0);
}

interface Acc {
  values: number[];
  errors: number;
  cpuPer1k: number[];
  latency: Record<Percentile, number[]>;
  failures: string[];
}

export async function runScenarios(env: BenchEnv, defs: readonly AnyScenario[], s: RunSettings, progress: Progress, repoRoot: string): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const mach = machine();
  const results: ScenarioResult[] = [];
  for (const def of defs) {
    results.push(isMemory(def) ? await runMemoryScenario(env, def, progress) : await runScenario(env, def, s, progress));
  }
  const settings: Settings = {
    runs: s.runs,
    durationS: s.durationS,
    warmupS: s.warmupS,
    connections: s.connections,
    rates: s.rates,
    quick: s.quick,
    pinning: env.pinningText(),
    command: s.command,
    ...(defs.some((d) => d.kind === 'soak') ? { soakSeconds: s.soakSeconds, soakRate: s.soakRate } : {}),
    ...(defs.some((d) => d.kind === 'idle-conns') ? { idleConnections: s.idleConnections } : {}),
  };
  return { schema: SCHEMA, startedAt, finishedAt: new Date().toISOString(), gitCommit: gitCommit(repoRoot), machine: { ...mach, loadAvgAtEnd: loadavg() }, settings, scenarios: results };
}

async function runScenario(env: BenchEnv, def: ScenarioDef, s: RunSettings, progress: Progress): Promise<ScenarioResult> {
  const base = { id: def.id, title: def.title, kind: def.kind, unit: def.unit, tool: def.tool(s.connections, s.warmupS), ...(def.rate ? { rate: def.rate } : {}) };
  // The 2-worker scenario restarts the proxy; every other one runs with 1 worker.
  const workers = def.targets.includes('linnet-2w') ? 2 : 1;
  // The tap scenario's proxy serves tap (linnet: none open, linnet-tap: one on all traffic); the others' does not.
  // The policy scenario's proxy watches its inbound policy (linnet: a port with no Server, linnet-policy: the Server's).
  const settings = def.targets.includes('linnet-tap') ? env.tapSettings() : def.targets.includes('linnet-policy') ? env.policySettings() : {};
  const wanted = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(',');
  if (env.linnetWorkers !== workers || env.linnetSettings !== wanted) {
    progress.status(`${def.id}: restarting the linnet proxy with ${workers} worker(s)${wanted ? ` and ${wanted}` : ''}`);
    await env.startLinnet(workers, settings);
  }
  const skipped = new Map<TargetId, string>();
  if (def.targets.includes('linnet-mesh') || def.targets.includes('linnet-routes')) {
    if (env.meshSkipReason === NOT_PROBED) await probeMesh(env, progress);
    if (env.meshSkipReason) for (const t of ['linnet-mesh', 'linnet-routes'] as const) if (def.targets.includes(t)) skipped.set(t, env.meshSkipReason);
  }
  if (def.targets.includes('linnet-tap') && env.tapSkipReason) skipped.set('linnet-tap', env.tapSkipReason);
  if (def.targets.includes('linnet-policy') && env.policySkipReason) skipped.set('linnet-policy', env.policySkipReason);
  if (!env.nginxHasStream && (def.protocol === 'iperf' || def.protocol === 'redis')) {
    skipped.set('nginx', 'needs the nginx stream module for TCP proxying (apt-get install libnginx-mod-stream)');
  }
  const targets = def.targets.filter((t) => !skipped.has(t));
  if (skipped.size) progress.setTotal(progress.total - skipped.size * (s.runs + (s.warmupS > 0 ? 1 : 0)));
  const acc = new Map<TargetId, Acc>(targets.map((t) => [t, { values: [], errors: 0, cpuPer1k: [], latency: { p50: [], p90: [], p99: [], 'p99.9': [] }, failures: [] }]));
  const hint = new Map<TargetId, number>();
  const checkFailed = new Map<TargetId, string>();

  const measure = (t: TargetId, seconds: number): Promise<Measured> =>
    def.measure({ env, address: env.address(TARGET_ROUTE[t], def.protocol), seconds, connections: s.connections, warmupS: s.warmupS, hintRate: hint.get(t), rate: def.rate });
  // linnet-tap: the same proxy as linnet, with a tap open on all its traffic for the measurement.
  const once = async (t: TargetId, seconds: number): Promise<Measured> => {
    if (t !== 'linnet-tap') return measure(t, seconds);
    await env.openTap();
    try {
      return await measure(t, seconds);
    } finally {
      const read = await env.closeTap();
      if (read) progress.note(`${def.id} · linnet-tap: the tap reader took ${read.requests} requests (${read.events} events)`);
    }
  };

  // Paths with their own check (the peer mesh: up, mTLS and HTTP/2 between its haproxies) and
  // scenarios with one (gRPC: a real client) are checked before the warm-up; a failure fails the
  // target with its reason and the others go on.
  for (const t of [...targets]) {
    if (!def.check && t !== PEER_MESH_TARGET) continue;
    progress.status(`${def.id} · ${t} · checking the path`);
    try {
      if (t === PEER_MESH_TARGET) await env.checkPeerMesh(def.protocol);
      if (def.check) await def.check({ env, address: env.address(TARGET_ROUTE[t], def.protocol), seconds: 1, connections: s.connections, warmupS: s.warmupS });
    } catch (err) {
      checkFailed.set(t, (err as Error).message);
      targets.splice(targets.indexOf(t), 1);
      progress.note(`${def.id} · ${t}: check failed: ${(err as Error).message}`);
    }
  }
  if (s.warmupS > 0) {
    for (const t of targets) {
      progress.status(`${def.id} · ${t} · warm-up`);
      try {
        const w = await once(t, s.warmupS);
        hint.set(t, w.rate);
        progress.step(`${def.id} · ${t} · warm-up ${si(w.value)} ${def.unit}`);
      } catch (err) {
        progress.step(`${def.id} · ${t} · warm-up failed: ${(err as Error).message}`);
      }
    }
  }
  for (let run = 1; run <= s.runs; run++) {
    for (const t of targets) {
      const a = acc.get(t)!;
      progress.status(`${def.id} · ${t} · run ${run}/${s.runs}`);
      const kind = proxyOf(t);
      const cpu0 = kind ? env.cpuSeconds(kind) : NaN;
      try {
        const m = await once(t, s.durationS);
        const cpu = kind ? env.cpuSeconds(kind) - cpu0 : NaN;
        a.values.push(m.value);
        a.errors += m.errors;
        a.cpuPer1k.push(m.ops > 0 ? (cpu / m.ops) * 1000 : NaN);
        for (const p of PERCENTILES) a.latency[p].push(m.latencyMs?.[p] ?? NaN);
        if (!hint.has(t)) hint.set(t, m.rate);
        const lat = m.latencyMs ? ` p99 ${m.latencyMs.p99.toFixed(2)} ms` : '';
        progress.step(`${def.id} · ${t} · run ${run}/${s.runs}: ${si(m.value)} ${def.unit}${lat}${m.errors ? ` (${m.errors} errors)` : ''}`);
      } catch (err) {
        a.values.push(NaN);
        a.cpuPer1k.push(NaN);
        for (const p of PERCENTILES) a.latency[p].push(NaN);
        a.failures.push((err as Error).message);
        progress.step(`${def.id} · ${t} · run ${run}/${s.runs} failed: ${(err as Error).message}`);
      }
    }
  }

  await verifyPaths(env, def, targets, checkFailed, progress);

  const out: TargetResult[] = [];
  const directThroughput = acc.get('direct') ? summarize(acc.get('direct')!.values).median : NaN;
  const directLatency = acc.get('direct') ? Object.fromEntries(PERCENTILES.map((p) => [p, summarize(acc.get('direct')!.latency[p]).median])) : undefined;
  // The peer mesh baseline, when it was measured and its path held: what Linnet's meshed path is also compared with.
  const pair = acc.get(PEER_MESH_TARGET) && !checkFailed.has(PEER_MESH_TARGET) ? acc.get(PEER_MESH_TARGET)! : undefined;
  const pairThroughput = pair ? summarize(pair.values).median : NaN;
  const pairLatency = pair ? Object.fromEntries(PERCENTILES.map((p) => [p, summarize(pair.latency[p]).median])) : undefined;
  const pairLatencyOk = pairLatency !== undefined && PERCENTILES.some((p) => Number.isFinite(pairLatency[p]));
  for (const t of def.targets) {
    const reason = skipped.get(t);
    if (reason) {
      out.push({ target: t, status: 'skipped', reason });
      continue;
    }
    if (checkFailed.has(t)) {
      out.push({ target: t, status: 'failed', reason: checkFailed.get(t) });
      continue;
    }
    const a = acc.get(t)!;
    const thr = summarize(a.values);
    if (!Number.isFinite(thr.median)) {
      out.push({ target: t, status: 'failed', reason: a.failures[0] ?? 'no run succeeded' });
      continue;
    }
    const kind = proxyOf(t);
    const mem = kind ? env.memoryNow(kind) : undefined;
    const cost = kind ? { cpuSecondsPer1k: summarize(a.cpuPer1k), peakRssBytes: env.peakRss(kind), privateBytes: mem!.private, pssBytes: mem!.pss } : undefined;
    const vsPair = COMPARED_WITH_PEER_MESH.includes(t) && pair !== undefined;
    const r: TargetResult =
      def.kind === 'latency'
        ? {
            target: t,
            status: 'ok',
            errors: a.errors,
            achievedRate: thr,
            latencyMs: Object.fromEntries(PERCENTILES.map((p) => [p, summarize(a.latency[p])])) as Record<Percentile, ReturnType<typeof summarize>>,
            addedMs: directLatency ? (Object.fromEntries(PERCENTILES.map((p) => [p, summarize(a.latency[p]).median - directLatency[p]!])) as Record<Percentile, number>) : undefined,
            ...(vsPair && pairLatencyOk ? { overPeerMeshMs: Object.fromEntries(PERCENTILES.map((p) => [p, summarize(a.latency[p]).median - pairLatency[p]!])) as Record<Percentile, number> } : {}),
            ...(cost ? { cost } : {}),
          }
        : {
            target: t,
            status: 'ok',
            errors: a.errors,
            throughput: thr,
            vsDirect: ratio(thr.median, directThroughput),
            ...(vsPair && Number.isFinite(pairThroughput) ? { vsPeerMesh: ratio(thr.median, pairThroughput) } : {}),
            ...(cost ? { cost } : {}),
          };
    out.push(r);
  }
  const anyOk = out.some((t) => t.status === 'ok');
  return { ...base, status: anyOk ? 'ok' : 'failed', ...(anyOk ? {} : { reason: 'no target could be measured' }), targets: out };
}

/**
 * A figure is only worth something if the traffic took the path it is labelled with: Linnet's
 * targets must show connections in Linnet's proxies, the others none (a port-plan or iptables
 * mistake would otherwise pass a baseline off as Linnet, or the reverse). The address is where the
 * path enters the app pod: for the peer mesh, the hop between its haproxies, which neither of
 * Linnet's proxies may have caught.
 */
async function verifyPaths(env: BenchEnv, def: ScenarioDef, targets: TargetId[], failed: Map<TargetId, string>, progress: Progress): Promise<void> {
  for (const t of targets) {
    const problem = await pathProblem(env, t, def.protocol, (note) => progress.note(`${def.id} · ${t}: ${note}`));
    if (problem) {
      failed.set(t, problem);
      progress.note(`${def.id} · ${t}: ${problem}`);
    }
  }
}

/** Why `t`'s traffic on `proto` did not take its path, or undefined when it did (or the metrics could not be read: noted). */
async function pathProblem(env: BenchEnv, t: TargetId, proto: Protocol, note: (text: string) => void): Promise<string | undefined> {
  const address = env.crossingAddress(TARGET_ROUTE[t], proto);
  let seen: number;
  try {
    seen = await env.proxiedConnections(address);
  } catch (err) {
    note(`cannot read the proxy's metrics to check the path: ${(err as Error).message}`);
    return undefined;
  }
  const viaLinnet = proxyOf(t) === 'linnet' || proxyOf(t) === 'linnet-mesh';
  if (viaLinnet && seen === 0) return `the traffic to ${address} never reached the app pod's Linnet proxy (tcp_open_total is 0): not a Linnet figure`;
  if (!viaLinnet && seen > 0) return `the traffic to ${address} went through a Linnet proxy (${seen} connections, app pod inbound and load pod outbound): not a ${t} figure`;
  return undefined;
}

/** A memory scenario runs itself; it starts from Linnet's usual settings (1 worker, defaults) and gets the runner's path checks. */
async function runMemoryScenario(env: BenchEnv, def: MemoryScenarioDef, progress: Progress): Promise<ScenarioResult> {
  if (env.linnetWorkers !== 1 || env.linnetSettings) {
    progress.status(`${def.id}: restarting the linnet proxy with 1 worker`);
    await env.startLinnet(1);
  }
  const ctx: MemoryContext = {
    env,
    progress,
    async meshSkipReason() {
      if (env.meshSkipReason === NOT_PROBED) await probeMesh(env, progress);
      return env.meshSkipReason;
    },
    pathProblem: (t, proto) => pathProblem(env, t, proto, (note) => progress.note(`${def.id} · ${t}: ${note}`)),
  };
  return def.run(ctx);
}

/**
 * The meshed path counts only with mTLS between the two proxies (that is what a mesh costs). Try
 * it: send requests over the mesh port and ask the app pod's proxy whether they arrived over TLS.
 */
async function probeMesh(env: BenchEnv, progress: Progress): Promise<void> {
  progress.status('probing the meshed path for mTLS');
  const reason = MESH_SKIP_REASON;
  try {
    await env.runLoad(['wrk', '-t1', '-c2', '-d1s', `http://${env.address('mesh', 'http1')}/`], 30_000);
    const samples = await env.app.metrics();
    const tls = samples.some((x) => x.labels.direction === 'inbound' && x.labels.tls === 'true' && x.value > 0);
    env.meshSkipReason = tls ? undefined : reason;
  } catch (err) {
    env.meshSkipReason = `${reason} (probe failed: ${(err as Error).message})`;
  }
  if (env.meshSkipReason) progress.note(`skipped: ${env.meshSkipReason}`);
}
