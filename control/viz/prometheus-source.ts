/**
 * The numbers from a Prometheus the user already runs (`linnet control --prometheus-url`): the
 * same counters the embedded scraper reads, fetched with instant queries at the window's end and
 * start and grouped by the proxy (`instance`, its admin address), then cut into the same
 * snapshots, so every answer is computed by the same code as in the embedded mode.
 */
import type { Sample } from '../../core/prom-text';
import type { ProxyTarget } from './inventory';
import { ROUTE_METRICS } from './route-snapshot';
import { proxySnapshot, type ProxySnapshot } from './snapshot';
import type { TargetWindow } from './stat';

const METRICS = ['response_total', 'response_latency_ms_bucket', 'tcp_open_total', 'tcp_open_connections', 'process_start_time_seconds', ...ROUTE_METRICS, 'inbound_tcp_authz_allow_total', 'inbound_tcp_authz_deny_total'].join('|');
/** Labels Prometheus adds to a scraped series that are not the proxy's. */
const TARGET_LABELS = new Set(['__name__', 'instance', 'job', 'namespace', 'deployment', 'pod', 'linnet_io_identity']);

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

export class PrometheusSource {
  constructor(
    private readonly url: string,
    private readonly timeoutMs = 5000,
  ) {}

  private async query(expr: string, atMs: number): Promise<PromVector[]> {
    const u = `${this.url.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(expr)}&time=${(atMs / 1000).toFixed(3)}`;
    const res = await fetch(u, { signal: AbortSignal.timeout(this.timeoutMs) });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromVector[] } };
    if (body.status !== 'success' || !body.data) throw new Error(`prometheus at ${this.url}: ${body.error ?? `HTTP ${res.status}`}`);
    return body.data.result;
  }

  /** Every proxy's snapshot as Prometheus last saw it at `atMs`, by instance (admin address). */
  async snapshotsAt(atMs: number): Promise<Map<string, ProxySnapshot>> {
    const rows = await this.query(`{__name__=~"${METRICS}"}`, atMs);
    const byInstance = new Map<string, Sample[]>();
    for (const r of rows) {
      const inst = r.metric['instance'];
      if (!inst) continue;
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.metric)) if (!TARGET_LABELS.has(k)) labels[k] = v;
      let list = byInstance.get(inst);
      if (!list) byInstance.set(inst, (list = []));
      list.push({ name: r.metric['__name__']!, labels, value: Number(r.value[1]) });
    }
    return new Map([...byInstance].map(([inst, samples]) => [inst, proxySnapshot(samples, atMs)]));
  }

  /** `up` per instance now. */
  async up(atMs: number): Promise<Map<string, boolean>> {
    const rows = await this.query('up', atMs);
    return new Map(rows.filter((r) => r.metric['instance']).map((r) => [r.metric['instance']!, r.value[1] === '1']));
  }

  /** The same windows the embedded scraper gives, for the known proxies. */
  async windows(targets: readonly ProxyTarget[], windowMs: number, now = Date.now()): Promise<TargetWindow[]> {
    const from = now - windowMs;
    const [cur, base, up] = await Promise.all([this.snapshotsAt(now), this.snapshotsAt(from), this.up(now)]);
    return targets.map((target) => {
      const c = cur.get(target.admin);
      const b = base.get(target.admin);
      const isUp = up.get(target.admin) === true;
      // As the embedded history: a proxy started inside the window counts from zero.
      const startedInside = c?.startedAt !== undefined && c.startedAt >= from;
      const sameProcess = b && b.startedAt === c?.startedAt;
      return {
        target,
        up: isUp,
        ...(c ? { cur: c } : {}),
        // No sample at the window's start (Prometheus younger than the window): from the proxy's start.
        ...(c && b && !startedInside && sameProcess ? { base: b } : {}),
        ...(isUp ? {} : { error: up.has(target.admin) ? `${target.admin}: Prometheus' last scrape failed` : `${target.admin}: not scraped by Prometheus` }),
      };
    });
  }
}
