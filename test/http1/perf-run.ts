/**
 * The HTTP/1 performance measurement (proxy/protocol/h1/PERF.md), one run, in network-namespace pods:
 * wrk in a client pod against nginx (one worker) in a server pod, small requests, three ways —
 *   direct:  wrk → nginx                                   (ports skipped by iptables)
 *   linnet:  wrk → client pod's outbound proxy → nginx     (one proxy, one worker thread)
 *   nginx:   wrk → nginx reverse proxy (1 worker) → nginx  (same core budget and the same place as
 *            the proxy: in the client pod, wrk on loopback, upstream across the bridge)
 * several rounds, interleaved, medians reported. With --profile the proxy runs under --cpu-prof
 * and the top self-time functions are printed.
 *
 *   node dist/test/http1/perf-run.js [--rounds 5] [--duration 5] [--connections 50] [--profile]
 */
import { mkdtempSync, readdirSync, readFileSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { APP_UID } from '../pods';
import { createMesh } from '../pods/mesh';
import { writeNginxConf } from './nginx';

const DIRECT = 8090;
const VIA_LINNET = 8091;
const VIA_NGINX = 8092;

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function ms(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const errs = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = Number(errs?.[1] ?? 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50, p99, errors };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Top self-time functions of .cpuprofile files (all threads). */
export function summariseProfiles(dir: string, top = 15): string {
  const self = new Map<string, number>();
  let total = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
      nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    // Time per sample from the deltas (µs), attributed to the sampled (leaf) node.
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i]!)!;
      const dt = p.timeDeltas[i] ?? 0;
      const cf = n.callFrame;
      const file = cf.url.replace(/^.*\/(dist|node:internal|internal)\//, '$1/');
      const key = `${cf.functionName || '(anonymous)'} ${file}${file ? ':' + (cf.lineNumber + 1) : ''}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      if (cf.functionName !== '(idle)') total += dt;
    }
  }
  self.delete('(idle) ');
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return rows.map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '50' },
      profile: { type: 'boolean', default: false },
    },
  });
  const rounds = Number(values.rounds);
  const duration = Number(values.duration);
  const conns = Number(values.connections);
  // Profiles go to a directory the proxy's uid can write; --cpu-prof writes one file per thread on exit.
  const profDir = mkdtempSync(join(tmpdir(), 'linnet-h1prof-'));
  chmodSync(profDir, 0o777);
  const mesh = await createMesh({
    // --cpu-prof is refused in NODE_OPTIONS; a preloaded inspector session does the same per thread.
    clientEnv: values.profile ? { NODE_OPTIONS: `--require ${join(__dirname, 'cpu-prof-hook.js')}`, LINNET_CPU_PROF_DIR: profDir } : {},
    clientInit: { outboundPortsToIgnore: [DIRECT, VIA_NGINX] },
    serverInit: { inboundPortsToIgnore: [DIRECT, VIA_LINNET, VIA_NGINX] },
  });
  try {
    const { cluster, client, server } = mesh;
    const dir = join(cluster.logDir, 'perf-nginx');
    const up = writeNginxConf(join(dir, 'upstream'), `    listen ${DIRECT};\n    listen ${VIA_LINNET};\n    location / { return 200 "hello world\\n"; }`);
    const rp = writeNginxConf(
      join(dir, 'rp'),
      `    listen 127.0.0.1:${VIA_NGINX};\n    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }`,
      `upstream up { server ${server.ip}:${DIRECT}; keepalive 64; }`,
    );
    server.spawn('nginx', ['-c', up.conf], { name: 'nginx-upstream' });
    client.spawn('nginx', ['-c', rp.conf], { name: 'nginx-rp' });
    await new Promise((r) => setTimeout(r, 500));
    const url = (port: number) => (port === VIA_NGINX ? `http://127.0.0.1:${port}/` : `http://${server.ip}:${port}/`);
    const ways = { direct: DIRECT, linnet: VIA_LINNET, nginx: VIA_NGINX } as const;
    const results: Record<string, WrkResult[]> = { direct: [], linnet: [], nginx: [] };
    // Warm-up (JIT, pools).
    for (const port of Object.values(ways)) await client.run('wrk', ['-t1', `-c${conns}`, '-d2s', url(port)], { uid: APP_UID, timeoutMs: 30_000 });
    for (let r = 0; r < rounds; r++) {
      for (const [name, port] of Object.entries(ways)) {
        const out = await client.run('wrk', ['-t1', `-c${conns}`, `-d${duration}s`, '--latency', url(port)], { uid: APP_UID, timeoutMs: (duration + 30) * 1000 });
        const w = parseWrk(out.stdout);
        results[name]!.push(w);
        process.stdout.write(`round ${r + 1} ${name.padEnd(6)} ${w.rps.toFixed(0).padStart(7)} req/s  p50 ${w.p50.toFixed(2)} ms  p99 ${w.p99.toFixed(2)} ms  errors ${w.errors}\n`);
      }
    }
    process.stdout.write(`\nmedians over ${rounds} rounds (wrk -t1 -c${conns} -d${duration}s, 12-byte responses):\n`);
    process.stdout.write('| path | req/s | p50 ms | p99 ms |\n| --- | --- | --- | --- |\n');
    for (const name of Object.keys(ways)) {
      const rs = results[name]!;
      process.stdout.write(`| ${name} | ${median(rs.map((x) => x.rps)).toFixed(0)} | ${median(rs.map((x) => x.p50)).toFixed(2)} | ${median(rs.map((x) => x.p99)).toFixed(2)} |\n`);
    }
    const m = (n: string, f: (x: WrkResult) => number) => median(results[n]!.map(f));
    process.stdout.write(
      `\nlinnet vs nginx throughput: ${((100 * m('linnet', (x) => x.rps)) / m('nginx', (x) => x.rps)).toFixed(0)}%; ` +
        `added p99 over direct: linnet ${(m('linnet', (x) => x.p99) - m('direct', (x) => x.p99)).toFixed(2)} ms, nginx ${(m('nginx', (x) => x.p99) - m('direct', (x) => x.p99)).toFixed(2)} ms\n`,
    );
    if (values.profile) {
      writeFileSync(join(profDir, 'STOP'), '');
      await new Promise((r) => setTimeout(r, 1500));
      process.stdout.write(`\nCPU profile of the proxy (self time as a share of busy time, all threads; files in ${profDir}):\n${summariseProfiles(profDir)}\n`);
    }
  } finally {
    await mesh.cluster.destroy();
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
