/**
 * The memory scenarios, which do not fit the runner's repeat-and-take-the-median model of a load
 * tool: the soak (one long constant mixed load on the meshed paths, memory read every few
 * seconds, growth after the first minute) and idle-conns (many idle keep-alive connections held
 * on one proxy, memory per connection). Each runs itself through `run`, with the runner's checks
 * of the paths passed in.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchEnv } from './environment';
import { APPS_DIR, hardOpenFileLimit } from './environment';
import { BenchError } from './errors';
import { si } from './format';
import { perConnection, soakGrowth, soakSchedule, type MemorySample } from './memory';
import { parseAppReport } from './parsers';
import type { Progress } from './progress';
import { TARGET_LABEL, type IdleConnsResult, type ScenarioResult, type TargetId, type TargetResult } from './schema';
import { summarize, ratio } from './stats';
import { CONNECTION_HEADROOM, type Protocol } from './topology';
import { proxyOf, TARGET_ROUTE } from './scenarios';

export interface MemorySettings {
  /** Seconds of soak per target (600 in a full run). */
  readonly soakSeconds: number;
  /** The soak's offered rate, req/s over all kinds of traffic. */
  readonly soakRate: number;
  /** Idle keep-alive connections held per proxy (10,000 in a full run). */
  readonly idleConnections: number;
  /** Measured rounds of idle-conns (each target on a fresh process each round). */
  readonly runs: number;
  readonly quick: boolean;
}

/** What a memory scenario gets from the runner. */
export interface MemoryContext {
  readonly env: BenchEnv;
  readonly progress: Progress;
  /** Why Linnet's meshed path cannot be measured (no mTLS), probing once; undefined when it can. */
  meshSkipReason(): Promise<string | undefined>;
  /** Why `target`'s traffic on `proto` did not take its path (see runner.verifyPaths), or undefined. */
  pathProblem(target: TargetId, proto: Protocol): Promise<string | undefined>;
}

export interface MemoryScenarioDef {
  readonly id: string;
  readonly title: string;
  readonly kind: 'soak' | 'idle-conns';
  readonly unit: string;
  readonly targets: readonly TargetId[];
  tool(): string;
  /** Progress steps it will take. */
  steps(): number;
  run(ctx: MemoryContext): Promise<ScenarioResult>;
}

const node = (app: string) => [process.execPath, join(APPS_DIR, app)];
const failed = (target: TargetId, reason: string): TargetResult => ({ target, status: 'failed', reason });

function scenarioStatus(base: Omit<ScenarioResult, 'status' | 'targets'>, targets: TargetResult[]): ScenarioResult {
  const anyOk = targets.some((t) => t.status === 'ok');
  return { ...base, status: anyOk ? 'ok' : 'failed', ...(anyOk ? {} : { reason: 'no target could be measured' }), targets };
}

/**
 * The soak: Linnet's meshed path and the haproxy pair beside it, one after the other, each under
 * the same constant mixed load (bench/apps/soak-load.ts) for `soakSeconds`, their proxies' memory
 * (both proxies of a mesh together) read every few seconds from /proc.
 */
export function soakScenario(s: MemorySettings): MemoryScenarioDef {
  const targets: TargetId[] = ['linnet-mesh', 'haproxy-mesh'];
  const { intervalS, baselineAtS } = soakSchedule(s.soakSeconds);
  const def: MemoryScenarioDef = {
    id: 'soak-mesh',
    title: `Soak: ${s.soakSeconds} s at ${s.soakRate} req/s through the meshed path`,
    kind: 'soak',
    unit: 'MiB',
    targets,
    tool: () =>
      `bench/apps/soak-load --rate ${s.soakRate} --duration ${s.soakSeconds} (open loop: 50% HTTP/1.1 on 16 keep-alive connections, 20% HTTP/1.1 on a new connection each, 30% gRPC unary on a channel replaced every 10 s); both proxies' RSS, PSS and private memory read every ${intervalS} s; growth from ${baselineAtS} s to the end`,
    steps: () => targets.length,
    async run(ctx) {
      const out: TargetResult[] = [];
      for (const t of targets) out.push(await soakOne(ctx, t, s, intervalS, baselineAtS));
      return scenarioStatus({ id: def.id, title: def.title, kind: 'soak', unit: def.unit, tool: def.tool() }, out);
    },
  };
  return def;
}

