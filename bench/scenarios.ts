/**
 * The scenarios: what load, by which tool, over which targets. Each `measure` runs the tool once
 * in the load pod against one target's address and returns what it achieved. The runner repeats,
 * interleaves targets, warms up and takes the medians.
 */
import { join } from 'node:path';
import type { BenchEnv, ProxyKind } from './environment';
import { APPS_DIR } from './environment';
import { parseAppReport, parseH2load, parseIperf3, parseRedisBenchmarkCsv, parseWrk, type LoadOutcome } from './parsers';
import type { Percentile, TargetId } from './schema';
import type { Protocol, Route } from './topology';
import { BenchError } from './errors';

export interface Measured extends LoadOutcome {
  /** The figure reported (req/s, msg/s, Gbit/s). */
  readonly value: number;
  /** Constant-rate scenarios: latency percentiles in ms. */
  readonly latencyMs?: Record<Percentile, number>;
}

export interface MeasureArgs {
  env: BenchEnv;
  address: string;
  seconds: number;
  connections: number;
  /**
   * The run's warm-up in seconds (--warmup). 0 when the run asked for none (--quick, --warmup 0):
   * then a scenario does not warm up inside its measured run either.
   */
  warmupS: number;
  /** The rate a warm-up achieved, for tools that take a count rather than a duration. */
  hintRate?: number;
  rate?: number;
}

export interface ScenarioDef {
  readonly id: string;
  readonly title: string;
  readonly kind: 'throughput' | 'latency';
  readonly unit: string;
  readonly protocol: Protocol;
  readonly targets: readonly TargetId[];
  readonly rate?: number;
  /** How the tool is run, for the report; `warmupS` as in MeasureArgs. */
  tool(connections: number, warmupS: number): string;
  /** Run once per target before the warm-up: throws when the path does not work right. */
  check?(a: MeasureArgs): Promise<void>;
  measure(a: MeasureArgs): Promise<Measured>;
}

export const TARGET_ROUTE: Record<TargetId, Route> = {
  direct: 'direct',
  linnet: 'linnet',
  'linnet-2w': 'linnet',
  'linnet-tap': 'linnet',
  'linnet-policy': 'policy',
  'linnet-mesh': 'mesh',
  'linnet-routes': 'routes',
  nginx: 'nginx',
  haproxy: 'haproxy',
  'haproxy-mesh': 'hamesh',
};

/** Whose CPU and memory a target's cost is read from (direct has no proxy). */
export function proxyOf(t: TargetId): ProxyKind | undefined {
  if (t === 'nginx' || t === 'haproxy') return t;
  if (t === 'linnet-mesh' || t === 'haproxy-mesh') return t;
  if (t === 'linnet-routes') return 'linnet-mesh';
  if (t === 'linnet' || t === 'linnet-2w' || t === 'linnet-tap' || t === 'linnet-policy') return 'linnet';
  return undefined;
}

const secs = (s: number) => Math.max(1, Math.round(s));
const node = (app: string) => [process.execPath, join(APPS_DIR, app)];
const timeout = (s: number) => (s + 30) * 1000;
const ALL: TargetId[] = ['direct', 'linnet', 'nginx', 'haproxy'];
/** The meshed paths: Linnet's two proxies, and the peer mesh baseline (a haproxy pair) beside it. */
const MESHED: TargetId[] = ['linnet-mesh', 'haproxy-mesh'];
/**
 * Seconds of load at the scenario's rate on the measured run's own connections before its
 * measurement starts. The runner's warm-up is a separate process ~10-15 s earlier (the other
 * targets run in between): by then pooled HTTP/1 upstream connections have idled out
 * (LINNET_PROXY_HTTP_POOL_IDLE_TIMEOUT, 10 s), and every run opens its own new connections, so
 * without this each measured run began with connection set-up under load (on the meshed path of
 * an HTTP/1 pool, a burst of mTLS handshakes on the proxies' core) inside the measured window:
 * not the per-request latency this scenario reports.
 */
export const LATENCY_WARMUP_S = 1;
/** The in-run warm-up a latency scenario takes: none when the run has no warm-up at all. */
const latencyWarmupS = (runWarmupS: number) => (runWarmupS > 0 ? LATENCY_WARMUP_S : 0);

/** `script`: a wrk Lua file in the bench dir (environment.ts writes them), e.g. for uploads. */
function wrkScenario(id: string, title: string, path: string, conns: (c: number) => number, targets: TargetId[], script?: string): ScenarioDef {
  return {
    id,
    title,
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'http1',
    targets,
    tool: (c) => `wrk -t1 -c${conns(c)} -d<duration>${script ? ` -s ${script}` : ''} http://<app>${path}`,
    async measure(a) {
      const lua = script ? ['-s', join(a.env.dir, script)] : [];
      const out = await a.env.runLoad(['wrk', '-t1', `-c${conns(a.connections)}`, `-d${secs(a.seconds)}s`, '--timeout', '10s', ...lua, `http://${a.address}${path}`], timeout(a.seconds));
      const r = parseWrk(out);
      return { ...r, value: r.rate };
    },
  };
}

