/**
 * The memory scenarios with a stand-in environment (no pods): what they restart, read and check,
 * and what they make of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchEnv } from './environment';
import { idleConnsScenario, soakScenario, type MemoryContext, type MemorySettings } from './memory-scenarios';
import { Progress } from './progress';

const MiB = 1 << 20;
const quiet = () => new Progress(0, { write: () => {} });
const settings = (over: Partial<MemorySettings> = {}): MemorySettings => ({ soakSeconds: 2, soakRate: 100, idleConnections: 1000, runs: 2, quick: true, ...over });

/** A client process that reports `held` connections and answers check/close on stdin. */
function fakeClient(held: number, stillOpen: number, log: string[]) {
  const events: Record<string, unknown>[] = [{ event: 'held', held, failed: 1000 - held, firstErrors: held < 1000 ? ['ECONNRESET'] : [] }];
  let running = true;
  return {
    get running() {
      return running;
    },
    stdin: {
      write(line: string) {
        log.push(`client ${line.trim()}`);
        if (line === 'check\n') events.push({ event: 'checked', open: stillOpen });
        if (line === 'close\n') running = false;
        return true;
      },
    },
    async waitForEvent(pred: (e: Record<string, unknown>) => boolean) {
      const e = events.find(pred);
      if (!e) throw new Error('no such event');
      return e;
    },
    async stop() {
      running = false;
      return { code: 0, signal: null };
    },
  };
}

function idleEnv(opts: { heldAt?: Record<string, number>; openAfter?: Record<string, number>; bytesPerConn: Record<string, number> }) {
  const log: string[] = [];
  const state: Record<string, { held: boolean }> = { linnet: { held: false }, nginx: { held: false }, haproxy: { held: false } };
  let current = '';
  const env = {
    linnetWorkers: 1,
    linnetSettings: '',
    address: (route: string) => `${route}:80`,
    async startLinnet(workers: number, s: Record<string, string> = {}) {
      log.push(`start linnet ${workers} ${Object.keys(s).length ? JSON.stringify(s) : 'defaults'}`);
      state.linnet!.held = false;
    },
    async restartBaseline(kind: string, max?: number) {
      log.push(`restart ${kind}${max ? ` ${max}` : ''}`);
      state[kind]!.held = false;
    },
    openFileLimit: () => 20_000,
    async runLoad(argv: string[]) {
      log.push(`warm-up ${argv[argv.indexOf('--to') + 1]}`);
      return '';
    },
    memoryNow(kind: string) {
      const extra = state[kind]!.held ? 1000 * opts.bytesPerConn[kind]! : 0;
      return { rss: 50 * MiB + extra * 1.1, private: 20 * MiB + extra, pss: 30 * MiB };
    },
    spawnLoad(argv: string[]) {
      current = argv[argv.indexOf('--to') + 1]!.split(':')[0]!;
      const kind = current === 'linnet' ? 'linnet' : current;
      state[kind]!.held = true;
      return fakeClient(1000, opts.openAfter?.[kind] ?? 1000, log);
    },
    async heldConnections(kind: string) {
      return opts.heldAt?.[kind] ?? 1000;
    },
  };
  return { env, log };
}

const ctxOf = (env: unknown): MemoryContext => ({
  env: env as BenchEnv,
  progress: quiet(),
  meshSkipReason: async () => undefined,
  pathProblem: async () => undefined,
});

test('idle-conns: each target fresh each run with room for the connections, per-connection memory from the deltas, ratio to haproxy, usual settings restored', async () => {
  const { env, log } = idleEnv({ bytesPerConn: { linnet: 8192, nginx: 1024, haproxy: 4096 } });
  const r = await idleConnsScenario(settings()).run(ctxOf(env));
  assert.equal(r.status, 'ok');
  const restarts = log.filter((l) => l.startsWith('start') || l.startsWith('restart'));
  assert.deepEqual(restarts, [
    'start linnet 1 {"LINNET_PROXY_INBOUND_MAX_CONNECTIONS":"2024","LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT":"120s","LINNET_PROXY_DETECT_TIMEOUT":"5s"}',
    'restart nginx 1000',
    'restart haproxy 1000',
    'start linnet 1 {"LINNET_PROXY_INBOUND_MAX_CONNECTIONS":"2024","LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT":"120s","LINNET_PROXY_DETECT_TIMEOUT":"5s"}',
    'restart nginx 1000',
    'restart haproxy 1000',
    // Afterwards, as every other scenario measures them.
    'start linnet 1 defaults',
    'restart nginx',
    'restart haproxy',
  ]);
  // Warm-up before each measured run, and the client asked after the memory was read, then closed.
  assert.equal(log.filter((l) => l.startsWith('warm-up')).length, 6);
  assert.deepEqual(log.filter((l) => l.startsWith('client')).slice(0, 2), ['client check', 'client close']);
  const by = (t: string) => r.targets.find((x) => x.target === t)!.idleConns!;
  assert.equal(by('linnet').perConnectionPrivateBytes.median, 8192);
  assert.ok(Math.abs(by('linnet').perConnectionRssBytes.median - 8192 * 1.1) < 1e-6);
  assert.equal(by('linnet').vsHaproxy, 2);
  assert.equal(by('nginx').vsHaproxy, 0.25);
  assert.equal(by('haproxy').vsHaproxy, undefined);
  assert.equal(by('nginx').heldAtProxy, 1000);
  assert.match(by('linnet').settings, /LINNET_PROXY_INBOUND_MAX_CONNECTIONS=2024/);
});

