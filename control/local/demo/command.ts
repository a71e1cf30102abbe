/**
 * `linnet demo` (`npm start`): the local mesh in network namespaces — control plane, meshed web
 * (HTTP/1) and emoji (gRPC) services with two replicas each, a traffic client — and a live table
 * per workload like `linkerd viz stat deploy`, computed from the proxies' own /metrics.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../../../core/command';
import { parseDuration, parsePositiveInt } from '../../../core/parse';
import { REPO_ROOT, rootSkipReason, type Pod } from '../pods';
import { createDemo, DemoInterrupted, SERVICES, type Demo, type Workload } from './demo-mesh';
import { addDeltas, delta, proxySnapshot, stat, type ProxySnapshot } from './stats';
import { renderFrame, renderScreen, renderSummary, verdict, type TableRow, type WorkloadResult } from './view';

const usage = `usage: linnet demo [--duration 30s] [--rps 10] [--interval 2s] [--min-success 90] [--conns 4] [--workers 1]

Builds a local mesh in network namespaces and shows its golden metrics live:
  control   linnet control (destination :8086, identity :8080; CA from linnet identity create)
  web       HTTP/1 service, 2 replicas (web1 fails 5% of requests), virtual IP 10.96.0.10:8080
  emoji     gRPC service, 2 replicas (emoji1 ~15 ms slower, fails 1% of calls), virtual IP 10.96.0.11:8090
  traffic   a client sending R HTTP requests/s and R gRPC calls/s to the virtual IPs
Every pod but the control pod has linnet init's iptables and a linnet proxy (uid 2102) that
certifies itself with the identity service and asks the destination service where services are;
proxies talk mTLS to each other. Every interval a table like \`linkerd viz stat deploy\` shows one
row per workload (and its pods below it): MESHED (proxies ready), SUCCESS, RPS, LATENCY_P50/P95/P99
(from the response_latency_ms histogram's increase over the interval) and TCP_CONN, read from the
inbound side of each proxy's own /metrics. Ctrl-C (SIGINT) or SIGTERM tears everything down.
Needs root (ip netns, iptables) and a build (npm run build).

options:
  --duration D      stop after D (e.g. 30s, 2m) and print a summary; default: until Ctrl-C
  --rps R           HTTP requests and gRPC calls per second, each (default 10)
  --interval D      table refresh (default 2s)
  --min-success P   success rate (percent) the run must reach to exit 0 (default 90)
  --conns N         keep-alive connections (HTTP) and channels (gRPC) the client spreads load over (default 4)
  --workers N       LINNET_PROXY_WORKERS for every proxy (default 1)

exit status: 0 when every proxy was ready, traffic reached every service, mTLS was used
(tls="true") and the success rate reached --min-success; 1 otherwise; 2 for bad flags.
`;

function progress(step: string): void {
  process.stderr.write(`linnet demo: ${step}\n`);
}

interface PodScrape {
  snap?: ProxySnapshot;
  ready: boolean;
}

async function scrape(pod: Pod, server: boolean): Promise<PodScrape> {
  const [snap, ready] = await Promise.all([
    pod.metrics().then(
      (s) => proxySnapshot(s, Date.now(), server ? 'inbound' : 'outbound'),
      () => undefined, // shown as not ready; the proxy's log says why
    ),
    pod.admin('GET', '/ready', 1500).then(
      (r) => r.status === 200,
      () => false,
    ),
  ]);
  return { snap, ready };
}

type Scrapes = Map<Pod, PodScrape>;

async function scrapeAll(workloads: readonly Workload[]): Promise<Scrapes> {
  const pods = workloads.flatMap((w) => w.pods.map((p) => [p, w.server] as const));
  const got = await Promise.all(pods.map(([p, server]) => scrape(p, server)));
  return new Map(pods.map(([p], i) => [p, got[i]!]));
}

/** Table rows (workload, then its pods when it has several) between two rounds of scrapes. */
function rowsBetween(workloads: readonly Workload[], from: Scrapes, to: Scrapes): { rows: TableRow[]; results: WorkloadResult[] } {
  const rows: TableRow[] = [];
  const results: WorkloadResult[] = [];
  const trafficPods = workloads.filter((w) => !w.server).flatMap((w) => w.pods);
  for (const w of workloads) {
    const per = w.pods.map((p) => {
      const cur = to.get(p)?.snap;
      const d = cur ? delta(from.get(p)?.snap, cur) : delta(undefined, { at: 0, success: 0, failure: 0, buckets: new Map(), tcpOpen: 0, inboundTls: 0, outboundTls: new Map() });
      return { pod: p, d, ready: to.get(p)?.ready === true, tcp: cur?.tcpOpen ?? 0 };
    });
    const total = addDeltas(per.map((x) => x.d));
    const ready = per.filter((x) => x.ready).length;
    const s = stat(w.name, ready, w.pods.length, total, per.reduce((a, x) => a + x.tcp, 0));
    // A client-only workload has no inbound requests: dashes, as linkerd shows it, not 0 rps.
    if (!w.server && s.requests === 0) delete s.rps;
    rows.push({ stat: s });
    if (w.pods.length > 1) for (const x of per) rows.push({ stat: stat(x.pod.name, x.ready ? 1 : 0, 1, x.d, x.tcp), indent: true });
    if (w.server) {
      const svc = SERVICES.find((x) => x.name === w.name)!;
      const addrs = new Set(w.pods.map((p) => `${p.ip}:${svc.port}`));
      let clientTls = 0;
      for (const t of trafficPods) {
        const cur = to.get(t)?.snap;
        if (!cur) continue;
        for (const [addr, n] of delta(from.get(t)?.snap, cur).outboundTls) if (addrs.has(addr)) clientTls += n;
      }
      results.push({ stat: s, inboundTls: total.inboundTls, clientTls });
    }
  }
  return { rows, results };
}