async function soakOne(ctx: MemoryContext, t: TargetId, s: MemorySettings, intervalS: number, baselineAtS: number): Promise<TargetResult> {
  const { env, progress } = ctx;
  const label = `soak-mesh · ${t}`;
  if (t === 'linnet-mesh') {
    const reason = await ctx.meshSkipReason();
    if (reason) {
      progress.step(`${label}: skipped: ${reason}`);
      return { target: t, status: 'skipped', reason };
    }
  } else {
    try {
      progress.status(`${label} · checking the path`);
      await env.checkPeerMesh('http1');
      await env.checkPeerMesh('grpc');
    } catch (err) {
      progress.step(`${label}: check failed: ${(err as Error).message}`);
      return failed(t, (err as Error).message);
    }
  }
  const kind = proxyOf(t)!;
  const samples: MemorySample[] = [];
  const started = Date.now();
  const read = () => {
    const m = env.memoryNow(kind);
    samples.push({ t: Math.round((Date.now() - started) / 100) / 10, rss: m.rss, private: m.private, pss: m.pss });
    progress.status(`${label} · ${Math.round((Date.now() - started) / 1000)}/${s.soakSeconds} s · RSS ${si(m.rss / 1048576)} MiB`);
  };
  const cpu0 = env.cpuSeconds(kind);
  read();
  const timer = setInterval(read, intervalS * 1000);
  let text: string;
  try {
    const route = TARGET_ROUTE[t];
    text = await env.runLoad(
      [...node('soak-load.js'), '--http1', env.address(route, 'http1'), '--grpc', env.address(route, 'grpc'), '--rate', String(s.soakRate), '--duration', String(s.soakSeconds)],
      (s.soakSeconds + 60) * 1000,
    );
  } catch (err) {
    progress.step(`${label} failed: ${(err as Error).message}`);
    return failed(t, (err as Error).message);
  } finally {
    clearInterval(timer);
  }
  read();
  const cpu = env.cpuSeconds(kind) - cpu0;
  let r;
  try {
    r = parseAppReport<{ ops: number; seconds: number; errors: number; sent: number; kinds: Record<string, { ops: number; errors: number; sent: number }>; firstErrors: string[] }>(text, 'soak-load');
  } catch (err) {
    progress.step(`${label} failed: ${(err as Error).message}`);
    return failed(t, (err as Error).message);
  }
  for (const proto of ['http1', 'grpc'] as const) {
    const problem = await ctx.pathProblem(t, proto);
    if (problem) {
      progress.step(`${label} failed: ${problem}`);
      return failed(t, problem);
    }
  }
  const growth = soakGrowth(samples, baselineAtS);
  const mem = env.memoryNow(kind);
  progress.step(`${label}: ${si(r.ops)} requests, ${r.errors} errors, RSS ${si(growth.baselineRss / 1048576)} → ${si(growth.finalRss / 1048576)} MiB after ${growth.baselineT} s (${growth.rssGrowthPct.toFixed(1)}%)`);
  return {
    target: t,
    status: 'ok',
    errors: r.errors,
    achievedRate: summarize([r.ops / r.seconds]),
    soak: { seconds: s.soakSeconds, rate: s.soakRate, intervalS, baselineAtS, samples, growth, ops: r.ops, sent: r.sent, kinds: r.kinds, ...(r.firstErrors?.length ? { firstErrors: r.firstErrors } : {}) },
    cost: { cpuSecondsPer1k: summarize([r.ops > 0 ? (cpu / r.ops) * 1000 : NaN]), peakRssBytes: env.peakRss(kind), privateBytes: mem.private, pssBytes: mem.pss },
  };
}

type IdleKind = 'linnet' | 'nginx' | 'haproxy';

