/**
 * `linnet bench` (`npm run bench`): what Linnet costs, measured against direct, nginx and
 * haproxy on the same network-namespace path. See bench/README section in the project README.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import type { Command } from '../core/command';
import { compareResults, renderComparison } from './compare';
import { BenchEnv } from './environment';
import { BenchError } from './errors';
import { Progress } from './progress';
import { publishResults, writeReport } from './report';
import { idleConnsScenario, soakScenario } from './memory-scenarios';
import { plannedSteps, runScenarios, type AnyScenario, type RunSettings } from './runner';
import { TARGET_LABEL, validateResults } from './schema';
import { scenarios } from './scenarios';
import { throughputTable } from './markdown';

/** dist/bench → the repository. */
const REPO_ROOT = join(__dirname, '..', '..');
const BENCH_SRC = join(REPO_ROOT, 'bench');

const TOOLS: Record<string, string> = {
  wrk: 'wrk',
  h2load: 'nghttp2-client',
  iperf3: 'iperf3',
  'redis-benchmark': 'redis-tools',
  'redis-server': 'redis-server',
  nginx: 'nginx-light',
  haproxy: 'haproxy',
  taskset: 'util-linux',
  socat: 'socat',
  ss: 'iproute2',
};

const USAGE = `usage: linnet bench [--quick] [--scenario ID[,ID...]] [--compare OLD.json] [options]

Measures what Linnet costs: every scenario against the app reached directly and through nginx and
haproxy (one worker each) on the same network-namespace path, in the same run; the meshed
scenarios (Linnet's two proxies with mTLS) also against a peer mesh, a haproxy pair with mTLS
and pooled HTTP/2 between them (target haproxy-mesh). Needs root (ip netns) and: wrk,
nghttp2-client (h2load), iperf3, redis-tools, redis-server, nginx-light, haproxy; optionally
libnginx-mod-stream (nginx in the TCP scenarios) and openssl (the haproxy pair's certificates;
without it that target fails with the reason).

options:
  --quick              a smoke run in seconds (1 run of 1 s per target, 1000 req/s only); CI uses it
  --scenario IDS       only these scenarios (comma-separated; --list shows them)
  --list               list the scenarios with their targets and exit
  --compare FILE       show the change against an earlier results.json
  --runs N             measured runs per target (default 5)
  --duration S         seconds per measured run (default 3)
  --warmup S           seconds of warm-up per target before the measured runs, not counted (default 1)
  --connections N      connections (or concurrent calls) per load tool (default 32)
  --rates R[,R...]     constant rates in req/s for the latency scenarios (default 1000,5000)
  --soak-seconds S     seconds of the soak (soak-mesh) per meshed path (default 600; --quick 6)
  --soak-rate R        the soak's offered rate in req/s, all kinds of traffic (default 2000)
  --idle-connections N idle keep-alive connections held per proxy in idle-conns (default 10000;
                       --quick 500)
  --out DIR            where to write results.json, report.md and the SVG charts
                       (default bench/out/<timestamp>/)
  --proxy-env K=V      an extra environment variable for Linnet's proxies only (repeatable), to
                       measure a setting: LINNET_PROXY_* or NODE_OPTIONS. A run with it does not
                       publish
  --no-publish         a full run (all scenarios, not --quick) also rewrites bench/RESULTS.md and
                       bench/results/; this leaves them alone

Progress goes to stderr; the Markdown throughput table to stdout. Exit code 0 when every scenario
ran (skipped targets allowed), 1 when any failed, 2 for bad arguments.
`;

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new BenchError('LINNET_BENCH_BAD_ARGS', `--${name} ${JSON.stringify(v)} is not a positive number`, USAGE.split('\n')[0]!);
  return n;
}

function checkTools(): void {
  const missing = Object.entries(TOOLS).filter(([t]) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length) {
    const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ');
    throw new BenchError('LINNET_BENCH_TOOL_MISSING', `missing tools: ${missing.map(([t]) => t).join(', ')}`, `run bench/setup.sh, or apt-get install -y ${pkgs}`);
  }
}

