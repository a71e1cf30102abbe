/**
 * Counters of what the connection limits did, per worker registry (merged by the admin server
 * like the TCP metrics). Named in the style of the tcp_* series, with a `direction` label.
 */
import { Counter, type Registry } from './registry';

export class LimitMetrics {
  /** A new connection refused (reset) because a limit was reached. */
  readonly refused: Counter;
  /** An open connection closed by a limit to make room for a new one. */
  readonly evicted: Counter;

  constructor(registry: Registry) {
    this.refused = new Counter(registry, {
      name: 'tcp_connections_refused_total',
      help: 'Accepted connections reset at once because a connection limit was reached (reason=max_connections)',
      labelNames: ['direction', 'reason'],
    });
    this.evicted = new Counter(registry, {
      name: 'tcp_connections_evicted_total',
      help: 'Open connections closed to make room for a new one at the connection limit (reason=silent: no byte carried either way)',
      labelNames: ['direction', 'reason'],
    });
  }
}