/** What Linnet's proxy needs to hold `n` idle keep-alive client connections (see idleConnsScenario). */
export function linnetIdleSettings(n: number): Record<string, string> {
  return {
    // The default cap is (open-file limit - 1024) / 8 per worker (limits.ts): 2,372 at the usual
    // ulimit -n of 20,000. Idle connections hold one descriptor each, so the cap is what must give.
    LINNET_PROXY_INBOUND_MAX_CONNECTIONS: String(n + 1024),
    // Linnet closes a keep-alive connection idle for its header read timeout (10 s); nginx's
    // keepalive_timeout and haproxy's timeout client are 120 s in this bench, so the same here.
    LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: '120s',
    // The load tool opens the connections 256 at a time from one process, which in that storm can
    // be slower than the 250 ms default to send its request after the handshake (a third of the
    // connections in some runs): detection then relays them as opaque, four descriptors each, and
    // the proxy runs out of them. nginx and haproxy detect nothing; this scenario measures idle
    // memory, so detection gets the time the storm needs.
    LINNET_PROXY_DETECT_TIMEOUT: '5s',
  };
}

/** Connections each warm-up opens and closes on a fresh proxy, so one-time set-up (JIT, pools) is not counted per connection. */
const IDLE_WARMUP_CONNECTIONS = 20;

/**
 * idle-conns: `idleConnections` HTTP/1.1 keep-alive connections, one request answered on each,
 * then held idle on one proxy (Linnet one hop, nginx, haproxy); memory per connection is the
 * delta of the proxy's private memory (and RSS) from before they were opened to while they are
 * held, over their number. Each target runs on a fresh process each round: allocators keep what a
 * run freed (V8's heap, glibc's arenas, haproxy's pools), so a second run on the same process
 * would reuse it and weigh nothing.
 */
export function idleConnsScenario(s: MemorySettings): MemoryScenarioDef {
  const targets: IdleKind[] = ['linnet', 'nginx', 'haproxy'];
  const n = s.idleConnections;
  const def: MemoryScenarioDef = {
    id: 'idle-conns',
    title: `${n} idle HTTP/1.1 keep-alive connections on one proxy`,
    kind: 'idle-conns',
    unit: 'B/conn',
    targets,
    tool: () =>
      `bench/apps/idle-conns --connections ${n} (256 at a time: connect, GET /, read the response, hold); each proxy restarted fresh per run, ${IDLE_WARMUP_CONNECTIONS} connections opened and closed first; memory read before and ${s.quick ? 1 : 2} s after all are held; connections counted at the client and with ss at the proxy`,
    steps: () => targets.length * s.runs,
    async run(ctx) {
      const acc = new Map<IdleKind, { runs: { before: { rss: number; private: number }; held: { rss: number; private: number }; client: number; proxy: number }[]; failures: string[] }>(
        targets.map((t) => [t, { runs: [], failures: [] }]),
      );
      try {
        for (let run = 1; run <= s.runs; run++) {
          for (const t of targets) {
            const a = acc.get(t)!;
            const label = `idle-conns · ${t} · run ${run}/${s.runs}`;
            try {
              const m = await idleOnce(ctx, t, n, s.quick, label);
              a.runs.push(m);
              const pc = perConnection(m.before, m.held, n);
              progress(ctx).step(`${label}: ${n} held, ${si(pc.private)} B private / ${si(pc.rss)} B RSS per connection`);
            } catch (err) {
              a.failures.push((err as Error).message);
              progress(ctx).step(`${label} failed: ${(err as Error).message}`);
            }
          }
        }
      } finally {
        // Back to the configuration every other scenario measures.
        ctx.progress.status('idle-conns: restarting the proxies with the usual settings');
        await ctx.env.startLinnet(1);
        for (const k of ['nginx', 'haproxy'] as const) await ctx.env.restartBaseline(k);
      }
      const results: TargetResult[] = targets.map((t) => {
        const a = acc.get(t)!;
        if (a.runs.length === 0) return failed(t, a.failures[0] ?? 'no run succeeded');
        const per = a.runs.map((m) => perConnection(m.before, m.held, n));
        const idle: IdleConnsResult = {
          connections: n,
          perConnectionRssBytes: summarize(per.map((p) => p.rss)),
          perConnectionPrivateBytes: summarize(per.map((p) => p.private)),
          beforeRssBytes: summarize(a.runs.map((m) => m.before.rss)),
          heldRssBytes: summarize(a.runs.map((m) => m.held.rss)),
          beforePrivateBytes: summarize(a.runs.map((m) => m.before.private)),
          heldPrivateBytes: summarize(a.runs.map((m) => m.held.private)),
          heldAtClient: Math.min(...a.runs.map((m) => m.client)),
          heldAtProxy: Math.min(...a.runs.map((m) => m.proxy)),
          settings: idleSettingsText(t, n),
        };
        return { target: t, status: 'ok', errors: a.failures.length, idleConns: idle, ...(a.failures.length ? { reason: `${a.failures.length} run(s) failed: ${a.failures[0]}` } : {}) };
      });
      const haproxy = results.find((r) => r.target === 'haproxy' && r.status === 'ok')?.idleConns?.perConnectionPrivateBytes.median;
      const withRatio = results.map((r) => (r.idleConns && haproxy !== undefined && r.target !== 'haproxy' ? { ...r, idleConns: { ...r.idleConns, vsHaproxy: ratio(r.idleConns.perConnectionPrivateBytes.median, haproxy) } } : r));
      return scenarioStatus({ id: def.id, title: def.title, kind: 'idle-conns', unit: def.unit, tool: def.tool() }, withRatio);
    },
  };
  return def;
}

