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

/**
 * What the layer above asks of the server for one request (an outbound route's filters, retries
 * and timeouts), known once `open` has resolved. Absent: the request is forwarded as it is.
 */
export interface CallPolicy {
  /** Request filters: the HTTP/1 head to send instead of the one read. */
  h1Head?(head: Buffer): Buffer;
  /** Response filters: the HTTP/1 response head to send the client instead. */
  h1ResponseHead?(head: Buffer): Buffer;
  /** Request filters on HTTP/2 fields (pair indexes in `neverIndexed` follow the edit). */
  h2Request?(fields: string[], neverIndexed: number[] | undefined): { fields: string[]; neverIndexed: number[] | undefined };
  /** Response filters on HTTP/2 fields. */
  h2Response?(fields: string[], neverIndexed: number[] | undefined): { fields: string[]; neverIndexed: number[] | undefined };
  /** The whole exchange, retries included: 504 (or a reset mid-body) when it passes. */
  requestTimeoutMs?: number;
  /** Each attempt's wait for the response head. */
  attemptTimeoutMs?: number;
  /** From the request's end to the response's end. */
  responseTimeoutMs?: number;
  /** The longest time with no byte either way. */
  idleTimeoutMs?: number;
  /**
   * Retries: bodies up to `maxBodyBytes` are kept for them. `shouldRetry` is asked once per
   * retryable-looking answer (status, or 504 for an attempt that timed out) and answers whether
   * to send the request again (limit and budget taken); it is the one place retries are decided.
   */
  retry?: { maxBodyBytes: number; shouldRetry(status: number, grpcStatus?: number): boolean };
}

/** One request as the layer above the server sees it. `L` is what the server sends it on. */
export interface HttpCall<L> {
  /** Set by `open` when the request runs under a route (see CallPolicy). */
  readonly policy?: CallPolicy | undefined;
  /**
   * Routes the request and opens its upstream. `again`: an earlier upstream of this request failed
   * before the request could have been processed (a stale pooled connection, a refused stream),
   * so the request is sent once more. Rejects (a ConnectError carries the errno) when no upstream
   * could be had; the layer above has already tried the endpoints it may try.
   *
   * The upstream itself, not a promise, when it is there at once (the request routed, a pooled
   * connection or session free): most requests then take no turn of the microtask queue and
   * allocate no async frames. `openCall` takes both.
   */
  open(again: boolean): L | Promise<L>;
  /** The final response's head arrived from upstream with `status` (for tap's response_init). */
  respond?(status: number): void;
  /** The request is over; the first call counts, later ones are ignored. */
  end(outcome: HttpOutcome): void;
}

/**
 * Opens `call` and hands the upstream to `ok`, or the error (thrown or rejected) to `fail`, each
 * called with `self`: at once when the upstream is there, else when it comes. Methods with `self`
 * rather than closures: nothing is allocated per request on the immediate path.
 */
export function openCall<L, S>(
  call: HttpCall<L>,
  again: boolean,
  self: S,
  ok: (self: S, upstream: L) => void,
  fail: (self: S, err: unknown) => void,
  /**
   * Open after the rest of this read is handled: an HTTP/2 request whose body follows its
   * HEADERS is sent on only once the frames read with it are checked (a body its content-length
   * contradicts resets the stream before the upstream sees anything).
   */
  later = false,
): void {
  // A retry is opened on a later turn too: it is asked for from inside the failed upstream's own
  // events (a reset, a close), which should finish before a new upstream is written to.
  if (again || later) {
    Promise.resolve(again)
      .then((a) => call.open(a))
      .then((u) => ok(self, u), (err: unknown) => fail(self, err));
    return;
  }
  let r: L | Promise<L>;
  try {
    r = call.open(false);
  } catch (err) {
    fail(self, err);
    return;
  }
  if (r instanceof Promise) r.then((u) => ok(self, u), (err: unknown) => fail(self, err));
  else ok(self, r);
}

/** The errno of a failed open or I/O error: ConnectError and Node errors carry it as `errno`/`code`. */
export function errnoOf(err: unknown): string {
  const e = err as { errno?: unknown; code?: unknown } | undefined;
  if (typeof e?.errno === 'string') return e.errno;
  return typeof e?.code === 'string' ? e.code : 'EIO';
}
