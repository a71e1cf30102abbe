/**
 * An HTTP/2 protocol error (RFC 9113 §5.4): on the connection (stream 0: GOAWAY with the code,
 * then close) or on one stream (RST_STREAM with the code; the connection goes on).
 */
import { LinnetError } from '../../../core/errors';

const NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** The name of an HTTP/2 error code, for logs and metric labels. */
export function h2CodeName(code: number): string {
  return NAMES[code] ?? `0x${code.toString(16)}`;
}

export class H2Error extends LinnetError {
  constructor(
    /** The HTTP/2 error code sent to the peer. */
    readonly h2Code: number,
    detail: string,
    /** 0: a connection error; otherwise the stream it ends. */
    readonly streamId = 0,
  ) {
    super(`LINNET_HTTP2_${h2CodeName(h2Code)}`, `HTTP/2 ${streamId === 0 ? 'connection' : `stream ${streamId}`} error ${h2CodeName(h2Code)}: ${detail}`, {
      hint: 'the peer broke the HTTP/2 protocol (RFC 9113); the proxy ended the stream or the connection',
    });
    this.name = 'H2Error';
  }
}
