/**
 * Merges the metrics of every lane into one Prometheus exposition: counters and gauges with the
 * same labels are summed (or the worst kept, for a gauge that says so), then the main thread's own
 * process_* and identity metrics are appended.
 */
import { exposition, mergeFamilies, type Family, type Registry } from './registry';

/** One lane's metrics, as it hands them to the main thread (plain data: it crosses postMessage). */
export type MetricsJson = Family[];

export function mergedExposition(perLane: MetricsJson[], own: Registry): string {
  return `${exposition(mergeFamilies(perLane))}\n${own.text()}`;
}