/** gRPC unary calls of 64 B with h2load; each path first checked with a real gRPC client. */
function grpcUnary(id: string, title: string, targets: TargetId[]): ScenarioDef {
  return {
    id,
    title,
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'grpc',
    targets,
    // h2load drives ~10x the calls a Node gRPC client can; it does not read grpc-status, so each
    // path is first checked with a real gRPC client (check below).
    tool: (c) => `h2load -t1 -c${Math.max(1, c >> 3)} -m16 -d <64 B gRPC frame> -H 'content-type: application/grpc' -H 'te: trailers' http://<app>/linnet.bench.Echo/Unary; each path first checked with @grpc/grpc-js`,
    async check(a) {
      const out = await a.env.runLoad([...node('grpc-load.js'), '--to', a.address, '--mode', 'unary', '--concurrency', '2', '--duration', '0.5'], timeout(1));
      const r = parseAppReport(out, 'grpc-load');
      if (r.errors > 0 || r.ops === 0) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `gRPC check on ${a.address}: ${r.ops} calls ok, ${r.errors} failed`, 'the path does not carry gRPC correctly; see the proxy log');
    },
    async measure(a) {
      const frame = join(a.env.dir, 'grpc-unary-64.bin');
      const out = await a.env.runLoad(
        ['h2load', '-t1', `-c${Math.max(1, a.connections >> 3)}`, '-m16', '-D', String(secs(a.seconds)), '-d', frame, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://${a.address}/linnet.bench.Echo/Unary`],
        timeout(a.seconds),
      );
      const r = parseH2load(out);
      return { ...r, value: r.rate };
    },
  };
}

/** Constant-rate HTTP/1.1 (bench/apps/open-loop): latency percentiles at `rate` req/s, on `conns(--connections)` connections. */
function latencyScenario(id: string, title: string, rate: number, conns: (c: number) => number, targets: TargetId[]): ScenarioDef {
  return {
    id,
    title,
    kind: 'latency',
    unit: 'req/s',
    protocol: 'http1',
    rate,
    targets,
    tool: (c, w) => `bench/apps/open-loop --rate ${rate} --connections ${conns(c)} --warmup ${latencyWarmupS(w)} (open loop, HdrHistogram, latency from the intended send time, connections used in turn)`,
    async measure(a) {
      const warmup = latencyWarmupS(a.warmupS);
      const out = await a.env.runLoad(
        [...node('open-loop.js'), '--to', a.address, '--rate', String(rate), '--duration', String(a.seconds), '--warmup', String(warmup), '--connections', String(conns(a.connections))],
        timeout(a.seconds + warmup),
      );
      const r = parseAppReport<{ ops: number; seconds: number; errors: number; p50: number; p90: number; p99: number; 'p99.9': number }>(out, 'open-loop');
      return { ...r, value: r.rate, latencyMs: { p50: r.p50, p90: r.p90, p99: r.p99, 'p99.9': r['p99.9'] } };
    },
  };
}

