/**
 * Errors the proxy itself answers with, shared by HTTP/1 and HTTP/2 (+ gRPC). Each kind fixes the
 * HTTP status, the `l5d-proxy-error` reason (as linkerd2-proxy, so the caller can tell a proxy
 * answer from the application's) and the gRPC status for gRPC requests (sent in trailers).
 */
import { LinnetError } from '../../core/errors';

/** gRPC status codes the proxy uses (grpc/status.h). */
export const GRPC = { INTERNAL: 13, UNAVAILABLE: 14, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, CANCELLED: 1, PERMISSION_DENIED: 7, NOT_FOUND: 5 } as const;

export interface ProxyErrorSpec {
  status: number;
  /** Short reason, the default `l5d-proxy-error` value. */
  reason: string;
  grpcStatus: number;
  /** Stable error code for logs and LinnetError. */
  code: string;
}

export const PROXY_ERRORS = {
  /** Malformed or ambiguous request (smuggling attempts included); the connection is closed. */
  badRequest: { status: 400, reason: 'invalid HTTP request', grpcStatus: GRPC.INTERNAL, code: 'LINNET_HTTP_BAD_REQUEST' },
  /** Request head over the configured header count or byte limits. */
  headersTooLarge: {
    status: 431,
    reason: 'request header fields too large',
    grpcStatus: GRPC.RESOURCE_EXHAUSTED,
    code: 'LINNET_HTTP_HEADERS_TOO_LARGE',
  },
  /** The request head did not arrive in full within the header read timeout (slowloris). */
  headerReadTimeout: {
    status: 408,
    reason: 'request head read timeout',
    grpcStatus: GRPC.DEADLINE_EXCEEDED,
    code: 'LINNET_HTTP_HEADER_READ_TIMEOUT',
  },
  /** The upstream refused the connection. */
  connectRefused: { status: 502, reason: 'connection refused', grpcStatus: GRPC.UNAVAILABLE, code: 'LINNET_HTTP_UPSTREAM_REFUSED' },
  /** The upstream reset or closed before a complete response head. */
  upstreamReset: { status: 502, reason: 'connection reset by upstream', grpcStatus: GRPC.UNAVAILABLE, code: 'LINNET_HTTP_UPSTREAM_RESET' },
  /** The upstream answered something that is not a valid HTTP response. */
  badResponse: { status: 502, reason: 'invalid HTTP response from upstream', grpcStatus: GRPC.INTERNAL, code: 'LINNET_HTTP_BAD_RESPONSE' },
  /** No response head within the response timeout. */
  responseTimeout: { status: 504, reason: 'response timeout', grpcStatus: GRPC.DEADLINE_EXCEEDED, code: 'LINNET_HTTP_RESPONSE_TIMEOUT' },
  /** No endpoint could be had: none known, unreachable, or the connect timed out. */
  noEndpoint: { status: 503, reason: 'no endpoint available', grpcStatus: GRPC.UNAVAILABLE, code: 'LINNET_HTTP_NO_ENDPOINT' },
  /** Inbound authorization: no authorization of the request's route permits this client. */
  forbidden: { status: 403, reason: 'unauthorized request on route', grpcStatus: GRPC.PERMISSION_DENIED, code: 'LINNET_HTTP_FORBIDDEN' },
  /** Inbound authorization: the request matched no route of its Server. */
  routeNotFound: { status: 404, reason: 'no route found for request', grpcStatus: GRPC.NOT_FOUND, code: 'LINNET_HTTP_ROUTE_NOT_FOUND' },
  /** An HTTPLocalRateLimitPolicy's budget is spent for now. */
  rateLimited: { status: 429, reason: 'too many requests', grpcStatus: GRPC.RESOURCE_EXHAUSTED, code: 'LINNET_HTTP_RATE_LIMITED' },
  /** An outbound route's RequestRedirect filter (the Location header carries the target). */
  movedPermanently: { status: 301, reason: 'redirected by route', grpcStatus: GRPC.INTERNAL, code: 'LINNET_HTTP_ROUTE_REDIRECT' },
  found: { status: 302, reason: 'redirected by route', grpcStatus: GRPC.INTERNAL, code: 'LINNET_HTTP_ROUTE_REDIRECT' },
  /** An outbound route whose backends all weigh 0. */
  noBackend: { status: 500, reason: 'no backend for route', grpcStatus: GRPC.UNAVAILABLE, code: 'LINNET_HTTP_NO_BACKEND' },
} as const satisfies Record<string, ProxyErrorSpec>;

