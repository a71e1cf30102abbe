/** A small results object for the writers' unit tests (not a test file itself). */
import { SCHEMA, type BenchResults } from './schema';
import { summarize } from './stats';

export function sampleResults(): BenchResults {
  const lat = (base: number) => ({ p50: summarize([base, base * 1.1]), p90: summarize([base * 2, base * 2.2]), p99: summarize([base * 5, base * 6]), 'p99.9': summarize([base * 10, base * 12]) });
  return {
    schema: SCHEMA,
    startedAt: '2026-11-22T14:00:00.000Z',
    finishedAt: '2026-11-22T14:20:00.000Z',
    gitCommit: 'abc1234',
    machine: { cpus: 2, cpuModel: 'Test CPU', kernel: '6.1.0', node: 'v20.20.0', loadAvgAtStart: [1, 2, 3], memoryBytes: 8 * 2 ** 30 },
    settings: { runs: 3, durationS: 5, warmupS: 2, connections: 32, rates: [1000], quick: false, pinning: 'load on CPU 0, proxy on CPU 1', command: 'linnet bench' },
    scenarios: [
      {
        id: 'http1-small',
        title: 'HTTP/1.1 small requests',
        kind: 'throughput',
        unit: 'req/s',
        tool: 'wrk',
        status: 'ok',
        targets: [
          { target: 'direct', status: 'ok', throughput: summarize([20000, 21000, 19000]), vsDirect: 1, errors: 0 },
          {
            target: 'linnet',
            status: 'ok',
            throughput: summarize([10000, 11000, 9000]),
            vsDirect: 0.5,
            errors: 3,
            cost: { cpuSecondsPer1k: summarize([0.03, 0.031, 0.029]), peakRssBytes: 100 << 20 },
          },
          { target: 'linnet-mesh', status: 'skipped', reason: 'needs mTLS (LINNET_PROXY_IDENTITY_*)' },
          { target: 'haproxy-mesh', status: 'ok', throughput: summarize([8000, 8400, 7600]), vsDirect: 0.4, errors: 0, cost: { cpuSecondsPer1k: summarize([0.05, 0.05, 0.05]), peakRssBytes: 30 << 20 } },
          { target: 'nginx', status: 'failed', reason: 'wrk exited 1' },
        ],
      },
      {
        id: 'grpc-unary-mesh',
        title: 'gRPC unary (64 B), meshed',
        kind: 'throughput',
        unit: 'req/s',
        tool: 'h2load',
        status: 'ok',
        targets: [
          { target: 'direct', status: 'ok', throughput: summarize([24000, 24000, 24000]), vsDirect: 1, errors: 0 },
          { target: 'linnet-mesh', status: 'ok', throughput: summarize([6000, 6300, 5700]), vsDirect: 0.25, vsPeerMesh: 0.5, errors: 0 },
          { target: 'haproxy-mesh', status: 'ok', throughput: summarize([12000, 12000, 12000]), vsDirect: 0.5, errors: 0 },
        ],
      },
      {
        id: 'latency-http1-1000',
        title: 'HTTP/1.1 at a constant 1000 req/s',
        kind: 'latency',
        unit: 'req/s',
        tool: 'open-loop',
        rate: 1000,
        status: 'ok',
        targets: [
          { target: 'direct', status: 'ok', achievedRate: summarize([1000, 1000]), latencyMs: lat(0.5), addedMs: { p50: 0, p90: 0, p99: 0, 'p99.9': 0 } },
          { target: 'linnet', status: 'ok', achievedRate: summarize([999, 1000]), latencyMs: lat(0.8), addedMs: { p50: 0.315, p90: 0.63, p99: 1.65, 'p99.9': 3.3 } },
          {
            target: 'linnet-mesh',
            status: 'ok',
            achievedRate: summarize([1000, 1000]),
            latencyMs: lat(1.5),
            addedMs: { p50: 1.05, p90: 2.1, p99: 5.5, 'p99.9': 11 },
            overPeerMeshMs: { p50: 0.525, p90: 1.05, p99: -2.75, 'p99.9': 5.5 },
          },
          { target: 'haproxy-mesh', status: 'ok', achievedRate: summarize([1000, 1000]), latencyMs: lat(1), addedMs: { p50: 0.525, p90: 1.05, p99: 2.75, 'p99.9': 5.5 } },
        ],
      },
    ],
  };
}