export function scenarios(rates: readonly number[]): ScenarioDef[] {
  const list: ScenarioDef[] = [
    wrkScenario('http1-small', 'HTTP/1.1 small requests', '/', (c) => c, [...ALL, ...MESHED]),
    wrkScenario('http1-1mb', 'HTTP/1.1 1 MiB responses', '/big', (c) => Math.min(c, 8), ALL),
    wrkScenario('http1-1mb-up', 'HTTP/1.1 1 MiB request bodies (POST)', '/', (c) => Math.min(c, 8), ALL, 'post-1mib.lua'),
    {
      id: 'h2',
      title: 'HTTP/2 (h2c) small requests',
      kind: 'throughput',
      unit: 'req/s',
      protocol: 'h2',
      targets: ALL,
      tool: (c) => `h2load -t1 -c${Math.max(1, c >> 3)} -m16 -D <duration> http://<app>/ (nginx: h2c in, HTTP/1.1 to the app)`,
      async measure(a) {
        const out = await a.env.runLoad(['h2load', '-t1', `-c${Math.max(1, a.connections >> 3)}`, '-m16', '-D', String(secs(a.seconds)), `http://${a.address}/`], timeout(a.seconds));
        const r = parseH2load(out);
        return { ...r, value: r.rate };
      },
    },
    grpcUnary('grpc-unary', 'gRPC unary (64 B)', ALL),
    grpcUnary('grpc-unary-mesh', 'gRPC unary (64 B), meshed', ['direct', ...MESHED]),
    {
      id: 'grpc-stream',
      title: 'gRPC bidi streaming (64 B messages)',
      kind: 'throughput',
      unit: 'msg/s',
      protocol: 'grpc',
      targets: ALL,
      tool: (c) => `bench/apps/grpc-load --mode stream --concurrency ${c} (@grpc/grpc-js, one channel, one message in flight per stream)`,
      async measure(a) {
        const out = await a.env.runLoad([...node('grpc-load.js'), '--to', a.address, '--mode', 'stream', '--concurrency', String(a.connections), '--duration', String(a.seconds)], timeout(a.seconds));
        const r = parseAppReport(out, 'grpc-load');
        return { ...r, value: r.rate };
      },
    },
    {
      id: 'ws',
      title: 'WebSocket echo (64 B messages)',
      kind: 'throughput',
      unit: 'msg/s',
      protocol: 'ws',
      targets: ALL,
      tool: (c) => `bench/apps/ws-load --connections ${c} (ws, one message in flight per connection)`,
      async measure(a) {
        const out = await a.env.runLoad([...node('ws-load.js'), '--url', `ws://${a.address}/`, '--connections', String(a.connections), '--duration', String(a.seconds)], timeout(a.seconds));
        const r = parseAppReport(out, 'ws-load');
        return { ...r, value: r.rate };
      },
    },
    {
      id: 'tcp-iperf3',
      title: 'Opaque TCP throughput (iperf3)',
      kind: 'throughput',
      unit: 'Gbit/s',
      protocol: 'iperf',
      targets: ALL,
      tool: () => 'iperf3 -c <app> -t <duration> -J (one stream; cost per GB)',
      async measure(a) {
        const [host, p] = a.address.split(':') as [string, string];
        const out = await a.env.runLoad(['iperf3', '-c', host, '-p', p, '-t', String(secs(a.seconds)), '-J'], timeout(a.seconds));
        const r = parseIperf3(out.slice(out.indexOf('{')));
        // ops in MB, so the cost "per 1k ops" reads as CPU seconds per GB.
        return { value: r.bitsPerSecond / 1e9, rate: r.bitsPerSecond / 8e6, ops: r.bytes / 1e6, errors: 0 };
      },
    },
    {
      id: 'redis',
      title: 'Redis GET, client speaks first (redis-benchmark)',
      kind: 'throughput',
      unit: 'req/s',
      protocol: 'redis',
      targets: ALL,
      tool: (c) => `redis-benchmark -t get -c ${c} -n <rate × duration> --csv`,
      async measure(a) {
        const [host, p] = a.address.split(':') as [string, string];
        // redis-benchmark takes a request count: sized from the warm-up's rate to last ~duration.
        const n = Math.max(1000, Math.round((a.hintRate ?? 20_000) * a.seconds));
        const out = await a.env.runLoad(['redis-benchmark', '-h', host, '-p', p, '-t', 'get', '-c', String(a.connections), '-n', String(n), '--csv'], timeout(a.seconds * 4));
        const rps = parseRedisBenchmarkCsv(out).get('GET') ?? NaN;
        return { value: rps, rate: rps, ops: n, errors: 0 };
      },
    },
  ];
  for (const rate of rates) list.push(latencyScenario(`latency-http1-${rate}`, `HTTP/1.1 at a constant ${rate} req/s`, rate, (c) => c, [...ALL, ...MESHED]));
  // The tail with the CPU mostly idle: one connection, a request every 5 ms. A request due while
  // the one before is still out waits for it, and that wait counts, so any pause on the path (a
  // collection, a timer, a flush that waits for something) shows at p99 in full.
  list.push(latencyScenario('latency-http1-1conn', 'HTTP/1.1 at a constant 200 req/s on one connection', 200, () => 1, [...ALL, ...MESHED]));
  // The route layer's cost: the same meshed path and app, once by the Service's virtual IP (50
  // HTTPRoutes attached, retries on, never triggered) and once by the endpoint's address (no routes).
  list.push(wrkScenario('routes-http1', 'HTTP/1.1 small requests, meshed: 50 routes with retries vs none', '/', (c) => c, ['direct', 'linnet-mesh', 'linnet-routes']));
  // The same route layer's cost as latency at a constant rate: what 50 routes with retries add to p50/p99.
  list.push(latencyScenario('latency-routes', 'HTTP/1.1 at a constant 1000 req/s, meshed: 50 routes with retries vs none', 1000, (c) => c, ['direct', 'linnet-mesh', 'linnet-routes']));
  list.push({ ...wrkScenario('cost-2w', 'HTTP/1.1 small requests, Linnet with 2 workers', '/', (c) => c, ['direct', 'linnet-2w']) });
  // Tap's cost: the same proxy with no tap open, and with one open on all its traffic (a reader in
  // the control pod taking every event, the rate cap raised so that every request is tapped).
  list.push({ ...wrkScenario('cost-tap', 'HTTP/1.1 small requests, no tap open vs a tap on all traffic', '/', (c) => c, ['direct', 'linnet', 'linnet-tap']) });
  // The inbound policy's cost (bench/policy-cost.ts): the same proxy watching its policy, one port
  // under a Server of 20 routes each authorized by 100 identities or the load pod's network, one
  // port with no Server (the all-unauthenticated default).
  list.push(wrkScenario('cost-policy', 'HTTP/1.1 small requests, 1 hop: a Server with 20 routes and 100 identities vs no Server (default policy), same proxy', '/', (c) => c, ['direct', 'linnet', 'linnet-policy']));
  return list;
}
