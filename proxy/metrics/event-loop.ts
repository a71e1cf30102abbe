/**
 * How late a worker's event loop runs what is due (perf_hooks.monitorEventLoopDelay): a pause
 * there (a garbage collection, a long synchronous task) is latency that every request on that
 * worker pays at once, the usual cause of a tail at low load. Exported at each scrape as
 * `event_loop_delay_seconds{quantile}` over the time since the previous scrape (then reset), the
 * worst worker's value when several are merged.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

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
    h.enable();
    new Gauge({
      name: 'event_loop_delay_seconds',
      help: 'How late the event loop ran what was due since the previous scrape, by quantile (1: the maximum); the worst worker when merged',
      labelNames: ['quantile'],
      registers: [registry],
      aggregator: 'max',
      collect() {
        for (const [label, p] of QUANTILES) this.set({ quantile: label }, h.count > 0 ? (p === 100 ? h.max : h.percentile(p)) / 1e9 : 0);
        h.reset();
      },
    });
  }

  close(): void {
    this.histogram.disable();
  }
}
