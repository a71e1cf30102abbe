/**
 * How late a worker's event loop runs what is due (perf_hooks.monitorEventLoopDelay): a pause
 * there (a garbage collection, a long synchronous task) is latency that every request on that
 * worker pays at once, the usual cause of a tail at low load. Exported at each scrape as
 * `event_loop_delay_seconds{quantile}` over the time since the previous scrape (then reset), the
 * worst worker's value when several are merged.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Computed, type Registry } from './registry';

const QUANTILES: readonly [string, number][] = [
  ['0.5', 50],
  ['0.9', 90],
  ['0.99', 99],
  ['0.999', 99.9],
  ['1', 100],
];

export class EventLoopMetrics {
  private readonly histogram: IntervalHistogram;

  /** `resolutionMs`: how often the loop is sampled (a timer; 10 ms costs ~100 wake-ups a second). */
  constructor(registry: Registry, resolutionMs = 10) {
    const h = (this.histogram = monitorEventLoopDelay({ resolution: resolutionMs }));
    const resolutionNs = resolutionMs * 1e6;
    h.enable();
    new Computed(
      registry,
      'event_loop_delay_seconds',
      'How late the event loop ran what was due since the previous scrape, by quantile (1: the maximum); the worst worker when merged',
      'gauge',
      () => {
        // The histogram holds the whole interval between samples, the resolution included; the
        // delay is what came on top of it.
        const late = (ns: number) => Math.max(0, ns - resolutionNs) / 1e9;
        const samples = QUANTILES.map(([quantile, p]) => ({ labels: { quantile }, value: h.count > 0 ? late(p === 100 ? h.max : h.percentile(p)) : 0 }));
        h.reset();
        return samples;
      },
      'max',
    );
  }

  close(): void {
    this.histogram.disable();
  }
}
