/**
 * Merges the metrics of every worker thread into one Prometheus exposition. Counters and gauges
 * with the same labels are summed (prom-client's aggregator), then the main thread's own
 * process_* metrics are appended.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

/** One worker's metrics, as prom-client's getMetricsAsJSON gives them. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export async function mergedExposition(perWorker: MetricsJson[], own: Registry): Promise<string> {
  const merged = AggregatorRegistry.aggregate(perWorker);
  return (await merged.metrics()) + (await own.metrics());
}
