/**
 * gRPC calls from the proxy to its control plane (unary and server-streaming, the only kinds it
 * makes) over a GrpcChannel: request headers, one framed request message, response messages
 * decoded as they arrive, and exactly one status at the end — from the trailers, from a
 * trailers-only answer, from the HTTP status where the peer is not gRPC, or from a reset, a lost
 * connection, a cancel or the deadline. Statuses, not exceptions, as grpc-js reports them.
 */
import { EventEmitter } from 'node:events';
import { ProtoDecodeError, type ProtoCodec } from '../../../core/api/proto/codec';
import type { MethodDef } from '../../../core/api/proto/schema';
import { GrpcStatus, grpcStatusForRst, H2Code } from '../h2/grpc-status';
import { fieldValue } from '../h2/headers';
import type { Fields } from '../h2/semantics';
import type { H2Stream, StreamEvents } from '../h2/stream';
import type { GrpcChannel } from './channel';
import { frameMessage, GrpcFramingError, MessageReader } from './framing';

export interface CallStatus {
  code: number;
  details: string;
}

/** gRPC's HTTP-to-status table, for a peer that answered without grpc-status. */
export function statusForHttp(status: number): number {
  switch (status) {
    case 400: return GrpcStatus.INTERNAL;
    case 401: return GrpcStatus.UNAUTHENTICATED;
    case 403: return GrpcStatus.PERMISSION_DENIED;
    case 404: return GrpcStatus.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GrpcStatus.UNAVAILABLE;
    default: return GrpcStatus.UNKNOWN;
  }
}

function decodeMessage(v: string | undefined): string {
  if (!v) return '';
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/**
 * One call. Events: 'data' (each decoded response message), then 'status' (CallStatus) once,
 * last. cancel() ends it with CANCELLED.
 */
export class GrpcCall extends EventEmitter {
  private stream: H2Stream | undefined;
  private done = false;
  private cancelled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly reader = new MessageReader();
  private httpStatus = 0;

  constructor(
    channel: GrpcChannel,
    private readonly codec: ProtoCodec,
    private readonly method: MethodDef,
    request: object,
    deadlineMs?: number,
  ) {
    super();
    let body: Buffer;
    try {
      body = frameMessage(codec.encode(method.requestType, request as Record<string, unknown>));
    } catch (err) {
      process.nextTick(() => this.finish(GrpcStatus.INTERNAL, `the request does not encode: ${(err as Error).message}`));
      return;
    }
    if (deadlineMs !== undefined) this.timer = setTimeout(() => this.abort(GrpcStatus.DEADLINE_EXCEEDED, `no answer within ${deadlineMs} ms`), deadlineMs);
    const fields: Fields = [
      ':method', 'POST', ':scheme', channel.scheme, ':path', method.path, ':authority', channel.authority,
      'content-type', 'application/grpc', 'te', 'trailers', 'user-agent', 'linnet-proxy',
    ];
    if (deadlineMs !== undefined) fields.push('grpc-timeout', `${Math.max(1, Math.ceil(deadlineMs))}m`);
    channel.connection().then(
      (conn) => {
        if (this.done) return;
        try {
          this.stream = conn.request(fields, false, this.events());
        } catch (err) {
          return this.finish(GrpcStatus.UNAVAILABLE, (err as Error).message);
        }
        this.stream.sendData(body, true);
      },
      (err: Error) => this.finish(GrpcStatus.UNAVAILABLE, err.message),
    );
  }

  cancel(): void {
    this.cancelled = true;
    this.abort(GrpcStatus.CANCELLED, 'cancelled by the caller');
  }

  private abort(code: number, details: string): void {
    if (this.done) return;
    // The status first: the reset below reports the stream's end to onReset, which must not win.
    this.finish(code, details);
    this.stream?.reset(H2Code.CANCEL);
  }

  private finish(code: number, details: string): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.emit('status', { code, details } satisfies CallStatus);
  }

  private fromHeaders(fields: Fields): void {
    const s = fieldValue(fields, 'grpc-status');
    if (s !== undefined && /^\d+$/.test(s)) return this.finish(Number(s), decodeMessage(fieldValue(fields, 'grpc-message')));
    if (this.httpStatus !== 200) return this.finish(statusForHttp(this.httpStatus), `HTTP status ${this.httpStatus}`);
    this.finish(GrpcStatus.UNKNOWN, 'the answer ended without grpc-status');
  }

  private events(): StreamEvents {
    return {
      onHeaders: (fields, endStream, kind) => {
        if (this.done || kind === 'informational') return;
        if (kind === 'final') {
          this.httpStatus = Number(fieldValue(fields, ':status'));
          if (endStream) return this.fromHeaders(fields);
          if (this.httpStatus !== 200) return this.abort(statusForHttp(this.httpStatus), `HTTP status ${this.httpStatus}`);
          return;
        }
        if (this.reader.pending > 0) return this.finish(GrpcStatus.INTERNAL, 'a message cut short by the trailers');
        this.fromHeaders(fields);
      },
      onData: (chunk) => {
        if (this.done) return;
        let msgs: Buffer[];
        try {
          msgs = this.reader.push(chunk);
        } catch (err) {
          if (err instanceof GrpcFramingError) return this.abort(GrpcStatus.INTERNAL, err.message);
          throw err;
        }
        for (const m of msgs) {
          let decoded;
          try {
            decoded = this.codec.decode(this.method.responseType, m);
          } catch (err) {
            if (err instanceof ProtoDecodeError) return this.abort(GrpcStatus.INTERNAL, `a response that does not decode: ${err.message}`);
            throw err;
          }
          this.emit('data', decoded);
          if (this.done) return;
        }
      },
      // Reset by the peer: its code says why; by our side, without a cancel: the connection went.
      onReset: (code, _retrySafe, byPeer) =>
        this.finish(this.cancelled ? GrpcStatus.CANCELLED : byPeer ? grpcStatusForRst(code) : GrpcStatus.UNAVAILABLE, byPeer ? `stream reset by the server (HTTP/2 code ${code})` : 'the connection was lost'),
      onDrain: () => {},
      onClose: () => this.finish(GrpcStatus.UNAVAILABLE, 'the stream closed without a status'),
    };
  }
}

/** A unary call: the one response, or the status it failed with. */
export function unaryCall(channel: GrpcChannel, codec: ProtoCodec, method: MethodDef, request: object, deadlineMs?: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let response: Record<string, unknown> | undefined;
    const call = new GrpcCall(channel, codec, method, request, deadlineMs);
    call.on('data', (m: Record<string, unknown>) => (response ??= m));
    call.on('status', (s: CallStatus) => {
      if (s.code === GrpcStatus.OK && response) resolve(response);
      else reject(Object.assign(new Error(`${s.code === GrpcStatus.OK ? 'no response message' : s.details}`), { code: s.code === GrpcStatus.OK ? GrpcStatus.INTERNAL : s.code, details: s.details }));
    });
  });
}