export const command: Command = {
  summary: 'run a local mesh (network namespaces) with a demo app and live golden metrics per workload',
  usage,
  async run(args) {
    let values;
    try {
      values = parseArgs({
        args,
        options: {
          duration: { type: 'string' },
          rps: { type: 'string', default: '10' },
          interval: { type: 'string', default: '2s' },
          'min-success': { type: 'string', default: '90' },
          conns: { type: 'string', default: '4' },
          workers: { type: 'string', default: '1' },
        },
      }).values;
    } catch (err) {
      process.stderr.write(`linnet demo: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    let durationMs: number | undefined;
    let intervalMs: number;
    let rps: number;
    let conns: number;
    let workers: number;
    let minSuccess: number;
    try {
      durationMs = values.duration === undefined ? undefined : parseDuration('--duration', values.duration);
      intervalMs = Math.max(parseDuration('--interval', values.interval!), 250);
      rps = parsePositiveInt('--rps', values.rps, 1000);
      conns = parsePositiveInt('--conns', values.conns, 64);
      workers = parsePositiveInt('--workers', values.workers, 64);
      minSuccess = Number(values['min-success']);
      if (!(minSuccess >= 0 && minSuccess <= 100)) throw new Error(`--min-success: ${JSON.stringify(values['min-success'])} is not a percentage (0-100)`);
    } catch (err) {
      process.stderr.write(`linnet demo: ${(err as Error).message}\n`);
      return 2;
    }

    const why = rootSkipReason();
    if (why) {
      process.stderr.write(
        `linnet demo: cannot build the mesh: it ${why} (it creates network namespaces, veth pairs and iptables rules).\n` +
          'Run it as root, e.g. `sudo npm start`, or in a container with CAP_NET_ADMIN and CAP_SYS_ADMIN.\n',
      );
      return 1;
    }
    for (const m of ['proxy/command.js', 'init/command.js', 'core/cli.js']) {
      if (!existsSync(join(REPO_ROOT, 'dist', m))) {
        process.stderr.write(`linnet demo: dist/${m} is missing; build first with \`npm run build\`\n`);
        return 1;
      }
    }

    let stopping = false;
    let wake: (() => void) | undefined;
    const abort = new AbortController();
    const stop = (sig: string) => {
      if (!stopping) process.stderr.write(`\nlinnet demo: ${sig}: tearing down…\n`);
      stopping = true;
      abort.abort();
      wake?.();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);

    let demo: Demo | undefined;
    let ok = false;
    try {
      demo = await createDemo({ rps, conns, workers, onStep: (s) => progress(`${s}…`), signal: abort.signal });
      progress(`ready (logs in ${demo.cluster.logDir})`);
      if (stopping) return 1;
      const { workloads, traffic } = demo;
      const start = Date.now();
      const first = await scrapeAll(workloads);
      let prevAt = Date.now();
      let prev = first;
      let last = first;
      const tty = process.stdout.isTTY === true;
      let frames = 0;
      let nextAt = start;
      while (!stopping) {
        // A steady cadence: the scrape's own time is not added to the interval.
        nextAt = Math.max(nextAt + intervalMs, Date.now() + intervalMs / 4);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, nextAt - Date.now());
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        if (stopping) break;
        const now = await scrapeAll(workloads);
        const windowSecs = (Date.now() - prevAt) / 1000;
        prevAt = Date.now();
        const { rows } = rowsBetween(workloads, prev, now);
        const notes: string[] = [];
        for (const [pod, s] of now) if (!s.snap) notes.push(`${pod.name}: proxy /metrics unreachable (log: ${pod.proxy?.logFile})`);
        const screen = renderScreen(rows, Date.now() - start, windowSecs, notes);
        process.stdout.write(renderFrame(screen, tty, frames++ === 0));
        prev = now;
        last = now;
        if (!traffic.running) {
          process.stderr.write(`linnet demo: the traffic client stopped unexpectedly:\n${traffic.logTail(10)}\n`);
          break;
        }
        if (durationMs !== undefined && Date.now() - start >= durationMs) break;
      }
      const elapsed = Date.now() - start;
      // The client's own view of who answered: balancing as the app saw it.
      traffic.signal('SIGTERM');
      const seen = await traffic
        .waitForEvent<{ event: string; http: ClientCounts; grpc: ClientCounts }>((e) => e.event === 'summary', 5000)
        .catch(() => undefined);
      const { rows, results } = rowsBetween(workloads, first, last);
      const pods = workloads.flatMap((w) => w.pods);
      const ready = pods.filter((p) => last.get(p)?.ready).length;
      const v = verdict(results, ready, pods.length, minSuccess / 100);
      process.stdout.write(renderSummary(rows, results, elapsed, v) + '\n');
      if (seen) process.stdout.write(`client saw: HTTP ${describe(seen.http)}; gRPC ${describe(seen.grpc)}\n`);
      ok = v.ok;
      if (!ok) process.stderr.write(`linnet demo: proxy logs:\n${demo.cluster.logTails(15)}\n`);
    } catch (err) {
      if (err instanceof DemoInterrupted) progress('set-up interrupted; what it made is gone');
      else process.stderr.write(`linnet demo: ${(err as Error).message}\n${(err as { hint?: string }).hint ?? ''}\n`);
      ok = false;
    } finally {
      if (demo) {
        progress('stopping processes and deleting namespaces…');
        await demo.destroy();
        progress('done');
      }
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    return ok ? 0 : 1;
  },
};

interface ClientCounts {
  ok: number;
  failed: number;
  byPod: Record<string, number>;
  errors: Record<string, number>;
}

function describe(c: ClientCounts): string {
  const by = Object.entries(c.byPod)
    .sort()
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  const errs = Object.entries(c.errors)
    .map(([e, n]) => `${e} ×${n}`)
    .join(', ');
  return `${c.ok} ok (${by || 'none'}), ${c.failed} failed${errs ? ` (${errs})` : ''}`;
}