const progress = (ctx: MemoryContext) => ctx.progress;

function idleSettingsText(t: IdleKind, n: number): string {
  if (t === 'linnet') return Object.entries(linnetIdleSettings(n)).map(([k, v]) => `${k}=${v}`).join(', ');
  const slots = Math.max(9000, n + CONNECTION_HEADROOM);
  if (t === 'nginx') return `worker_connections ${slots}, worker_rlimit_nofile ${Math.min(Math.max(20000, 2 * slots + 1024), hardOpenFileLimit() ?? Infinity)}, keepalive_timeout 120s`;
  const fd = hardOpenFileLimit();
  return `maxconn ${slots} (global and defaults)${fd !== undefined && fd < 2 * slots + 1024 ? `, no strict-limits (its open-file limit is ${fd})` : ''}, timeout client 120s`;
}

async function idleOnce(ctx: MemoryContext, t: IdleKind, n: number, quick: boolean, label: string) {
  const { env } = ctx;
  ctx.progress.status(`${label} · fresh ${TARGET_LABEL[t]}`);
  if (t === 'linnet') await env.startLinnet(1, linnetIdleSettings(n));
  else await env.restartBaseline(t, n);
  const limit = env.openFileLimit(t);
  if (limit !== undefined && limit < n + 64) {
    throw new BenchError('LINNET_BENCH_TOOL_FAILED', `${t}'s open-file limit is ${limit}, too low to hold ${n} connections`, 'raise ulimit -n for the bench (the proxies inherit it)');
  }
  const address = env.address(TARGET_ROUTE[t], 'http1');
  ctx.progress.status(`${label} · warm-up`);
  await env.runLoad([...node('idle-conns.js'), '--to', address, '--connections', String(IDLE_WARMUP_CONNECTIONS), '--once'], 60_000);
  await sleep(1000);
  const before = env.memoryNow(t);
  ctx.progress.status(`${label} · opening ${n} connections`);
  const client = env.spawnLoad([...node('idle-conns.js'), '--to', address, '--connections', String(n)], 'idle-conns');
  try {
    const held = await client.waitForEvent<{ event: string; held: number; failed: number; firstErrors: string[] }>((e) => e.event === 'held', 60_000 + n * 20);
    if (held.held !== n) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `${t}: ${held.held} of ${n} connections opened and answered (${held.failed} failed: ${held.firstErrors.join('; ')})`, `see the ${t} log`);
    // Let the proxy settle (timers, a GC) before its memory is read.
    await sleep(quick ? 1000 : 2000);
    const heldMem = env.memoryNow(t);
    const atProxy = await env.heldConnections(t);
    client.stdin!.write('check\n');
    const checked = await client.waitForEvent<{ event: string; open: number }>((e) => e.event === 'checked', 30_000);
    if (checked.open !== n) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `${t}: ${n - checked.open} of ${n} connections closed while held`, 'a proxy closing idle keep-alive connections early: check its idle timeouts');
    if (atProxy !== n) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `${t}: the kernel shows the proxy holding ${atProxy} client connections, not ${n}`, 'ss -tn state established in the app pod');
    return { before: { rss: before.rss, private: before.private }, held: { rss: heldMem.rss, private: heldMem.private }, client: checked.open, proxy: atProxy };
  } finally {
    if (client.running) client.stdin!.write('close\n');
    await client.stop(5000);
  }
}
