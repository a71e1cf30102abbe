/**
 * The viz service inside `linnet control`: knows the proxies connected to the control plane (the
 * mesh file's meshed endpoints and the proxies the identity service certified), scrapes their
 * admin ports into a few minutes of history, and serves the API and the dashboard (api.ts).
 */
import type { Logger } from '../../core/log';
import type { MeshState } from '../destination/model';
import { parseTarget, resolve } from '../destination/model';
import type { DiscoverySource } from '../destination/source';
import { startVizApi, type SeriesPoint, type VizApi, type VizBackend } from './api';
import { buildInventory, type Certified } from './inventory';
import { Scraper } from './scraper';
import { PrometheusSource } from './prometheus-source';
import { statRows } from './stat';
import { fanOut } from './tap-fanout';
import { tapMatch } from './tap-format';
import type { TapCredentials } from './tap-identity';

export const VIZ_DEFAULTS = { addr: '127.0.0.1:8085', scrapeInterval: '2s', history: '5m' };

export interface VizServiceOptions {
  addr: string;
  intervalMs: number;
  keepMs: number;
  mesh: () => MeshState | undefined;
  certified: () => readonly Certified[];
  discovery?: DiscoverySource;
  log: Logger;
  adminPort?: number;
  /** read the numbers from this Prometheus instead of scraping the proxies */
  prometheusUrl?: string;
  /** the viz service's tap certificate; absent: no tap (no identity in this control plane) */
  tapCredentials?: () => Promise<TapCredentials>;
  tapPort?: number;
}

export interface VizService {
  port: number;
  scraper: Scraper;
  close(): Promise<void>;
}

/** The sparklines' window: a few rounds, so one slow scrape does not show as a gap. */
const SERIES_WINDOW_MS = 10_000;

export async function startVizService(o: VizServiceOptions): Promise<VizService> {
  const scraper = new Scraper({
    targets: () => buildInventory(o.mesh(), o.certified(), o.adminPort),
    intervalMs: o.intervalMs,
    keepMs: o.keepMs,
    onError: (t, error) => o.log.warn('proxy does not answer', { pod: t.pod, workload: t.workload, error }),
  });
  const prom = o.prometheusUrl ? new PrometheusSource(o.prometheusUrl) : undefined;
  /** Every known proxy over a window ending now: from the scraper's history, or from Prometheus. */
  const windows = async (ms: number, now = Date.now()) => (prom ? prom.windows(scraper.targets(), ms, now) : scraper.windows(ms, now));
  if (prom) scraper.useRemote(); // the inventory and the ticks only: Prometheus does the scraping
  const series = new Map<string, SeriesPoint[]>();
  scraper.onTick(async () => {
    const now = Date.now();
    let rows;
    try {
      rows = statRows({ kind: 'deploy' }, await windows(SERIES_WINDOW_MS, now));
    } catch (err) {
      o.log.warn('viz: no numbers this round', { error: String(err) });
      return;
    }
    for (const r of rows) {
      let list = series.get(r.name);
      if (!list) series.set(r.name, (list = []));
      list.push({ t: now, ...(r.rps !== undefined ? { rps: r.rps } : {}), ...(r.successRate !== undefined ? { successRate: r.successRate } : {}), ...(r.p50 !== undefined ? { p50: r.p50, p95: r.p95!, p99: r.p99! } : {}) });
      while (list.length > 0 && list[0]!.t < now - o.keepMs) list.shift();
    }
  });
  const backend: VizBackend = {
    windows: (ms) => windows(ms),
    targets: () => scraper.targets(),
    raw: (t) => scraper.raw(t),
    onTick: (fn) => scraper.onTick(fn),
    series: () => Object.fromEntries(series),
    ...(o.tapCredentials
      ? {
          tap: async (r, signal, onEvent, onError) => {
            const creds = await o.tapCredentials!();
            const match = tapMatch({ ...(r.toIps ? { toIps: r.toIps } : {}), ...(r.path ? { path: r.path } : {}), ...(r.method ? { method: r.method } : {}), ...(r.authority ? { authority: r.authority } : {}) });
            await fanOut({
              targets: r.targets,
              all: scraper.targets(),
              creds,
              ...(match ? { match } : {}),
              ...(r.maxRps ? { maxRps: r.maxRps } : {}),
              ...(r.limit ? { limit: r.limit } : {}),
              signal,
              onEvent,
              onError: (_t, m) => onError(m),
              ...(o.tapPort ? { tapPort: o.tapPort } : {}),
            });
          },
        }
      : {}),
    ...(o.discovery
      ? {
          endpoints: (authority: string) => {
            const r = resolve(o.discovery!.snapshot(), parseTarget(authority));
            return {
              authority,
              exists: r.exists,
              ...(r.fqn ? { fqn: r.fqn } : {}),
              endpoints: [...r.endpoints.values()].map((e) => ({ ip: e.ip, port: e.port, weight: e.weight, ...(e.identity ? { identity: e.identity } : {}), labels: e.labels, ...(e.hint ? { hint: e.hint } : {}) })),
            };
          },
        }
      : {}),
  };
  const api: VizApi = await startVizApi(o.addr, backend, o.log);
  scraper.start();
  o.log.info('viz serving', { addr: o.addr, port: api.port, scrape_interval_ms: o.intervalMs, history_ms: o.keepMs, source: o.prometheusUrl ?? 'embedded' });
  return {
    port: api.port,
    scraper,
    close: async () => {
      await scraper.stop();
      await api.close();
    },
  };
}
