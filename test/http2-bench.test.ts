/**
 * A quick HTTP/2 throughput figure (not a pass/fail test; run with LINNET_H2_BENCH=1):
 * h2load against nginx (h2c) in a server pod from a client pod, direct (ports skipped on both
 * sides), through the client's outbound proxy only, and through both proxies. Several runs each,
 * medians printed. `linnet bench` owns the full bench; this is the h2 handler's own check.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP_UID, meshSkipReason } from './pods';
import { createMesh, eventually, type Mesh } from './pods/mesh';

const skip = meshSkipReason() ?? (process.env.LINNET_H2_BENCH === '1' ? undefined : 'a benchmark: set LINNET_H2_BENCH=1 to run it');
const BOTH = 8080;
const DIRECT = 8082;
const OUT_ONLY = 8083;
const RUNS = Number(process.env.LINNET_H2_BENCH_RUNS ?? 5);
const N = Number(process.env.LINNET_H2_BENCH_N ?? 20000);
let mesh: Mesh | undefined;
let dir = '';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'linnet-h2b-'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log stderr warn;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  keepalive_requests 1000000;
  server { listen ${BOTH} http2; listen ${DIRECT} http2; listen ${OUT_ONLY} http2; location / { default_type text/plain; return 200 "hello\\n"; } } }
`,
  );
  chownSync(dir, APP_UID, APP_UID);
  mesh = await createMesh({ clientInit: { outboundPortsToIgnore: [DIRECT] }, serverInit: { inboundPortsToIgnore: [DIRECT, OUT_ONLY] } });
  mesh.server.spawn('nginx', ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')], { uid: APP_UID, name: 'nginx' });
  await eventually(async () => {
    const r = await mesh!.server.run('curl', ['-sS', '--http2-prior-knowledge', `http://127.0.0.1:${BOTH}/`], { timeoutMs: 5000 });
    assert.equal(r.stdout, 'hello\n');
  }, 10_000);
});
after(async () => {
  await mesh?.cluster.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test('h2load through the proxies vs direct', { skip }, async () => {
  const m = mesh!;
  const results: Record<string, { rps: number[]; meanMs: number[] }> = {};
  for (let run = 0; run < RUNS; run++) {
    for (const [name, port] of [['direct', DIRECT], ['outbound proxy', OUT_ONLY], ['both proxies', BOTH]] as const) {
      const r = await m.client.run('h2load', ['-n', String(N), '-c', '4', '-m', '16', `http://${m.server.ip}:${port}/`], { uid: APP_UID, timeoutMs: 120_000 });
      assert.match(r.stdout, new RegExp(`${N} succeeded`), r.stdout);
      const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(r.stdout)![1]);
      const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(r.stdout)![1]!;
      const meanMs = mean.endsWith('us') ? parseFloat(mean) / 1000 : parseFloat(mean) * (mean.endsWith('ms') ? 1 : 1000);
      (results[name] ??= { rps: [], meanMs: [] }).rps.push(rps);
      results[name]!.meanMs.push(meanMs);
    }
  }
  for (const [name, r] of Object.entries(results)) {
    process.stdout.write(`# ${name.padEnd(15)} median ${median(r.rps).toFixed(0)} req/s, mean request time ${median(r.meanMs).toFixed(2)} ms  (runs: ${r.rps.map((x) => x.toFixed(0)).join(', ')})\n`);
  }
});
