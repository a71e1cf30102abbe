/**
 * The embedded source of numbers: every interval, each known proxy's admin `/metrics` and
 * `/latency` (port 4191) are read into a snapshot kept in a History. A proxy that does not answer
 * is marked down with the reason and the others are still read; the last good snapshots stay.
 */
import { parsePromText } from '../../core/prom-text';
import { fetchFailure } from './client';
import { History } from './history';
import type { ProxyTarget } from './inventory';
import { latencyBuckets, proxySnapshot } from './snapshot';
import type { TargetWindow } from './stat';

export interface ScraperOptions {
  targets: () => ProxyTarget[];
  intervalMs: number;
  keepMs: number;
  /** per request */
  timeoutMs?: number;
  onError?: (target: ProxyTarget, error: string) => void;
}

interface Status {
  up: boolean;
  error?: string;
  at: number;
}

async function get(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return body;
}

const why = fetchFailure;

export class Scraper {
  readonly history: History;
  private readonly status = new Map<string, Status>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly listeners = new Set<() => void | Promise<void>>();
  private current: ProxyTarget[] = [];
  private remote = false;
  /** per proxy: whether its /latency hands out HDR buckets (undefined: not asked yet) */
  private readonly latencyBuckets = new Map<string, boolean>();

  constructor(private readonly o: ScraperOptions) {
    this.history = new History(o.keepMs);
  }

  start(): void {
    const loop = () => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        if (this.timer !== undefined) this.timer = setTimeout(loop, this.o.intervalMs);
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Another source (Prometheus) has the numbers: keep the inventory and the ticks, read nothing. */
  useRemote(): void {
    this.remote = true;
  }

  /** Called after every round of scrapes. */
  onTick(fn: () => void | Promise<void>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  targets(): ProxyTarget[] {
    return this.current;
  }

  async tick(): Promise<void> {
    const targets = this.o.targets();
    this.current = targets;
    this.history.retain(new Set(targets.map((t) => t.admin)));
    if (!this.remote) await Promise.all(targets.map((t) => this.scrape(t)));
    // One listener's failure does not stop the others.
    await Promise.all([...this.listeners].map((fn) => Promise.resolve().then(fn).catch(() => undefined)));
  }

  private async scrape(t: ProxyTarget): Promise<void> {
    const timeout = this.o.timeoutMs ?? 2000;
    try {
      // /latency makes the proxy merge its HDR histograms: asked only of a proxy whose answer has
      // buckets to cut windows from (asked once per proxy process otherwise).
      const askLatency = this.latencyBuckets.get(t.admin) !== false;
      const [text, latency] = await Promise.all([
        get(`http://${t.admin}/metrics`, timeout),
        askLatency
          ? get(`http://${t.admin}/latency?buckets=1`, timeout).then(
              (b) => JSON.parse(b) as unknown,
              () => undefined,
            )
          : undefined,
      ]);
      const snap = proxySnapshot(parsePromText(text).samples, Date.now());
      const prev = this.history.latest(t.admin);
      if (prev && prev.startedAt !== snap.startedAt) this.latencyBuckets.delete(t.admin); // a new process: ask again
      if (askLatency && latency !== undefined) {
        const hdr = latencyBuckets(latency);
        this.latencyBuckets.set(t.admin, hdr !== undefined);
        if (hdr) snap.hdr = hdr;
      }
      this.history.add(t.admin, snap);
      this.status.set(t.admin, { up: true, at: snap.at });
    } catch (err) {
      const error = `${t.admin}: ${why(err)}`;
      const was = this.status.get(t.admin);
      if (was?.up !== false) this.o.onError?.(t, error);
      this.status.set(t.admin, { up: false, error, at: Date.now() });
    }
  }

  /** Every known proxy over a window ending now. */
  windows(windowMs: number, now = Date.now()): TargetWindow[] {
    return this.current.map((target) => {
      const st = this.status.get(target.admin);
      const { cur, base } = this.history.window(target.admin, windowMs, now);
      return { target, ...(cur ? { cur } : {}), ...(base ? { base } : {}), up: st?.up === true, ...(st?.error ? { error: st.error } : {}) };
    });
  }

  /** A proxy's raw /metrics, fetched now (diagnostics proxy-metrics). */
  raw(t: ProxyTarget): Promise<string> {
    return get(`http://${t.admin}/metrics`, this.o.timeoutMs ?? 2000);
  }
}
