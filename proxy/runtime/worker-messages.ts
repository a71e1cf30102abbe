/** The messages between the proxy's main thread (admin, signals) and its worker threads. */
import type { LatencyCounts } from '../metrics/http-metrics';
import type { MetricsJson } from '../metrics/merge';
import type { TapEvent } from '../../core/api/tap';
import type { TapSpec } from '../tap/hub';
import type { TlsMaterial } from '../transport/tls/store';

export type { MetricsJson };

export type ToWorker =
  | { type: 'metrics'; id: number }
  /** Stop accepting; report `drained` when the last connection has closed. */
  | { type: 'drain' }
  /** The grace period is over: close whatever is still open. */
  | { type: 'terminate' }
  /** This proxy's current certificate and key (at start and after every rotation). */
  | { type: 'identity'; material: TlsMaterial }
  /** A tap opened (the main thread's tap server): report matching requests' events. */
  | { type: 'tap-open'; spec: TapSpec }
  | { type: 'tap-close'; id: number };

export type FromWorker =
  | { type: 'listening' }
  | { type: 'start-failed'; code: string; message: string; hint?: string }
  | { type: 'metrics'; id: number; metrics: MetricsJson; latency: Record<string, LatencyCounts> }
  | { type: 'drained' }
  | { type: 'tap-event'; id: number; event: TapEvent };