export type ProxyErrorKind = keyof typeof PROXY_ERRORS;

/** A request the proxy answers itself; `detail` refines the reason (e.g. "duplicate Content-Length"). */
export class HttpProxyError extends LinnetError {
  readonly kind: ProxyErrorKind;
  readonly status: number;
  readonly grpcStatus: number;
  readonly detail: string | undefined;
  /** Extra response fields the answer carries (Retry-After on 429), name lower-case. */
  headers: readonly [string, string][] = [];
  constructor(kind: ProxyErrorKind, detail?: string, cause?: unknown) {
    const spec = PROXY_ERRORS[kind];
    super(spec.code, detail ? `${spec.reason}: ${detail}` : spec.reason, { hint: HINTS[kind], cause });
    this.name = 'HttpProxyError';
    this.kind = kind;
    this.status = spec.status;
    this.grpcStatus = spec.grpcStatus;
    this.detail = detail;
  }

  /** The `l5d-proxy-error` header value: reason plus detail, header-safe. */
  get headerValue(): string {
    return headerSafe(this.message);
  }
}

const HINTS: Record<ProxyErrorKind, string> = {
  badRequest: 'fix the client: the request violates RFC 9112 framing or syntax',
  headersTooLarge: 'send fewer/smaller headers or raise LINNET_PROXY_HTTP_MAX_HEADERS / LINNET_PROXY_HTTP_MAX_HEADER_BYTES',
  headerReadTimeout: 'the client sends its request head too slowly; raise LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT if it is legitimate',
  connectRefused: 'check that the application listens on the target port',
  upstreamReset: 'check the upstream application logs: it closed the connection before answering',
  badResponse: 'check the upstream: it does not speak valid HTTP/1.x on this port (mark the port opaque if it is not HTTP)',
  responseTimeout: 'the upstream is slow; raise LINNET_PROXY_HTTP_RESPONSE_TIMEOUT if this is expected',
  movedPermanently: 'the route sends this request elsewhere (Location)',
  found: 'the route sends this request elsewhere (Location)',
  noBackend: 'give a backendRef of the route a weight above 0',
  noEndpoint: 'check that the destination has ready endpoints and is reachable',
  forbidden: 'the server\'s policy does not authorize this client: see its AuthorizationPolicies (linnet authz)',
  routeNotFound: 'the server declares routes (HTTPRoute/GRPCRoute) and none matches this request',
  rateLimited: 'the server\'s HTTPLocalRateLimitPolicy limits this client; retry after the Retry-After delay',
};

/** Keeps a header value to visible ASCII and spaces, bounded. */
export function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200);
}

/** Which proxy error a failed connect is (errno from transport/connect.ts). */
export function connectErrorKind(errno: string): ProxyErrorKind {
  switch (errno) {
    case 'ECONNREFUSED':
      return 'connectRefused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'upstreamReset';
    default:
      // ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ...: nothing could be reached at all.
      return 'noEndpoint';
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * A complete HTTP/1.1 response for a proxy error. `close` adds `connection: close` (always so for
 * 400/431: after a request the proxy could not frame, nothing on the connection can be trusted).
 */
export function h1ErrorResponse(err: HttpProxyError, opts: { close: boolean }): Buffer {
  const body = `${err.message}\n`;
  return Buffer.from(
    `HTTP/1.1 ${err.status} ${STATUS_TEXT[err.status] ?? 'Error'}\r\n` +
      `l5d-proxy-error: ${err.headerValue}\r\n` +
      'content-type: text/plain; charset=utf-8\r\n' +
      err.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('') +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      (opts.close ? 'connection: close\r\n' : '') +
      `\r\n${body}`,
    'latin1',
  );
}

/** The headers of an HTTP/2 or gRPC error answer (`:status` and friends), for h2/. */
export function h2ErrorHeaders(err: HttpProxyError, grpc: boolean): Record<string, string | number> {
  if (grpc) {
    // gRPC errors are trailers-only responses: HTTP 200 with grpc-status in the headers.
    return {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': err.grpcStatus,
      'grpc-message': encodeURIComponent(err.message),
      'l5d-proxy-error': err.headerValue,
    };
  }
  return { ':status': err.status, 'content-type': 'text/plain; charset=utf-8', 'l5d-proxy-error': err.headerValue };
}
