/** The memory scenarios' arithmetic: soak growth, its schedule, bytes per connection, ss counting, the mix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countEstablished, perConnection, soakDue, soakGrowth, soakSchedule, SOAK_MIX, type MemorySample } from './memory';

const MiB = 1 << 20;
const sample = (t: number, rssMiB: number, privMiB = rssMiB / 2): MemorySample => ({ t, rss: rssMiB * MiB, private: privMiB * MiB, pss: privMiB * MiB });

test('soak growth: from the first sample at or after the first minute to the last; the warm-up climb does not count', () => {
  const samples = [sample(0, 40), sample(10, 70), sample(20, 90), sample(60, 100), sample(70, 104), sample(80, 102), sample(600, 103, 60)];
  const g = soakGrowth(samples, 60);
  assert.equal(g.baselineT, 60);
  assert.equal(g.baselineRss, 100 * MiB);
  assert.equal(g.finalRss, 103 * MiB);
  assert.ok(Math.abs(g.rssGrowthPct - 3) < 1e-9, String(g.rssGrowthPct));
  assert.ok(Math.abs(g.rssPeakGrowthPct - 4) < 1e-9, String(g.rssPeakGrowthPct));
  assert.ok(Math.abs(g.privateGrowthPct - 20) < 1e-9, String(g.privateGrowthPct));
  // The second half after the baseline (from 330 s): from the 600 s sample to itself.
  assert.equal(g.lateRssGrowthPct, 0);
});

test('soak growth, late: a heap that settles is flat in the second half, a leak keeps growing there', () => {
  const settles = [0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600].map((t) => sample(t, t <= 240 ? 100 + t / 10 : 124));
  const leaks = [0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600].map((t) => sample(t, 100 + t / 20));
  const a = soakGrowth(settles, 60);
  const b = soakGrowth(leaks, 60);
  assert.ok(a.rssGrowthPct > 10 && a.lateRssGrowthPct === 0, JSON.stringify(a));
  assert.ok(b.lateRssGrowthPct > 5, JSON.stringify(b));
});

test('soak growth: samples out of order are sorted; unreadable ones (NaN) are left out; a shrink is negative', () => {
  const g = soakGrowth([sample(90, 95), sample(30, 100), { t: 50, rss: NaN, private: NaN, pss: NaN }, sample(20, 80)], 25);
  assert.equal(g.baselineT, 30);
  assert.ok(Math.abs(g.rssGrowthPct + 5) < 1e-9);
  assert.equal(g.rssPeakGrowthPct, 0);
});

test('soak growth: NaN when no sample follows the baseline (a soak cut short cannot claim 0%)', () => {
  assert.ok(Number.isNaN(soakGrowth([sample(0, 40), sample(10, 41)], 60).rssGrowthPct));
  assert.ok(Number.isNaN(soakGrowth([sample(0, 40), sample(60, 41)], 60).rssGrowthPct));
  assert.ok(Number.isNaN(soakGrowth([], 60).rssGrowthPct));
  assert.ok(Number.isNaN(soakGrowth([sample(60, 0), sample(70, 10)], 60).rssGrowthPct));
});

test('soak schedule: every 10 s after a 1-minute baseline for a real soak; scaled down for a short one', () => {
  assert.deepEqual(soakSchedule(600), { intervalS: 10, baselineAtS: 60 });
  assert.deepEqual(soakSchedule(8), { intervalS: 1, baselineAtS: 2 });
  assert.deepEqual(soakSchedule(40), { intervalS: 5, baselineAtS: 10 });
  // A short soak still gets samples after its baseline.
  const s = soakSchedule(8);
  assert.ok((8 - s.baselineAtS) / s.intervalS >= 4);
});

test('per connection: the memory delta while held over the count; no count, no figure', () => {
  const pc = perConnection({ rss: 50 * MiB, private: 20 * MiB }, { rss: 90 * MiB, private: 55 * MiB }, 10_000);
  assert.equal(pc.rss, (40 * MiB) / 10_000);
  assert.equal(pc.private, (35 * MiB) / 10_000);
  assert.ok(Number.isNaN(perConnection({ rss: 1, private: 1 }, { rss: 2, private: 2 }, 0).private));
});

test('ss counting: only established connections on the local port from the peer, IPv4 and v4-mapped', () => {
  const out = [
    '0      0           10.99.0.3:4143         10.99.0.2:40000',
    '0      0           10.99.0.3:4143         10.99.0.2:40001',
    '0      0      [::ffff:10.99.0.3]:4143 [::ffff:10.99.0.2]:40002',
    '0      0           10.99.0.3:4143         10.99.0.4:40003', // another peer
    '0      0           127.0.0.1:51000        127.0.0.1:11000', // the proxy's upstream
    '0      0           10.99.0.3:41430        10.99.0.2:40004', // a port that only starts the same
    '',
  ].join('\n');
  assert.equal(countEstablished(out, 4143, '10.99.0.2'), 3);
  assert.equal(countEstablished('ESTAB 0 0 10.99.0.3:10100 10.99.0.2:5\n', 10100, '10.99.0.2'), 1);
  assert.equal(countEstablished('', 4143, '10.99.0.2'), 0);
});

test('soak mix: the shares sum to the rate; requests due grow with time, open loop', () => {
  assert.ok(Math.abs(SOAK_MIX.h1KeepAlive + SOAK_MIX.h1NewConnection + SOAK_MIX.grpc - 1) < 1e-9);
  assert.deepEqual(soakDue(10, 2000), { h1KeepAlive: 10_000, h1NewConnection: 4000, grpc: 6000 });
  assert.deepEqual(soakDue(-1, 2000), { h1KeepAlive: 0, h1NewConnection: 0, grpc: 0 });
});

test('Linnet for idle connections: a connection cap above the count (the default fits ulimit -n / 8) and the bench\'s 120 s keep-alive', async () => {
  const { linnetIdleSettings } = await import('./memory-scenarios');
  const { parseLimitsEnv } = await import('../proxy/runtime/config/limits');
  const env = linnetIdleSettings(10_000);
  assert.equal(env.LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT, '120s');
  // The load tool's storm of connects must not turn slow-to-speak HTTP clients into opaque ones.
  assert.equal(env.LINNET_PROXY_DETECT_TIMEOUT, '5s');
  // At the usual ulimit -n of 20,000 the default would hold 2,372; the setting admits all 10,000.
  assert.equal(parseLimitsEnv({}, 1, 20_000).inboundMaxConnections, 2372);
  assert.ok(parseLimitsEnv(env, 1, 20_000).inboundMaxConnections > 10_000);
});
