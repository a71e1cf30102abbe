/**
 * The server side of a server-streaming gRPC call on one of our HTTP/2 streams: the request
 * message read and decoded, then response messages (already encoded) framed and sent with the
 * stream's backpressure, and the call ended with a status in trailers (or, before any message,
 * in a trailers-only answer). The proxy serves tap this way, without grpc-js.
 */
import { EventEmitter } from 'node:events';
import { ProtoDecodeError, type ProtoCodec } from '../../../core/api/proto/codec';
import type { MethodDef } from '../../../core/api/proto/schema';
import { encodeGrpcMessage, GrpcStatus } from '../h2/grpc-status';
import type { Fields } from '../h2/semantics';
import type { H2Stream } from '../h2/stream';
import { frameMessage, GrpcFramingError, MessageReader } from './framing';

const RESPONSE_HEADERS: Fields = [':status', '200', 'content-type', 'application/grpc'];

/**
 * One call. `onRequest` gets the decoded request once it is complete; events: 'drain' (write
 * returned false earlier, there is room again) and 'cancelled' (the client went away), once.
 */
export class GrpcServerStream extends EventEmitter {
  private headersSent = false;
  private done = false;
  private requested = false;
  private readonly reader = new MessageReader(64 * 1024);

  constructor(
    private readonly stream: H2Stream,
    codec: ProtoCodec,
    method: MethodDef,
    onRequest: (request: Record<string, unknown>, call: GrpcServerStream) => void,
  ) {
    super();
    stream.events = {
      onHeaders: () => {},
      onData: (chunk, endStream) => {
        if (this.done || this.requested) return;
        let msgs: Buffer[];
        try {
          msgs = this.reader.push(chunk);
        } catch (err) {
          if (err instanceof GrpcFramingError) return this.fail(GrpcStatus.INTERNAL, err.message);
          throw err;
        }
        if (msgs.length === 0) {
          if (endStream) this.fail(GrpcStatus.INTERNAL, 'the request ended without its message');
          return;
        }
        this.requested = true;
        let request: Record<string, unknown>;
        try {
          request = codec.decode(method.requestType, msgs[0]!);
        } catch (err) {
          if (err instanceof ProtoDecodeError) return this.fail(GrpcStatus.INTERNAL, `the request does not decode: ${err.message}`);
          throw err;
        }
        onRequest(request, this);
      },
      onReset: () => this.gone(),
      onDrain: () => this.emit('drain'),
      onClose: () => this.gone(),
    };
  }

  /** Response headers now (the client learns the call is open before any message). */
  sendHeaders(): void {
    if (this.done || this.headersSent) return;
    this.headersSent = true;
    this.stream.sendHeaders(RESPONSE_HEADERS);
  }

  /** One encoded response message; false: wait for 'drain' before more. */
  write(message: Buffer): boolean {
    if (this.done) return false;
    this.sendHeaders();
    return this.stream.sendData(frameMessage(message));
  }

  end(): void {
    this.finish(GrpcStatus.OK, '');
  }

  fail(code: number, details: string): void {
    this.finish(code, details);
  }

  private finish(code: number, details: string): void {
    if (this.done) return;
    this.done = true;
    const status: Fields = ['grpc-status', String(code)];
    if (details) status.push('grpc-message', encodeGrpcMessage(details));
    if (this.headersSent) this.stream.sendTrailers(status);
    // Trailers-only: the status in the one header section, which ends the stream.
    else this.stream.sendHeaders([...RESPONSE_HEADERS, ...status], true);
  }

  private gone(): void {
    if (this.done) return;
    this.done = true;
    this.emit('cancelled');
  }
}
