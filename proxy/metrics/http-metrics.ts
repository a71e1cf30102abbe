/**
 * HTTP golden metrics, named and labelled as linkerd2-proxy's so that Linkerd dashboards work:
 * `request_total`, `response_total` (status_code, classification, grpc_status) and the
 * `response_latency_ms` histogram with Linkerd's buckets. Recorded once per request on the way
 * through, never as a second pass.
 *
 * Latency also goes into an HDR histogram per (direction, authority), so the CLI and the bench can
 * read exact percentiles; those are encoded per worker and merged by the main thread.
 */
import * as hdr from 'hdr-histogram-js';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Linkerd's response_latency_ms buckets (ms), as DESIGN.md fixes them. */
export const LATENCY_BUCKETS_MS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000,
];

/** The labels of one request's route through the proxy. */
export interface HttpLabels {
  direction: 'inbound' | 'outbound';
  /** The :authority or Host the client used (lower-case, port kept if given). */
  authority: string;
  /** The ip:port the proxy sent the request to. */
  target_addr: string;
  tls: string;
  no_tls_reason?: string;
  client_id?: string;
  server_id?: string;
}

export interface HttpOutcome {
  /** HTTP status of the response; 0 when the proxy got none (stream reset, connection lost). */
  status: number;
  /** grpc-status from the trailers (or trailers-only headers), when the request was gRPC. */
  grpcStatus?: number;
  /** The request failed inside the proxy or was reset before a response (counts as failure). */
  error?: string;
}

/** Linkerd's rule: 5xx, a gRPC status other than OK, or no response at all is a failure. */
export function classify(o: HttpOutcome): 'success' | 'failure' {
  if (o.error !== undefined || o.status === 0 || o.status >= 500) return 'failure';
  if (o.grpcStatus !== undefined && o.grpcStatus !== 0) return 'failure';
  return 'success';
}

const ROUTE = ['direction', 'authority', 'target_addr', 'tls', 'no_tls_reason', 'client_id', 'server_id'] as const;

function clean(labels: HttpLabels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) out[k] = v;
  return out;
}

/** HDR range: 1 µs to 1 h, 3 significant digits (0.1% error), ample for request latency. */
function newHdr(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

export class HttpMetrics {
  private readonly requests: Counter;
  private readonly responses: Counter;
  private readonly latency: Histogram;
  private readonly exact = new Map<string, hdr.Histogram>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'request_total', help: 'Total count of HTTP requests', labelNames: ROUTE, registers });
    this.responses = new Counter({
      name: 'response_total',
      help: 'Total count of HTTP responses',
      labelNames: [...ROUTE, 'status_code', 'classification', 'grpc_status', 'error'],
      registers,
    });
    this.latency = new Histogram({
      name: 'response_latency_ms',
      help: 'Elapsed times between a request\'s headers being received and its response stream completing',
      labelNames: [...ROUTE, 'status_code'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
  }

  /** Call when a request's head has been received; returns the function that ends it. */
  start(labels: HttpLabels): (outcome: HttpOutcome) => void {
    const l = clean(labels);
    this.requests.inc(l);
    const t0 = process.hrtime.bigint();
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      const us = Number((process.hrtime.bigint() - t0) / 1000n);
      const status = outcome.status === 0 ? '' : String(outcome.status);
      const response: Record<string, string> = { ...l, status_code: status, classification: classify(outcome) };
      if (outcome.grpcStatus !== undefined) response.grpc_status = String(outcome.grpcStatus);
      if (outcome.error !== undefined) response.error = outcome.error;
      this.responses.inc(response);
      this.latency.observe({ ...l, status_code: status }, us / 1000);
      const key = `${labels.direction} ${labels.authority}`;
      let h = this.exact.get(key);
      if (!h) this.exact.set(key, (h = newHdr()));
      h.recordValue(Math.max(1, us));
    };
  }

  /** Exact latency per "direction authority", HDR-encoded (base64) for the main thread to merge. */
  latencySnapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, h] of this.exact) out[k] = hdr.encodeIntoCompressedBase64(h);
    return out;
  }
}

/** Merges encoded per-worker snapshots into percentiles (µs) per key. */
export function mergeLatency(snapshots: Record<string, string>[]): Record<string, { count: number; p50: number; p90: number; p95: number; p99: number; p999: number; max: number }> {
  const merged = new Map<string, hdr.Histogram>();
  for (const snap of snapshots) {
    for (const [k, enc] of Object.entries(snap)) {
      const h = hdr.decodeFromCompressedBase64(enc);
      const into = merged.get(k);
      if (into) into.add(h);
      else merged.set(k, h);
    }
  }
  const out: ReturnType<typeof mergeLatency> = {};
  for (const [k, h] of merged) {
    out[k] = {
      count: h.totalCount,
      p50: h.getValueAtPercentile(50),
      p90: h.getValueAtPercentile(90),
      p95: h.getValueAtPercentile(95),
      p99: h.getValueAtPercentile(99),
      p999: h.getValueAtPercentile(99.9),
      max: h.maxValue,
    };
  }
  return out;
}