test('idle-conns: a run where the proxy held fewer, or the client saw some close, fails with the reason; no figure from it', async () => {
  const { env } = idleEnv({ bytesPerConn: { linnet: 8192, nginx: 1024, haproxy: 4096 }, heldAt: { nginx: 998 }, openAfter: { linnet: 990 } });
  const r = await idleConnsScenario(settings({ runs: 1 })).run(ctxOf(env));
  const by = (t: string) => r.targets.find((x) => x.target === t)!;
  assert.equal(by('linnet').status, 'failed');
  assert.match(by('linnet').reason!, /10 of 1000 connections closed while held/);
  assert.equal(by('nginx').status, 'failed');
  assert.match(by('nginx').reason!, /holding 998 client connections, not 1000/);
  assert.equal(by('haproxy').status, 'ok');
  assert.equal(r.status, 'ok');
});

test('soak: memory read at the start, every interval and at the end; growth from the baseline; errors and kinds from the load tool; paths checked', async () => {
  let rss = 100 * MiB;
  const checked: string[] = [];
  const env = {
    memoryNow: () => ({ rss: (rss += MiB), private: 40 * MiB, pss: 60 * MiB }),
    cpuSeconds: () => 0,
    peakRss: () => 200 * MiB,
    address: (route: string, proto: string) => `${route}/${proto}`,
    async checkPeerMesh(proto: string) {
      checked.push(`pair ${proto}`);
    },
    async runLoad(argv: string[]) {
      checked.push(`load ${argv.slice(2).join(' ')}`);
      await sleep(2100);
      return JSON.stringify({ ops: 190, seconds: 2, errors: 3, sent: 193, kinds: { h1KeepAlive: { ops: 100, errors: 0, sent: 100 }, h1NewConnection: { ops: 38, errors: 2, sent: 40 }, grpc: { ops: 52, errors: 1, sent: 53 } }, firstErrors: ['grpc: 4 deadline'] });
    },
  };
  const ctx: MemoryContext = { ...ctxOf(env), pathProblem: async (t, proto) => (t === 'haproxy-mesh' && proto === 'grpc' ? 'went through Linnet' : undefined) };
  const r = await soakScenario(settings()).run(ctx);
  assert.deepEqual(checked.slice(0, 2), ['load --http1 mesh/http1 --grpc mesh/grpc --rate 100 --duration 2', 'pair http1']);
  const linnet = r.targets[0]!;
  assert.equal(linnet.status, 'ok');
  assert.equal(linnet.errors, 3);
  const k = linnet.soak!;
  // t = 0, 1, 2 (interval 1 s for a 2 s soak) and the end: at least three, in time order.
  assert.ok(k.samples.length >= 3, JSON.stringify(k.samples));
  assert.ok(k.samples.every((x, i) => i === 0 || x.t >= k.samples[i - 1]!.t));
  assert.equal(k.baselineAtS, 0.5);
  assert.ok(k.growth.rssGrowthPct > 0 && k.growth.finalRss > k.growth.baselineRss);
  assert.deepEqual(k.kinds.h1NewConnection, { ops: 38, errors: 2, sent: 40 });
  assert.deepEqual(k.firstErrors, ['grpc: 4 deadline']);
  assert.equal(linnet.achievedRate!.median, 95);
  // The pair's path check failed after its load: a failed target with the reason, not a figure.
  assert.equal(r.targets[1]!.status, 'failed');
  assert.equal(r.targets[1]!.reason, 'went through Linnet');
});
