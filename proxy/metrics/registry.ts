/**
 * The proxy's metrics registry: labelled counters and gauges, collectors that compute their
 * samples at scrape time, the Prometheus text format (0.0.4), and the merge of several lanes'
 * metrics into one exposition.
 *
 * Our own rather than prom-client's: prom-client and the OpenTelemetry API it loads were 11 MB of
 * an idle sidecar's resident memory, about a quarter of what the proxy adds to bare Node. The
 * control plane, which runs once per cluster, keeps prom-client.
 */
import { LinnetError } from '../../core/errors';

export type Labels = Readonly<Record<string, string | undefined>>;
export type MetricType = 'counter' | 'gauge' | 'histogram';
/** How one series seen by several lanes combines: added up, or the largest (a worst case). */
export type Aggregation = 'sum' | 'max';

export interface Sample {
  /** The sample's own name where it differs from the family's (a histogram's `_bucket`, `_sum`, `_count`). */
  name?: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** One metric with all its series: what a lane hands to the main thread, and what is written out. */
export interface Family {
  name: string;
  help: string;
  type: MetricType;
  aggregation: Aggregation;
  samples: Sample[];
}

export interface Collector {
  readonly name: string;
  collect(): Family;
}

export class MetricError extends LinnetError {
  constructor(message: string, hint: string) {
    super('LINNET_METRIC_INVALID', message, { hint });
    this.name = 'MetricError';
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** In a metric's labelNames: it also takes any dst_<name> label. */
export const DST_WILDCARD = 'dst_*';

export class Registry {
  private readonly collectors = new Map<string, Collector>();

  /** Adds a metric; a name may be registered once. */
  add<C extends Collector>(c: C): C {
    if (!NAME.test(c.name)) throw new MetricError(`metric name ${JSON.stringify(c.name)} is not a Prometheus name`, 'use letters, digits, _ and :');
    if (this.collectors.has(c.name)) throw new MetricError(`metric ${c.name} is already registered`, 'register each metric once per registry');
    this.collectors.set(c.name, c);
    return c;
  }

  remove(name: string): void {
    this.collectors.delete(name);
  }

  families(): Family[] {
    return [...this.collectors.values()].map((c) => c.collect());
  }

  text(): string {
    return exposition(this.families());
  }
}

export interface Series {
  labels: Record<string, string>;
  value: number;
}

/** A metric whose series are kept here, one per distinct label set. */
abstract class Labelled implements Collector {
  private readonly series = new Map<string, Series>();
  private readonly labelNames: readonly string[];
  /** Declared with `dst_*`: any label named dst_<x> is taken too (the destination's labels, dst-labels.ts). */
  private readonly dstLabels: boolean;

  constructor(
    readonly name: string,
    private readonly help: string,
    labelNames: readonly string[],
    private readonly type: MetricType,
    private readonly aggregation: Aggregation,
    /** Runs before each collection (a gauge that reads its value at scrape time). */
    private readonly onCollect?: () => void,
  ) {
    this.dstLabels = labelNames.includes(DST_WILDCARD);
    this.labelNames = labelNames.filter((l) => l !== DST_WILDCARD);
    for (const l of this.labelNames) if (!LABEL.test(l) || l.startsWith('__')) throw new MetricError(`${name}: label name ${JSON.stringify(l)} is not allowed`, 'use letters, digits and _, not starting with __');
  }

  /**
   * The series for `labels`. Label values are keyed in declaration order, so the same set given in
   * any key order is one series; an absent or undefined label is left out of the output.
   */
  at(labels: Labels | undefined): Series {
    let key = '';
    for (const n of this.labelNames) {
      const v = labels?.[n];
      key += v === undefined ? '\u0001' : v;
      key += '\u0000';
    }
    if (this.dstLabels && labels) for (const k in labels) if (k.startsWith('dst_')) key += `${k}\u0002${labels[k]}\u0000`;
    let s = this.series.get(key);
    if (!s) {
      const clean: Record<string, string> = {};
      if (labels) {
        for (const k of Object.keys(labels)) {
          if (this.dstLabels && k.startsWith('dst_') && LABEL.test(k)) continue;
          if (!this.labelNames.includes(k)) throw new MetricError(`${this.name}: unknown label ${JSON.stringify(k)}`, `its labels are ${this.labelNames.join(', ') || '(none)'}`);
        }
        for (const n of this.labelNames) {
          const v = labels[n];
          if (v !== undefined) clean[n] = v;
        }
        if (this.dstLabels) for (const k in labels) if (k.startsWith('dst_') && labels[k] !== undefined) clean[k] = labels[k]!;
      }
      s = { labels: clean, value: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  collect(): Family {
    this.onCollect?.();
    const samples: Sample[] = [];
    for (const s of this.series.values()) samples.push({ labels: s.labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, aggregation: this.aggregation, samples };
  }

  /** Forgets every series (a gauge rewritten whole at each collection). */
  reset(): void {
    this.series.clear();
  }
}

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export class Counter extends Labelled {
  constructor(registry: Registry, o: MetricOptions) {
    super(o.name, o.help, o.labelNames ?? [], 'counter', 'sum');
    registry.add(this);
  }

  inc(labels?: Labels, n = 1): void {
    if (!(n >= 0)) throw new MetricError(`${this.name}: a counter cannot go down (inc by ${n})`, 'use a gauge for a value that falls');
    this.at(labels).value += n;
  }

  /** One series' increment, resolved once: for a hot path that counts the same labels again and again. */
  bind(labels?: Labels): () => void {
    const s = this.at(labels);
    return () => {
      s.value++;
    };
  }
}

export class Gauge extends Labelled {
  constructor(registry: Registry, o: MetricOptions & { aggregation?: Aggregation; collect?: (g: Gauge) => void }) {
    const collect = o.collect;
    super(o.name, o.help, o.labelNames ?? [], 'gauge', o.aggregation ?? 'sum', collect ? () => collect(this) : undefined);
    registry.add(this);
  }

  set(labels: Labels | undefined, value: number): void {
    this.at(labels).value = value;
  }

  inc(labels?: Labels, n = 1): void {
    this.at(labels).value += n;
  }

  dec(labels?: Labels, n = 1): void {
    this.at(labels).value -= n;
  }
}

/** A metric whose samples are computed when scraped (from records kept elsewhere, or the OS). */
export class Computed implements Collector {
  constructor(
    registry: Registry,
    readonly name: string,
    private readonly help: string,
    private readonly type: MetricType,
    private readonly samples: () => Sample[],
    private readonly aggregation: Aggregation = 'sum',
  ) {
    registry.add(this);
  }

  collect(): Family {
    return { name: this.name, help: this.help, type: this.type, aggregation: this.aggregation, samples: this.samples() };
  }
}

/**
 * Several lanes' families as one: series with the same sample name and labels are added up (or
 * the largest kept, per the family's aggregation); families keep the order they were first seen in.
 */
export function mergeFamilies(perLane: readonly (readonly Family[])[]): Family[] {
  const out = new Map<string, { family: Family; index: Map<string, Sample> }>();
  for (const families of perLane) {
    for (const f of families) {
      let m = out.get(f.name);
      if (!m) {
        m = { family: { name: f.name, help: f.help, type: f.type, aggregation: f.aggregation, samples: [] }, index: new Map() };
        out.set(f.name, m);
      }
      for (const s of f.samples) {
        const key = `${s.name ?? ''}\u0000${labelText(s.labels)}`;
        const seen = m.index.get(key);
        if (!seen) {
          const copy: Sample = { labels: s.labels, value: s.value };
          if (s.name !== undefined) copy.name = s.name;
          m.index.set(key, copy);
          m.family.samples.push(copy);
        } else if (f.aggregation === 'max') seen.value = Math.max(seen.value, s.value);
        else seen.value += s.value;
      }
    }
  }
  return [...out.values()].map((m) => m.family);
}

/** The Prometheus text format (version 0.0.4) of `families`. */
export function exposition(families: readonly Family[]): string {
  // A blank line between families, none after the last (as prom-client wrote it).
  let out = '';
  for (const f of families) {
    if (out) out += '\n';
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) out += `${s.name ?? f.name}${labelText(s.labels)} ${formatValue(s.value)}\n`;
  }
  return out;
}

function labelText(labels: Readonly<Record<string, string>>): string {
  let out = '';
  for (const k in labels) out += `${out ? ',' : '{'}${k}="${escapeLabel(labels[k]!)}"`;
  return out ? `${out}}` : '';
}

function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function escapeHelp(v: string): string {
  return /[\\\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : v;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
