/**
 * The seam between a protocol server and the layers above it. A server (HTTP/1, HTTP/2, the
 * orig-proto server) speaks only the wire: for each request it reads, it asks the layer above for
 * an `HttpCall`, opens its upstream through it, and reports how the request ended. Routing,
 * balancing, retries on another endpoint, metrics and tap live behind this interface, in
 * proxy/inbound and proxy/outbound, so every request's events pass one place.
 */

import type { Logger } from '../../core/log';

/** Where the connection was going and whom to tell, for a server's errors and logs. */
export interface ConnInfo {
  /** `ip:port` of the original destination. */
  target: string;
  log: Logger;
}

/** How a request ended, as the server saw it. */
export interface HttpOutcome {
  /** HTTP status of the response; 0 when there was none (stream reset, connection lost). */
  status: number;
  /** grpc-status from the trailers (or trailers-only headers), when the request was gRPC. */
  grpcStatus?: number;
  /** The request failed inside the proxy or was reset before a response (counts as failure). */
  error?: string;
  /** Response body bytes sent to the client (as carried: an HTTP/1 chunked body with its framing). */
  responseBytes?: number;
}

/** One request as the layer above the server sees it. `L` is what the server sends it on. */
export interface HttpCall<L> {
  /**
   * Routes the request and opens its upstream. `again`: an earlier upstream of this request failed
   * before the request could have been processed (a stale pooled connection, a refused stream),
   * so the request is sent once more. Rejects (a ConnectError carries the errno) when no upstream
   * could be had; the layer above has already tried the endpoints it may try.
   */
  open(again: boolean): Promise<L>;
  /** The final response's head arrived from upstream with `status` (for tap's response_init). */
  respond?(status: number): void;
  /** The request is over; the first call counts, later ones are ignored. */
  end(outcome: HttpOutcome): void;
}

/** The errno of a failed open or I/O error: ConnectError and Node errors carry it as `errno`/`code`. */
export function errnoOf(err: unknown): string {
  const e = err as { errno?: unknown; code?: unknown } | undefined;
  if (typeof e?.errno === 'string') return e.errno;
  return typeof e?.code === 'string' ? e.code : 'EIO';
}
