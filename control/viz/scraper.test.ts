import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Scraper } from './scraper';
import type { ProxyTarget } from './inventory';
import { statRows } from './stat';

/** A stand-in admin server (a unit test's fake proxy): /metrics with `ok` successes, /latency?buckets=1 as given (an older proxy answers percentiles only). */
async function fakeProxy(state: { ok: number; latency: unknown; latencyHits: number }): Promise<Server> {
  const s = createServer((req, res) => {
    if (req.url === '/metrics') return void res.end(`process_start_time_seconds 1\nresponse_total{direction="inbound",authority="a",classification="success"} ${state.ok}\n`);
    if (req.url === '/latency?buckets=1') {
      state.latencyHits++;
      return void res.end(JSON.stringify(state.latency));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return s;
}

const target = (s: Server, pod: string): ProxyTarget => ({ ip: '127.0.0.1', admin: `127.0.0.1:${(s.address() as AddressInfo).port}`, workload: 'w', namespace: 'n', pod });

test('scraper: counts between rounds; a proxy that stops answering is marked down and the rest served; /latency asked once when it has no buckets', async () => {
  const a = { ok: 5, latency: { 'inbound a': { p50: 1 } }, latencyHits: 0 };
  const b = { ok: 7, latency: { 'inbound a': { buckets: [1000, 7], max: 1000 } }, latencyHits: 0 };
  const [sa, sb] = [await fakeProxy(a), await fakeProxy(b)];
  const targets = [target(sa, 'pa'), target(sb, 'pb')];
  const errors: string[] = [];
  const scraper = new Scraper({ targets: () => targets, intervalMs: 60_000, keepMs: 60_000, onError: (_t, e) => errors.push(e) });
  try {
    await scraper.tick();
    a.ok = 9;
    b.ok = 10;
    await new Promise((r) => setTimeout(r, 20));
    await scraper.tick();
    await scraper.tick();
    const rows = statRows({ kind: 'pod' }, scraper.windows(60_000));
    // Both started (process_start_time_seconds 1) long before the window: counted from the first scrape.
    assert.deepEqual(rows.map((r) => [r.name, r.requests, r.meshed]), [['pa', 4, 1], ['pb', 3, 1]]);
    assert.equal(a.latencyHits, 1, 'percentiles only: not asked again');
    assert.equal(b.latencyHits, 3, 'buckets: asked every round');
    await new Promise<void>((ok) => sa.close(() => ok()));
    sa.closeAllConnections();
    await scraper.tick();
    const after = statRows({ kind: 'pod' }, scraper.windows(60_000));
    assert.equal(after[0]!.meshed, 0);
    assert.match(after[0]!.down![0]!, /^pa: 127\.0\.0\.1:\d+: (ECONNREFUSED|other side closed)$/);
    assert.equal(after[0]!.requests, 4, 'its last snapshot still answers');
    assert.equal(after[1]!.meshed, 1);
    assert.equal(errors.length, 1);
  } finally {
    await scraper.stop();
    sb.close();
    sb.closeAllConnections();
    sa.close();
  }
});
