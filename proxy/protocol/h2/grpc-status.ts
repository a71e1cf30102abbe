/**
 * Pure tables for the HTTP/2 proxy: which gRPC status a proxy failure or an HTTP/2 reset means,
 * and how `grpc-timeout` reads. Kept apart from the sockets so they are unit-tested directly.
 */

import { connectErrorKind, headerSafe, PROXY_ERRORS, type HttpProxyError, type ProxyErrorKind } from '../errors';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

const STATUS_NAMES = new Map<number, string>(Object.entries(GrpcStatus).map(([k, v]) => [v, k]));
/** UNAVAILABLE for 14, and the number itself for a code gRPC does not define. */
export function grpcStatusName(code: number): string {
  return STATUS_NAMES.get(code) ?? String(code);
}

/** HTTP/2 error codes (RFC 9113 §7) as they appear in RST_STREAM and GOAWAY. */
export const H2Code = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/**
 * The gRPC status a client would see for a stream reset with `code` (as gRPC's HTTP/2 transport
 * spec maps them): what the proxy reports in metrics when it carries a reset.
 */
export function grpcStatusForRst(code: number): GrpcStatusCode {
  switch (code) {
    case H2Code.NO_ERROR:
    case H2Code.PROTOCOL_ERROR:
    case H2Code.INTERNAL_ERROR:
    case H2Code.FLOW_CONTROL_ERROR:
    case H2Code.SETTINGS_TIMEOUT:
    case H2Code.FRAME_SIZE_ERROR:
    case H2Code.COMPRESSION_ERROR:
    case H2Code.CONNECT_ERROR:
      return GrpcStatus.INTERNAL;
    case H2Code.REFUSED_STREAM:
      return GrpcStatus.UNAVAILABLE;
    case H2Code.CANCEL:
      return GrpcStatus.CANCELLED;
    case H2Code.ENHANCE_YOUR_CALM:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case H2Code.INADEQUATE_SECURITY:
      return GrpcStatus.PERMISSION_DENIED;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/**
 * The reset code to give the other side when one side resets a stream. Codes that describe the
 * stream itself (refused, cancelled, calm down, security) are carried as they are; codes that
 * describe one connection's framing (protocol, flow control, compression...) belong to that hop
 * only, so the other hop gets INTERNAL_ERROR, or CANCEL when the request side went away.
 */
export function carryRstCode(code: number, towards: 'client' | 'upstream'): number {
  switch (code) {
    case H2Code.NO_ERROR:
    case H2Code.REFUSED_STREAM:
    case H2Code.CANCEL:
    case H2Code.ENHANCE_YOUR_CALM:
    case H2Code.INADEQUATE_SECURITY:
    case H2Code.HTTP_1_1_REQUIRED:
      return code;
    default:
      return towards === 'upstream' ? H2Code.CANCEL : H2Code.INTERNAL_ERROR;
  }
}

/** Why the proxy itself answered instead of the upstream: the `l5d-proxy-error` reasons. */
export type ProxyFailure =
  | { kind: 'connect'; errno: string } // the upstream refused or could not be reached
  | { kind: 'connection-lost'; detail: string } // the upstream connection died or went away before a response
  | { kind: 'bad-response'; detail: string } // the upstream answered with bytes that are not a valid HTTP/1 response
  | { kind: 'timeout'; ms: number } // the response did not come within the deadline
  | { kind: 'no-endpoint'; detail: string } // nothing to send the request to
  | { kind: 'refused'; error: HttpProxyError }; // the layer above refused the request (authorization, rate limit)

export interface FailureAnswer {
  /** HTTP status for plain HTTP/2 requests. */
  http: number;
  /** grpc-status for gRPC requests (answered as trailers-only with HTTP 200). */
  grpc: GrpcStatusCode;
  /** The `l5d-proxy-error` header value and grpc-message. */
  reason: string;
  /** Short machine label for the metrics' `error` label. */
  error: string;
  /** Extra response fields (Retry-After). */
  headers?: readonly [string, string][];
}

/**
 * How the proxy answers a failure, for plain HTTP/2 and gRPC: statuses and reasons are the ones
 * HTTP/1 uses (protocol/errors.ts), so a caller sees the same answer whatever the protocol.
 */
export function answerFor(f: ProxyFailure): FailureAnswer {
  const from = (kind: ProxyErrorKind, detail: string, error: string): FailureAnswer => {
    const spec = PROXY_ERRORS[kind];
    return { http: spec.status as FailureAnswer['http'], grpc: spec.grpcStatus as GrpcStatusCode, reason: headerSafe(`${spec.reason}: ${detail}`), error };
  };
  switch (f.kind) {
    case 'connect':
      // Refused: 502; nothing reachable at all (timeout, no route): 503.
      return from(connectErrorKind(f.errno), f.errno, f.errno);
    case 'connection-lost':
      return from('upstreamReset', f.detail, 'connection_lost');
    case 'bad-response':
      return from('badResponse', f.detail, 'bad_response');
    case 'timeout':
      return from('responseTimeout', `no response within ${f.ms}ms`, 'timeout');
    case 'no-endpoint':
      return from('noEndpoint', f.detail, 'no_endpoint');
    case 'refused':
      return { http: f.error.status, grpc: f.error.grpcStatus as GrpcStatusCode, reason: f.error.headerValue, error: f.error.kind, headers: f.error.headers };
  }
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * `grpc-timeout` (`1*8DIGIT unit`, unit one of H M S m u n) in milliseconds, or undefined when
 * absent or malformed (gRPC says a malformed value is ignored rather than failing the call).
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}

/** A gRPC request is one whose content-type is application/grpc or application/grpc+<codec>. */
export function isGrpcContentType(ct: string | string[] | undefined): boolean {
  if (typeof ct !== 'string') return false;
  const v = ct.toLowerCase();
  return v === 'application/grpc' || v.startsWith('application/grpc+') || v.startsWith('application/grpc;');
}

/** grpc-status from a header block as a number, or undefined when absent or not a number. */
export function readGrpcStatus(headers: Record<string, unknown> | undefined): number | undefined {
  const v = headers?.['grpc-status'];
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** grpc-message is percent-encoded on the wire (gRPC spec): encode what is not printable ASCII. */
export function encodeGrpcMessage(msg: string): string {
  return Buffer.from(msg, 'utf8').reduce((out, b) => out + (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`), '');
}