/** sampleResults with the two memory scenarios (soak-mesh and idle-conns) after the others. */
export function memoryResults(): BenchResults {
  const base = sampleResults();
  const MiB = 1 << 20;
  const samples = (start: number, end: number) =>
    Array.from({ length: 61 }, (_, i) => ({ t: i * 10, rss: (i < 6 ? start * (0.5 + i / 12) : start + ((end - start) * (i - 6)) / 54) * MiB, private: (i < 6 ? 40 : 40 + (i - 6) / 54) * MiB, pss: 60 * MiB }));
  const per = (kib: number) => summarize([kib * 1024, kib * 1024 * 1.1, kib * 1024 * 0.9]);
  const idle = (target: 'linnet' | 'nginx' | 'haproxy', kib: number, vsHaproxy?: number) => ({
    target,
    status: 'ok' as const,
    errors: 0,
    idleConns: {
      connections: 10_000,
      perConnectionPrivateBytes: per(kib),
      perConnectionRssBytes: per(kib * 1.05),
      beforeRssBytes: summarize([50 * MiB]),
      heldRssBytes: summarize([50 * MiB + kib * 1024 * 10_000 * 1.05]),
      beforePrivateBytes: summarize([20 * MiB]),
      heldPrivateBytes: summarize([20 * MiB + kib * 1024 * 10_000]),
      heldAtClient: 10_000,
      heldAtProxy: 10_000,
      ...(vsHaproxy !== undefined ? { vsHaproxy } : {}),
      settings: `${target} settings`,
    },
  });
  return {
    ...base,
    settings: { ...base.settings, soakSeconds: 600, soakRate: 2000, idleConnections: 10_000 },
    scenarios: [
      ...base.scenarios,
      {
        id: 'soak-mesh',
        title: 'Soak: 600 s at 2000 req/s through the meshed path',
        kind: 'soak',
        unit: 'MiB',
        tool: 'soak-load',
        status: 'ok',
        targets: [
          {
            target: 'linnet-mesh',
            status: 'ok',
            errors: 2,
            achievedRate: summarize([1999.5]),
            soak: {
              seconds: 600,
              rate: 2000,
              intervalS: 10,
              baselineAtS: 60,
              samples: samples(100, 103),
              growth: { baselineT: 60, baselineRss: 100 * MiB, finalRss: 103 * MiB, rssGrowthPct: 3, rssPeakGrowthPct: 3, baselinePrivate: 40 * MiB, finalPrivate: 41 * MiB, privateGrowthPct: 2.5, lateRssGrowthPct: 1.5 },
              ops: 1_199_700,
              sent: 1_199_702,
              kinds: { h1KeepAlive: { ops: 600_000, errors: 0, sent: 600_000 }, h1NewConnection: { ops: 239_700, errors: 2, sent: 239_702 }, grpc: { ops: 360_000, errors: 0, sent: 360_000 } },
              firstErrors: ['h1NewConnection: ECONNRESET'],
            },
            cost: { cpuSecondsPer1k: summarize([0.3]), peakRssBytes: 110 * MiB, privateBytes: 41 * MiB, pssBytes: 60 * MiB },
          },
          { target: 'haproxy-mesh', status: 'failed', reason: 'the haproxy pair did not start: openssl missing' },
        ],
      },
      {
        id: 'idle-conns',
        title: '10000 idle HTTP/1.1 keep-alive connections on one proxy',
        kind: 'idle-conns',
        unit: 'B/conn',
        tool: 'idle-conns',
        status: 'ok',
        targets: [idle('linnet', 12, 3), idle('nginx', 2.5, 0.625), idle('haproxy', 4)],
      },
    ],
  };
}
