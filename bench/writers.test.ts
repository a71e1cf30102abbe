/** The Markdown, SVG and comparison writers, and the results schema check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareResults, renderComparison } from './compare';
import { memoryResults, sampleResults } from './fixtures';
import { idleConnsTable, latencyTable, peerMeshLatencyLine, renderMarkdown, soakTable, throughputTable } from './markdown';
import { validateResults, type BenchResults } from './schema';
import { idleConnsChart, latencyChart, logTicks, niceCeil, percentileX, soakChart, soakSeries, throughputChart } from './svg';
import { summarize } from './stats';

test('throughput table: one row per scenario, medians with spread and ratio to direct, skips and failures named', () => {
  const md = throughputTable(sampleResults());
  const lines = md.split('\n');
  assert.match(lines[0]!, /^\| scenario \| direct \(no proxy\) \| linnet \(1 hop, 1 worker\) \| linnet meshed \(2 proxies, mTLS\) \| haproxy pair \(peer mesh, mTLS\) \| nginx \(1 worker\) \|$/);
  assert.equal(lines[1], '| --- | ---: | ---: | ---: | ---: | ---: |');
  assert.equal(lines.length, 4); // the latency scenario is not a throughput row
  assert.match(lines[2]!, /\| 20\.0k req\/s ±5\.0% \| 10\.0k req\/s ±10% \(0\.500×\) ⚠ 3 errors \| skipped \| 8\.00k req\/s ±5\.0% \(0\.400×\) \| failed \|/);
});

test('throughput table, meshed: Linnet meshed with its ratio to direct and to the haproxy pair; the pair with its ratio to direct', () => {
  const row = throughputTable(sampleResults()).split('\n')[3]!;
  assert.equal(row, '| gRPC unary (64 B), meshed | 24.0k req/s ±0.0% |  | 6.00k req/s ±5.0% (0.250×, 0.500× pair) | 12.0k req/s ±0.0% (0.500×) |  |');
});

const latencyScenario = () => sampleResults().scenarios.find((s) => s.kind === 'latency')!;

test('latency table: percentiles with the latency added over direct, for both meshes too', () => {
  const md = latencyTable(latencyScenario());
  assert.match(md, /\| direct \(no proxy\) \| 0\.525 ms ±4\.8% \|/);
  assert.match(md, /\| linnet \(1 hop, 1 worker\) \| 0\.840 ms \(\+0\.315\) ±4\.8% \| 1\.68 ms \(\+0\.630\)/);
  assert.match(md, /\| linnet meshed \(2 proxies, mTLS\) \| 1\.58 ms \(\+1\.05\) ±4\.8% \|/);
  assert.match(md, /\| haproxy pair \(peer mesh, mTLS\) \| 1\.05 ms \(\+0\.525\) ±4\.8% \| 2\.10 ms \(\+1\.05\) ±4\.8% \|/);
  assert.equal(
    peerMeshLatencyLine(latencyScenario()),
    'linnet meshed (2 proxies, mTLS) against haproxy pair (peer mesh, mTLS) (median minus median, same run): p50 +0.525 ms, p90 +1.05 ms, p99 -2.75 ms, p99.9 +5.50 ms.',
  );
  assert.equal(peerMeshLatencyLine({ ...latencyScenario(), targets: latencyScenario().targets.filter((t) => t.target !== 'haproxy-mesh').map((t) => ({ ...t, overPeerMeshMs: undefined })) }), '');
});

test('the report names the machine, settings, pinning, skipped targets with reasons, charts', () => {
  const md = renderMarkdown(sampleResults(), [{ title: 'HTTP/1.1 small requests', file: 'results/http1-small.svg' }]);
  assert.match(md, /2 × Test CPU/);
  assert.match(md, /median of 3 run\(s\) of 5s after a 2s warm-up/);
  assert.match(md, /Pinning: load on CPU 0, proxy on CPU 1/);
  assert.match(md, /linnet meshed \(2 proxies, mTLS\): skipped: needs mTLS \(LINNET_PROXY_IDENTITY_\*\)/);
  assert.match(md, /!\[HTTP\/1\.1 small requests\]\(results\/http1-small\.svg\)/);
  // The peer mesh baseline is described, and its comparison with Linnet meshed follows the latency table.
  assert.match(md, /\(n× pair\), for Linnet meshed, the ratio to the peer mesh baseline in the same run/);
  assert.match(md, /Peer mesh baseline \(haproxy pair\): .*TLS 1\.3 .*client certificate.*HTTP\/2.*same core as Linnet's two meshed proxies/);
  assert.match(md, /\| haproxy pair \(peer mesh, mTLS\) \|[^\n]*\n\nlinnet meshed \(2 proxies, mTLS\) against haproxy pair/);
  assert.match(md, /\| HTTP\/1\.1 small requests \| haproxy pair \(peer mesh, mTLS\) \| 0\.0500 CPU s per 1k ops ±0\.0% \| 30\.0 MiB \|/);
  assert.match(md, /\| HTTP\/1\.1 small requests \| linnet \(1 hop, 1 worker\) \| 0\.0300 CPU s per 1k ops ±3\.3% \| 100\.0 MiB \|/);
});

test('log axes: decades cover the data; percentiles evenly spaced as 1/(1-p)', () => {
  assert.deepEqual(logTicks(0.5, 12), [0.1, 1, 10, 100]);
  assert.ok(Math.abs(percentileX(99) - 2) < 1e-9);
  assert.ok(Math.abs(percentileX(99.9) - 3) < 1e-9);
  assert.equal(niceCeil(21000), 50000);
  assert.equal(niceCeil(0.7), 1);
});

test('latency chart: one polyline per measured target, points rising with the percentile, valid XML shape', () => {
  const svg = latencyChart(latencyScenario());
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  const lines = [...svg.matchAll(/<polyline class="series" data-target="([^"]+)"[^>]* points="([^"]+)"/g)];
  assert.deepEqual(lines.map((m) => m[1]), ['direct', 'linnet', 'linnet-mesh', 'haproxy-mesh']);
  assert.match(svg, /data-target="haproxy-mesh" fill="none" stroke="#ff7f0e"/);
  assert.match(svg, />haproxy pair \(peer mesh, mTLS\)<\/text>/);
  for (const m of lines) {
    const pts = m[2]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
    assert.equal(pts.length, 4);
    for (let i = 1; i < pts.length; i++) {
      assert.ok(pts[i]![0] > pts[i - 1]![0], 'x grows with the percentile');
      assert.ok(pts[i]![1] < pts[i - 1]![1], 'higher latency is drawn higher (smaller y)');
    }
  }
  assert.match(svg, /ms<\/text>/);
});

test('throughput chart: a bar per measured target, whiskers from min to max, labels escaped', () => {
  const r = sampleResults();
  const s = { ...r.scenarios[0]!, title: 'a <b> & "c"' };
  const svg = throughputChart(s);
  const bars = [...svg.matchAll(/<rect class="bar" data-target="([^"]+)" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"/g)];
  assert.deepEqual(bars.map((b) => b[1]), ['direct', 'linnet', 'haproxy-mesh']);
  assert.ok(Number(bars[0]![3]) > Number(bars[1]![3]) * 1.9, 'direct (20k) is about twice linnet (10k)');
  assert.equal([...svg.matchAll(/class="whisker"/g)].length, 3);
  const meshed = throughputChart(r.scenarios.find((x) => x.id === 'grpc-unary-mesh')!);
  assert.deepEqual([...meshed.matchAll(/<rect class="bar" data-target="([^"]+)"/g)].map((b) => b[1]), ['direct', 'linnet-mesh', 'haproxy-mesh']);
  assert.match(meshed, /data-target="haproxy-mesh" [^>]*fill="#ff7f0e"/);
  assert.match(svg, /a &lt;b&gt; &amp; &quot;c&quot;/);
  assert.doesNotMatch(svg, /<b>/);
});

test('schema: a written file reads back (NaN becomes null); other files are refused with a clear code', () => {
  const r = sampleResults();
  const back = validateResults(JSON.parse(JSON.stringify({ ...r, scenarios: [{ ...r.scenarios[0]!, targets: [{ target: 'direct', status: 'ok', throughput: summarize([NaN]) }] }] })));
  assert.equal(back.scenarios[0]!.targets[0]!.throughput!.median, null as unknown as number);
  const bad = (d: unknown, re: RegExp) => assert.throws(() => validateResults(d, 'x.json'), (e: Error & { code?: string }) => e.code === 'LINNET_BENCH_BAD_RESULTS' && re.test(e.message));
  bad({ ...r, schema: 'linnet-bench/0' }, /schema is "linnet-bench\/0"/);
  bad({ ...r, scenarios: 3 }, /no scenarios/);
  bad({ ...r, scenarios: [{ id: 'x', status: 'weird', targets: [] }] }, /status "weird"/);
  bad([], /no scenarios|schema/);
});

test('compare: changes beyond both runs\' spread are marked better or worse; noise is not', () => {
  const before = sampleResults();
  const after: BenchResults = JSON.parse(JSON.stringify(before));
  const sc = after.scenarios[0]! as unknown as { targets: { throughput?: unknown; vsDirect?: number }[] };
  sc.targets[1]!.throughput = summarize([15000, 15500, 14500]); // +50%, spread ~13%
  sc.targets[1]!.vsDirect = 0.75;
  sc.targets[0]!.throughput = summarize([20500, 21000, 19500]); // +2.5%: noise
  const changes = compareResults(before, after);
  const linnet = changes.find((c) => c.target === 'linnet' && c.metric === 'req/s')!;
  assert.equal(linnet.changePct, 50);
  assert.equal(linnet.significant, true);
  const direct = changes.find((c) => c.target === 'direct' && c.metric === 'req/s')!;
  assert.equal(direct.significant, false);
  const md = renderComparison(changes, 'old.json');
  assert.match(md, /\| http1-small \| linnet \(1 hop, 1 worker\) \| req\/s \| 10\.0k \| 15\.0k \| \+50% ✅ better \|/);
  assert.match(md, /\| http1-small \| direct \(no proxy\) \| req\/s \| 20\.0k \| 20\.5k \| \+2\.5% \|/);
  // Latency: higher is worse.
  const lat = JSON.parse(JSON.stringify(before)) as BenchResults;
  (lat.scenarios.find((x) => x.kind === 'latency')!.targets[1] as { latencyMs: Record<string, unknown> }).latencyMs.p99 = summarize([40, 41]);
  assert.match(renderComparison(compareResults(before, lat), 'old.json'), /p99 ms \| 4\.40 \| 40\.5 \| \+\d+% ❌ worse/);
  // Linnet meshed's ratio to the haproxy pair is compared like the ratio to direct.
  const pair = JSON.parse(JSON.stringify(before)) as BenchResults;
  (pair.scenarios.find((x) => x.id === 'grpc-unary-mesh')!.targets[1] as { vsPeerMesh: number }).vsPeerMesh = 0.6;
  const pairChanges = compareResults(before, pair).filter((c) => c.metric === 'ratio to the haproxy pair');
  assert.deepEqual(pairChanges.map((c) => [c.scenario, c.target, c.before, c.after, c.significant]), [['grpc-unary-mesh', 'linnet-mesh', 0.5, 0.6, true]]);
  assert.match(renderComparison(pairChanges, 'old.json'), /\| grpc-unary-mesh \| linnet meshed \(2 proxies, mTLS\) \| ratio to the haproxy pair \| 0\.500 \| 0\.600 \| \+20% ✅ better \|/);
  // A results file from before the peer mesh (no haproxy-mesh, no vsPeerMesh) still compares.
  const old = JSON.parse(JSON.stringify(before)) as BenchResults;
  for (const sc of old.scenarios as unknown as { targets: { target: string; vsPeerMesh?: number; overPeerMeshMs?: unknown }[] }[]) {
    sc.targets = sc.targets.filter((t) => t.target !== 'haproxy-mesh').map((t) => ({ ...t, vsPeerMesh: undefined, overPeerMeshMs: undefined }));
  }
  const fromOld = compareResults(validateResults(JSON.parse(JSON.stringify(old))), before);
  assert.ok(fromOld.length > 0 && !fromOld.some((c) => c.target === 'haproxy-mesh' || c.metric === 'ratio to the haproxy pair'));
});

test('publishing a full run: RESULTS.md with the preface, charts and JSON under results/, links that resolve', async () => {
  const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { publishResults, writeReport } = await import('./report');
  const dir = mkdtempSync(join(tmpdir(), 'bench-publish-'));
  const file = publishResults(sampleResults(), dir, 'Taken on a shared, noisy machine.');
  const md = readFileSync(file, 'utf8');
  assert.match(md, /^# Linnet bench results\n\nTaken on a shared, noisy machine\.\n/);
  const links = [...md.matchAll(/\]\((results\/[^)]+\.svg)\)/g)].map((m) => m[1]!);
  assert.deepEqual(links, ['results/http1-small.svg', 'results/grpc-unary-mesh.svg', 'results/latency-http1-1000.svg']);
  for (const l of links) assert.ok(existsSync(join(dir, l)), l);
  assert.ok(existsSync(join(dir, 'results', 'results.json')));
  const w = writeReport(sampleResults(), join(dir, 'out'), '\nextra\n');
  assert.ok(readFileSync(w.markdown, 'utf8').endsWith('\nextra\n'));
  assert.equal(w.charts.length, 3);
});

test('soak table: per path the requests by kind with errors, RSS from the baseline to the end with growth and peak, private memory', () => {
  const s = memoryResults().scenarios.find((x) => x.id === 'soak-mesh')!;
  const md = soakTable(s);
  assert.match(md, /^\| path \| requests answered \| RSS at 60 s → end \| RSS growth \| private memory \(growth\) \| CPU s per 1k \|$/m);
  assert.match(md, /\| linnet meshed \(2 proxies, mTLS\) \| 1\.20M of 1\.20M sent at 2\.00k req\/s: h1KeepAlive 600k, h1NewConnection 240k \(2 failed\), grpc 360k ⚠ 2 errors \| 100\.0 MiB → 103\.0 MiB \| \+3\.0% \(peak \+3\.0%, second half \+1\.5%\) \| 40\.0 MiB → 41\.0 MiB \(\+2\.5%\) \| 0\.300 \|/);
  assert.match(md, /\| haproxy pair \(peer mesh, mTLS\) \| failed: the haproxy pair did not start/);
});

test('idle-conns table: per connection private and RSS with spread, held at both ends, ratio to haproxy', () => {
  const s = memoryResults().scenarios.find((x) => x.id === 'idle-conns')!;
  const md = idleConnsTable(s);
  assert.match(md, /\| linnet \(1 hop, 1 worker\) \| 10\.0k \/ 10\.0k of 10\.0k \| 12\.0 KiB ±10% \| 12\.6 KiB ±10% \| 20\.0 MiB → 137\.2 MiB \| 3\.00× \|/);
  assert.match(md, /\| haproxy \(1 thread\) \| 10\.0k \/ 10\.0k of 10\.0k \| 4\.00 KiB ±10% \| .* \| 1× \|/);
});

test('the report has a section per memory scenario, their settings and first errors; they are not throughput rows', () => {
  const md = renderMarkdown(memoryResults(), [{ title: 'soak', file: 'soak-mesh.svg' }]);
  assert.match(md, /## Soak: 600 s at 2000 req\/s through the meshed path\n\nThe same constant open-loop load/);
  assert.match(md, /First errors: linnet meshed \(2 proxies, mTLS\): h1NewConnection: ECONNRESET/);
  assert.match(md, /## 10000 idle HTTP\/1\.1 keep-alive connections on one proxy\n/);
  assert.match(md, /Settings: linnet \(1 hop, 1 worker\): linnet settings; nginx \(1 worker\): nginx settings/);
  assert.doesNotMatch(throughputTable(memoryResults()), /Soak|idle/);
  // The soak's cost (both proxies) is in the cost table like any scenario's.
  assert.match(md, /\| Soak: 600 s at 2000 req\/s through the meshed path \| linnet meshed \(2 proxies, mTLS\) \| 0\.300 CPU s per 1k ops/);
});

test('soak chart: RSS and private lines per measured target over time, the baseline marked; nothing measured, no lines', () => {
  const s = memoryResults().scenarios.find((x) => x.id === 'soak-mesh')!;
  const series = soakSeries(s);
  assert.deepEqual(series.map((x) => `${x.id}/${x.what}`), ['linnet-mesh/RSS', 'linnet-mesh/private']);
  assert.equal(series[0]!.points.length, 61);
  assert.equal(series[0]!.points[60]!.mib, 103);
  const svg = soakChart(s);
  assert.match(svg, /^<svg [^]*<\/svg>\n$/);
  assert.equal((svg.match(/<polyline class="series"/g) ?? []).length, 2);
  assert.match(svg, /data-what="private" fill="none" stroke="#9467bd" stroke-width="2" stroke-dasharray/);
  assert.match(svg, /class="baseline"/);
  // y grows downward: the last RSS point (103 MiB) is above (smaller y than) the baseline one (100 MiB).
  const pts = /data-what="RSS"[^>]*points="([^"]+)"/.exec(svg)![1]!.split(' ').map((p) => p.split(',').map(Number));
  assert.ok(pts[60]![1]! < pts[6]![1]!);
  assert.ok(pts[60]![0]! > pts[0]![0]!);
  assert.match(soakChart({ ...s, targets: [{ target: 'linnet-mesh', status: 'failed', reason: 'x' }] }), /no data/);
});

test('idle-conns chart: a private and an RSS bar per proxy, heights in proportion', () => {
  const s = memoryResults().scenarios.find((x) => x.id === 'idle-conns')!;
  const svg = idleConnsChart(s);
  assert.equal((svg.match(/<rect class="bar"/g) ?? []).length, 6);
  const height = (target: string) => Number(new RegExp(`data-target="${target}" data-what="private"[^>]*height="([\\d.]+)"`).exec(svg)![1]);
  assert.ok(Math.abs(height('linnet') / height('haproxy') - 3) < 0.01);
});

test('compare: memory per idle connection like any figure with runs; the soak\'s growth marked beyond 2 points', () => {
  const before = memoryResults();
  const after = JSON.parse(JSON.stringify(before)) as BenchResults;
  const idle = after.scenarios.find((s) => s.id === 'idle-conns')!.targets[0] as unknown as { idleConns: { perConnectionPrivateBytes: unknown } };
  idle.idleConns.perConnectionPrivateBytes = summarize([6 * 1024, 6.1 * 1024, 5.9 * 1024]);
  const soak = after.scenarios.find((s) => s.id === 'soak-mesh')!.targets[0] as unknown as { soak: { growth: { rssGrowthPct: number } } };
  soak.soak.growth.rssGrowthPct = 12;
  const changes = compareResults(before, validateResults(after));
  const per = changes.find((c) => c.target === 'linnet' && c.metric === 'private B per idle connection')!;
  assert.equal(per.significant, true);
  assert.ok(per.changePct < -45);
  const growth = changes.find((c) => c.metric === 'RSS growth %')!;
  assert.deepEqual([growth.before, growth.after, growth.significant, growth.higherIsBetter], [3, 12, true, false]);
  assert.match(renderComparison(changes, 'old.json'), /\| soak-mesh \| linnet meshed \(2 proxies, mTLS\) \| RSS growth % \| 3\.00 \| 12\.0 \| \+9\.0% ❌ worse \|/);
});