export const command: Command = {
  summary: 'the bench suite: Linnet against direct, nginx and haproxy (JSON, Markdown, SVG)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let v;
    try {
      v = parseArgs({
        args,
        options: {
          quick: { type: 'boolean' },
          scenario: { type: 'string', multiple: true },
          list: { type: 'boolean' },
          compare: { type: 'string' },
          runs: { type: 'string' },
          duration: { type: 'string' },
          warmup: { type: 'string' },
          connections: { type: 'string' },
          rates: { type: 'string' },
          'soak-seconds': { type: 'string' },
          'soak-rate': { type: 'string' },
          'idle-connections': { type: 'string' },
          out: { type: 'string' },
          'no-publish': { type: 'boolean' },
          'proxy-env': { type: 'string', multiple: true },
        },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (err) {
      process.stderr.write(`linnet bench: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    const quick = v.quick === true;
    let settings: RunSettings;
    try {
      settings = {
        runs: Math.round(positive('runs', v.runs, quick ? 1 : 5)),
        durationS: positive('duration', v.duration, quick ? 1 : 3),
        warmupS: v.warmup === '0' ? 0 : positive('warmup', v.warmup, quick ? 0 : 1),
        connections: Math.round(positive('connections', v.connections, quick ? 16 : 32)),
        rates: (v.rates ?? (quick ? '1000' : '1000,5000')).split(',').map((r) => positive('rates', r, 1000)),
        quick,
        command: ['linnet bench', ...args].join(' '),
        // --quick runs the memory scenarios' code paths in seconds: a 6 s soak, 500 connections.
        soakSeconds: positive('soak-seconds', v['soak-seconds'], quick ? 6 : 600),
        soakRate: positive('soak-rate', v['soak-rate'], 2000),
        idleConnections: Math.round(positive('idle-connections', v['idle-connections'], quick ? 500 : 10_000)),
      };
    } catch (err) {
      process.stderr.write(`linnet bench: ${(err as BenchError).describe()}\n`);
      return 2;
    }
    const proxyEnv: Record<string, string> = {};
    for (const kv of v['proxy-env'] ?? []) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/s.exec(kv);
      if (!m || !(m[1]!.startsWith('LINNET_PROXY_') || m[1] === 'NODE_OPTIONS')) {
        process.stderr.write(`linnet bench: --proxy-env ${JSON.stringify(kv)}: expected NAME=VALUE with NAME a LINNET_PROXY_* variable or NODE_OPTIONS\n`);
        return 2;
      }
      if (m[1] === 'LINNET_PROXY_WORKERS') {
        process.stderr.write('linnet bench: --proxy-env LINNET_PROXY_WORKERS: the scenarios set the workers themselves (linnet-2w is the two-worker target)\n');
        return 2;
      }
      proxyEnv[m[1]!] = m[2]!;
    }
    const memory = { soakSeconds: settings.soakSeconds!, soakRate: settings.soakRate!, idleConnections: settings.idleConnections!, runs: settings.runs, quick };
    const all: AnyScenario[] = [...scenarios(settings.rates), soakScenario(memory), idleConnsScenario(memory)];
    if (v.list) {
      for (const s of all) process.stdout.write(`${s.id.padEnd(22)} ${s.title} [${s.targets.join(', ')}]\n`);
      process.stdout.write(`\ntargets:\n${Object.entries(TARGET_LABEL).map(([id, label]) => `  ${id.padEnd(14)} ${label}`).join('\n')}\n`);
      return 0;
    }
    const wanted = (v.scenario ?? []).flatMap((s) => s.split(',')).filter(Boolean);
    const unknown = wanted.filter((w) => !all.some((s) => s.id === w || s.id.startsWith(`${w}-`)));
    if (unknown.length) {
      process.stderr.write(`linnet bench: unknown scenario(s) ${unknown.join(', ')}; known: ${all.map((s) => s.id).join(', ')}\n`);
      return 2;
    }
    // A prefix picks a family: --scenario grpc runs grpc-unary and grpc-stream.
    const defs = wanted.length ? all.filter((s) => wanted.some((w) => s.id === w || s.id.startsWith(`${w}-`))) : all;
    let old;
    if (v.compare) {
      if (!existsSync(v.compare)) throw new BenchError('LINNET_BENCH_BAD_ARGS', `--compare ${v.compare}: no such file`, 'give the results.json of an earlier run');
      old = validateResults(JSON.parse(readFileSync(v.compare, 'utf8')), v.compare);
    }
    if (process.getuid?.() !== 0) throw new BenchError('LINNET_BENCH_NEEDS_ROOT', 'linnet bench needs root', 'it builds network namespaces (ip netns) and applies iptables inside them; run it as root');
    checkTools();

    const progress = new Progress(plannedSteps(defs, settings));
    const outDir = v.out ?? join(BENCH_SRC, 'out', new Date().toISOString().replace(/[:.]/g, '-'));
    let env: BenchEnv | undefined;
    let results;
    const stop = () => {
      progress.note('interrupted: tearing down the bench cluster');
      void env?.destroy().finally(() => process.exit(130));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      env = await BenchEnv.create((s) => progress.status(`setup: ${s}`), proxyEnv);
      results = await runScenarios(env, defs, settings, progress, REPO_ROOT);
    } finally {
      progress.status('tearing down the bench cluster');
      await env?.destroy();
      progress.finish();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    const comparison = old ? '\n' + renderComparison(compareResults(old, results), v.compare!) : '';
    const written = writeReport(results, outDir, comparison);
    process.stdout.write(throughputTable(results) + '\n');
    if (comparison) process.stdout.write(comparison);
    process.stderr.write(`wrote ${written.json}\n      ${written.markdown}\n      ${written.charts.length} SVG charts in ${outDir}\n`);
    // bench/RESULTS.md is the defaults' record: a run with another proxy setting is not it.
    if (!quick && wanted.length === 0 && !v['no-publish'] && Object.keys(proxyEnv).length === 0) {
      const file = publishResults(results, BENCH_SRC, preface(results.settings.command));
      process.stderr.write(`wrote ${file} and bench/results/ (the latest full run)\n`);
    }
    return results.scenarios.some((s) => s.status === 'failed') ? 1 : 0;
  },
};

function preface(cmd: string): string {
  return [
    `The latest full run of \`${cmd}\` (\`npm run bench\`). **Taken on a shared 2-core machine** (the load averages below say how busy it was), so read the ratios against direct and the spreads rather than the absolute numbers, and re-run on your own hardware before drawing conclusions.`,
    '',
    'Set-up used (Debian 12): `apt-get install -y wrk nghttp2-client iperf3 redis-tools redis-server nginx-light libnginx-mod-stream haproxy`, then `npm ci && npm run build && sudo npm run bench`.',
  ].join('\n');
}
