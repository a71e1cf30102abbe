/**
 * The runner's bookkeeping with a stand-in environment and scripted measurements (no pods): the
 * order of runs, warm-ups not counted, medians and ratios from the same run, failures and skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchEnv } from './environment';
import { Progress } from './progress';
import { plannedSteps, runScenarios, type RunSettings } from './runner';
import type { MemoryScenarioDef } from './memory-scenarios';
import type { ScenarioDef } from './scenarios';

function fakeEnv(over: Partial<Record<string, unknown>> = {}) {
  const cpu: Record<string, number> = { linnet: 0, nginx: 0, haproxy: 0 };
  const env = {
    linnetWorkers: 1,
    restarts: [] as number[],
    meshSkipReason: 'needs mTLS (test)',
    nginxHasStream: true,
    cpu,
    address: (route: string, proto: string) => `${route}/${proto}`,
    crossingAddress: (route: string, proto: string) => (route === 'hamesh' ? `hamesh-hop/${proto}` : `${route}/${proto}`),
    peerChecks: [] as string[],
    async checkPeerMesh(proto: string) {
      this.peerChecks.push(proto);
    },
    cpuSeconds: (k: string) => cpu[k] ?? NaN,
    peakRss: () => 42 << 20,
    memoryNow: () => ({ rss: 40 << 20, pss: 20 << 20, private: 12 << 20 }),
    pinningText: () => 'none (test)',
    proxiedConnections: async (address: string) => (address.startsWith('linnet') || address.startsWith('mesh') ? 5 : 0),
    async startLinnet(w: number) {
      this.restarts.push(w);
      this.linnetWorkers = w;
    },
    ...over,
  };
  return env;
}

const settings: RunSettings = { runs: 3, durationS: 1, warmupS: 1, connections: 4, rates: [], quick: false, command: 'test' };
const quiet = () => new Progress(0, { write: () => {} });

test('warm-up first, then targets interleaved run by run; medians, ratios to direct, CPU per 1k from the proxy', async () => {
  const env = fakeEnv();
  const calls: string[] = [];
  const values: Record<string, number[]> = { direct: [100, 110, 90], linnet: [50, 40, 60], nginx: [80, 80, 80] };
  const warm: Record<string, boolean> = {};
  const def: ScenarioDef = {
    id: 's',
    title: 'S',
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'http1',
    targets: ['direct', 'linnet', 'nginx', 'linnet-mesh'],
    tool: () => 'fake',
    async measure(a) {
      const t = a.address.split('/')[0] === 'direct' ? 'direct' : a.address.split('/')[0]!;
      if (!warm[t]) {
        warm[t] = true;
        calls.push(`warm ${t}`);
        return { value: 1e9, rate: 1e9, ops: 1, errors: 0 };
      }
      calls.push(t);
      const v = values[t]!.shift()!;
      if (t === 'linnet') env.cpu.linnet! += v / 1000; // 1 CPU-ms per request
      return { value: v, rate: v, ops: v, errors: t === 'nginx' ? 1 : 0 };
    },
  };
  const r = await runScenarios(env as unknown as BenchEnv, [def], settings, quiet(), '/nonexistent');
  assert.deepEqual(calls, ['warm direct', 'warm linnet', 'warm nginx', 'direct', 'linnet', 'nginx', 'direct', 'linnet', 'nginx', 'direct', 'linnet', 'nginx']);
  const s = r.scenarios[0]!;
  assert.equal(s.status, 'ok');
  const by = (id: string) => s.targets.find((t) => t.target === id)!;
  assert.equal(by('direct').throughput!.median, 100);
  assert.equal(by('linnet').throughput!.median, 50);
  assert.equal(by('linnet').vsDirect, 0.5);
  assert.ok(Math.abs(by('linnet').cost!.cpuSecondsPer1k.median - 1) < 1e-9);
  assert.equal(by('linnet').cost!.privateBytes, 12 << 20);
  assert.equal(by('linnet').cost!.pssBytes, 20 << 20);
  assert.equal(by('nginx').errors, 3);
  assert.deepEqual(by('linnet-mesh'), { target: 'linnet-mesh', status: 'skipped', reason: 'needs mTLS (test)' });
  assert.equal(by('direct').cost, undefined);
  assert.equal(r.settings.pinning, 'none (test)');
});

test('a target whose every run fails is failed with the first error; one failed run is a gap, not a zero', async () => {
  const env = fakeEnv();
  let n = 0;
  const def: ScenarioDef = {
    id: 'f',
    title: 'F',
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'http1',
    targets: ['direct', 'haproxy'],
    tool: () => 'fake',
    async measure(a) {
      if (a.address.startsWith('haproxy')) throw new Error('haproxy refused');
      n++;
      if (n === 2) throw new Error('one bad run');
      return { value: 10 * n, rate: 10, ops: 10, errors: 0 };
    },
  };
  const r = await runScenarios(env as unknown as BenchEnv, [def], { ...settings, warmupS: 0 }, quiet(), '/nonexistent');
  const [direct, haproxy] = r.scenarios[0]!.targets;
  assert.deepEqual(direct!.throughput!.runs.map((x) => (Number.isNaN(x) ? 'gap' : x)), [10, 'gap', 30]);
  assert.equal(direct!.throughput!.median, 20);
  assert.equal(haproxy!.status, 'failed');
  assert.equal(haproxy!.reason, 'haproxy refused');
});

test('latency scenarios: percentiles per target and the latency added over direct; 2 workers restart the proxy', async () => {
  const env = fakeEnv();
  const def: ScenarioDef = {
    id: 'l',
    title: 'L',
    kind: 'latency',
    unit: 'req/s',
    protocol: 'http1',
    rate: 100,
    targets: ['direct', 'linnet-2w'],
    tool: () => 'fake',
    async measure(a) {
      const base = a.address.startsWith('direct') ? 1 : 3;
      return { value: 100, rate: 100, ops: 100, errors: 0, latencyMs: { p50: base, p90: base * 2, p99: base * 4, 'p99.9': base * 8 } };
    },
  };
  const r = await runScenarios(env as unknown as BenchEnv, [def], settings, quiet(), '/nonexistent');
  assert.deepEqual(env.restarts, [2]);
  const t = r.scenarios[0]!.targets[1]!;
  assert.equal(t.latencyMs!.p99.median, 12);
  assert.deepEqual(t.addedMs, { p50: 2, p90: 4, p99: 8, 'p99.9': 16 });
  assert.equal(t.achievedRate!.median, 100);
});

test('a target whose traffic did not take its path is failed, not reported', async () => {
  // The stand-in proxy saw connections for nginx's address and none for linnet's.
  const env = fakeEnv({ proxiedConnections: async (address: string) => (address.startsWith('nginx') ? 3 : 0) });
  const def: ScenarioDef = {
    id: 'p',
    title: 'P',
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'http1',
    targets: ['direct', 'linnet', 'nginx'],
    tool: () => 'fake',
    measure: async () => ({ value: 10, rate: 10, ops: 10, errors: 0 }),
  };
  const r = await runScenarios(env as unknown as BenchEnv, [def], { ...settings, warmupS: 0, runs: 1 }, quiet(), '/nonexistent');
  const [direct, linnet, nginx] = r.scenarios[0]!.targets;
  assert.equal(direct!.status, 'ok');
  assert.equal(linnet!.status, 'failed');
  assert.match(linnet!.reason!, /never reached the app pod's Linnet proxy/);
  assert.equal(nginx!.status, 'failed');
  assert.match(nginx!.reason!, /went through a Linnet proxy \(3 connections, app pod inbound and load pod outbound\): not a nginx figure/);
});

test('the peer mesh: checked before the warm-up; Linnet meshed gets its ratio to the pair and its latency over it', async () => {
  const env = fakeEnv({ meshSkipReason: undefined });
  const calls: string[] = [];
  const value: Record<string, number> = { direct: 100, mesh: 20, hamesh: 40 };
  const def: ScenarioDef = {
    id: 'm',
    title: 'M',
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'grpc',
    targets: ['direct', 'linnet-mesh', 'haproxy-mesh'],
    tool: () => 'fake',
    async check(a) {
      calls.push(`check ${a.address}`);
    },
    async measure(a) {
      calls.push(a.address);
      const v = value[a.address.split('/')[0]!]!;
      return { value: v, rate: v, ops: v, errors: 0 };
    },
  };
  const r = await runScenarios(env as unknown as BenchEnv, [def], { ...settings, runs: 1 }, quiet(), '/nonexistent');
  assert.deepEqual(env.peerChecks, ['grpc']);
  assert.deepEqual(calls.slice(0, 3), ['check direct/grpc', 'check mesh/grpc', 'check hamesh/grpc']);
  const by = (id: string) => r.scenarios[0]!.targets.find((t) => t.target === id)!;
  assert.equal(by('haproxy-mesh').status, 'ok');
  assert.equal(by('haproxy-mesh').vsDirect, 0.4);
  assert.equal(by('haproxy-mesh').vsPeerMesh, undefined);
  assert.equal(by('linnet-mesh').vsDirect, 0.2);
  assert.equal(by('linnet-mesh').vsPeerMesh, 0.5);

  const lat: ScenarioDef = {
    ...def,
    id: 'ml',
    kind: 'latency',
    protocol: 'http1',
    rate: 100,
    check: undefined,
    async measure(a) {
      const base = { direct: 1, mesh: 4, hamesh: 3 }[a.address.split('/')[0]!]!;
      return { value: 100, rate: 100, ops: 100, errors: 0, latencyMs: { p50: base, p90: base * 2, p99: base * 4, 'p99.9': base * 8 } };
    },
  };
  const l = await runScenarios(env as unknown as BenchEnv, [lat], { ...settings, runs: 1 }, quiet(), '/nonexistent');
  const t = l.scenarios[0]!.targets.find((x) => x.target === 'linnet-mesh')!;
  assert.deepEqual(t.addedMs, { p50: 3, p90: 6, p99: 12, 'p99.9': 24 });
  assert.deepEqual(t.overPeerMeshMs, { p50: 1, p90: 2, p99: 4, 'p99.9': 8 });
  assert.deepEqual(l.scenarios[0]!.targets.find((x) => x.target === 'haproxy-mesh')!.addedMs, { p50: 2, p90: 4, p99: 8, 'p99.9': 16 });
  assert.deepEqual(env.peerChecks, ['grpc', 'http1']);
});

test('a broken haproxy pair is a failed target with its reason, the others are measured and Linnet meshed gets no ratio to it', async () => {
  const env = fakeEnv({
    meshSkipReason: undefined,
    async checkPeerMesh() {
      throw new Error('the haproxy pair did not start: haproxy-mesh-in exited during start-up');
    },
  });
  const measured: string[] = [];
  const def: ScenarioDef = {
    id: 'b',
    title: 'B',
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'http1',
    targets: ['direct', 'linnet-mesh', 'haproxy-mesh'],
    tool: () => 'fake',
    async measure(a) {
      measured.push(a.address);
      return { value: 10, rate: 10, ops: 10, errors: 0 };
    },
  };
  const r = await runScenarios(env as unknown as BenchEnv, [def], settings, quiet(), '/nonexistent');
  const s = r.scenarios[0]!;
  assert.equal(s.status, 'ok');
  assert.ok(!measured.some((a) => a.startsWith('hamesh')), 'the pair is not measured');
  const pair = s.targets.find((t) => t.target === 'haproxy-mesh')!;
  assert.deepEqual(pair, { target: 'haproxy-mesh', status: 'failed', reason: 'the haproxy pair did not start: haproxy-mesh-in exited during start-up' });
  const linnet = s.targets.find((t) => t.target === 'linnet-mesh')!;
  assert.equal(linnet.status, 'ok');
  assert.equal(linnet.vsPeerMesh, undefined);
});

test('the peer mesh\'s hop caught by a Linnet proxy fails the pair: its figure would not be the pair\'s alone', async () => {
  const env = fakeEnv({ meshSkipReason: undefined, proxiedConnections: async (address: string) => (address.startsWith('mesh') || address.startsWith('hamesh-hop') ? 2 : 0) });
  const def: ScenarioDef = {
    id: 'v',
    title: 'V',
    kind: 'throughput',
    unit: 'req/s',
    protocol: 'http1',
    targets: ['direct', 'linnet-mesh', 'haproxy-mesh'],
    tool: () => 'fake',
    measure: async () => ({ value: 10, rate: 10, ops: 10, errors: 0 }),
  };
  const r = await runScenarios(env as unknown as BenchEnv, [def], { ...settings, warmupS: 0, runs: 1 }, quiet(), '/nonexistent');
  const pair = r.scenarios[0]!.targets.find((t) => t.target === 'haproxy-mesh')!;
  assert.equal(pair.status, 'failed');
  assert.match(pair.reason!, /the traffic to hamesh-hop\/http1 went through a Linnet proxy \(2 connections, app pod inbound and load pod outbound\): not a haproxy-mesh figure/);
  assert.equal(r.scenarios[0]!.targets.find((t) => t.target === 'linnet-mesh')!.vsPeerMesh, undefined);
});

test('a memory scenario runs itself, from Linnet\'s usual settings, with the runner\'s path checks; its settings are recorded', async () => {
  const env = fakeEnv({ linnetWorkers: 2, linnetSettings: 'LINNET_PROXY_INBOUND_MAX_CONNECTIONS=11024' });
  const seen: string[] = [];
  const def: MemoryScenarioDef = {
    id: 'soak-mesh',
    title: 'Soak',
    kind: 'soak',
    unit: 'MiB',
    targets: ['linnet-mesh', 'haproxy-mesh'],
    tool: () => 'soak-load',
    steps: () => 7,
    async run(ctx) {
      seen.push(`mesh: ${await ctx.meshSkipReason()}`);
      // The stand-in proxies saw connections for the mesh route and none for the pair's hop.
      seen.push(`linnet-mesh: ${await ctx.pathProblem('linnet-mesh', 'grpc')}`);
      seen.push(`haproxy-mesh: ${await ctx.pathProblem('haproxy-mesh', 'http1')}`);
      seen.push(`linnet: ${(await ctx.pathProblem('haproxy', 'http1')) ?? 'ok'}`);
      return { id: 'soak-mesh', title: 'Soak', kind: 'soak', unit: 'MiB', tool: 'soak-load', status: 'ok', targets: [] };
    },
  };
  const s = { ...settings, soakSeconds: 30, soakRate: 500, idleConnections: 100 };
  assert.equal(plannedSteps([def], s), 7);
  const r = await runScenarios(env as unknown as BenchEnv, [def], s, quiet(), '/nonexistent');
  assert.deepEqual(env.restarts, [1]);
  assert.deepEqual(seen, ['mesh: needs mTLS (test)', 'linnet-mesh: undefined', 'haproxy-mesh: undefined', 'linnet: ok']);
  assert.equal(r.scenarios[0]!.kind, 'soak');
  assert.equal(r.settings.soakSeconds, 30);
  assert.equal(r.settings.soakRate, 500);
  assert.equal(r.settings.idleConnections, undefined); // no idle-conns scenario ran
  // A path that a Linnet proxy should have carried and did not is a problem with its reason.
  const env2 = fakeEnv({ proxiedConnections: async () => 0 });
  const def2: MemoryScenarioDef = { ...def, async run(ctx) {
    seen.push(String(await ctx.pathProblem('linnet-mesh', 'http1')));
    return { id: 'soak-mesh', title: 'Soak', kind: 'soak', unit: 'MiB', tool: 'soak-load', status: 'ok', targets: [] };
  } };
  await runScenarios(env2 as unknown as BenchEnv, [def2], s, quiet(), '/nonexistent');
  assert.match(seen[seen.length - 1]!, /never reached the app pod's Linnet proxy/);
  assert.deepEqual(env2.restarts, []);
});
