/**
 * The tap client: opens `io.linkerd.proxy.tap.Tap/Observe` on one proxy's tap port (4190) over
 * mTLS with a given identity (the tap identity the proxy is configured with) and yields typed
 * events. The viz service fans out over proxies with one of these per proxy; `linnet viz tap`
 * prints what they yield.
 *
 * Stable export (the viz side builds on it): observeTap, TapClientOptions, TapObserveOptions,
 * ObservedTapEvent, TapStream, TapClientError, and the re-exported TapMatch / TapEvent types.
 */
import * as grpc from '@grpc/grpc-js';
import { LinnetError } from '../../core/errors';
import { eventFromPb, observeToPb, type PbTapEvent, type TapEvent, type TapMatch } from '../../core/api/tap';
import { tapClientConstructor } from '../../core/api/tap-service';

export type { TapAddr, TapEvent, TapHttpEvent, TapMatch, TapStreamId, TapStringMatch, TapTcpMatch } from '../../core/api/tap';
export { formatTapAddr } from '../../core/api/tap';

export interface TapClientOptions {
  /** host:port of the proxy's tap server (its pod address and 4190). */
  addr: string;
  /** The proxy's own identity: its certificate must name it (the TLS server name checked). */
  proxyIdentity: string;
  /** This client's identity: certificate chain and key (PEM), as the identity service issued them. */
  certPem: string;
  keyPem: string;
  /** The mesh's trust anchors (PEM) that the proxy's certificate must chain to. */
  trustAnchorsPem: string;
}

export interface TapObserveOptions {
  /** Which requests; absent: every request the proxy carries. */
  match?: TapMatch;
  /** At most this many requests (each with its request_init, response_init, response_end), then the stream ends; 0 or absent: no limit. */
  limit?: number;
  /** At most this many requests a second; 0 or absent (or above the proxy's LINNET_PROXY_TAP_MAX_RPS): the proxy's cap. */
  maxRps?: number;
  /** Ends the stream (the iterator then finishes without an error). */
  signal?: AbortSignal;
  /** Called once the proxy has the tap open (its headers arrived): requests from then on are seen. */
  onOpen?: () => void;
}

/** An event with the proxy it came from. */
export interface ObservedTapEvent extends TapEvent {
  /** host:port of the proxy's tap server that reported it. */
  proxyAddr: string;
  /** The proxy's identity (what its certificate named). */
  proxyIdentity: string;
}

/** The events of one Observe, in order; `cancel()` ends it as the signal does. */
export interface TapStream extends AsyncIterable<ObservedTapEvent> {
  cancel(): void;
}

/**
 * Why a tap ended early: LINNET_TAP_DENIED (the proxy refused this identity), LINNET_TAP_INVALID
 * (the proxy refused the match), LINNET_TAP_UNAVAILABLE (no connection, or a handshake the proxy
 * refused), LINNET_TAP_FAILED (anything else). `grpcCode` is the status the proxy gave.
 */
export class TapClientError extends LinnetError {
  constructor(
    code: 'LINNET_TAP_DENIED' | 'LINNET_TAP_INVALID' | 'LINNET_TAP_UNAVAILABLE' | 'LINNET_TAP_FAILED',
    message: string,
    readonly grpcCode: number,
    hint?: string,
  ) {
    super(code, message, { hint });
    this.name = 'TapClientError';
  }
}

function clientError(addr: string, err: grpc.ServiceError): TapClientError {
  switch (err.code) {
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED:
      return new TapClientError('LINNET_TAP_DENIED', `tap on ${addr} refused: ${err.details}`, err.code, 'tap with the identity the proxy names in LINNET_PROXY_TAP_SVC_NAME');
    case grpc.status.INVALID_ARGUMENT:
      return new TapClientError('LINNET_TAP_INVALID', `tap on ${addr}: ${err.details}`, err.code);
    case grpc.status.UNAVAILABLE:
      return new TapClientError('LINNET_TAP_UNAVAILABLE', `tap on ${addr} unavailable: ${err.details}`, err.code, 'is the proxy up with tap enabled, and does this identity chain to its trust anchors?');
    default:
      return new TapClientError('LINNET_TAP_FAILED', `tap on ${addr} failed: ${err.details || err.message}`, err.code);
  }
}

/** Opens one Observe stream. Nothing is sent until the returned stream is iterated. */
export function observeTap(opts: TapClientOptions, req: TapObserveOptions = {}): TapStream {
  let cancel: (() => void) | undefined;
  let cancelled = false;
  const onAbort = () => {
    cancelled = true;
    cancel?.();
  };
  req.signal?.addEventListener('abort', onAbort, { once: true });

  async function* events(): AsyncGenerator<ObservedTapEvent> {
    if (cancelled || req.signal?.aborted) return;
    const Client = tapClientConstructor();
    const creds = grpc.credentials.createSsl(Buffer.from(opts.trustAnchorsPem), Buffer.from(opts.keyPem), Buffer.from(opts.certPem));
    const client = new Client(opts.addr, creds, { 'grpc.ssl_target_name_override': opts.proxyIdentity, 'grpc.default_authority': opts.proxyIdentity }) as grpc.Client &
      Record<string, (r: unknown) => grpc.ClientReadableStream<PbTapEvent>>;
    const call = client['Observe']!(observeToPb({ limit: req.limit ?? 0, maxRps: req.maxRps ?? 0, ...(req.match ? { match: req.match } : {}) }));
    const queue: PbTapEvent[] = [];
    let ended = false;
    let failure: TapClientError | undefined;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    cancel = () => call.cancel();
    if (req.onOpen) call.once('metadata', () => req.onOpen?.());
    call.on('data', (e: PbTapEvent) => {
      queue.push(e);
      // Backpressure: stop reading while the consumer is behind, so HTTP/2 flow control reaches
      // the proxy (whose bounded buffer then drops and counts, never slowing its traffic).
      if (queue.length >= 256) call.pause();
      notify();
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (!(cancelled && err.code === grpc.status.CANCELLED)) failure = clientError(opts.addr, err);
      ended = true;
      notify();
    });
    call.on('end', () => {
      ended = true;
      notify();
    });
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          if (queue.length < 64) call.resume();
          yield { ...eventFromPb(next), proxyAddr: opts.addr, proxyIdentity: opts.proxyIdentity };
          continue;
        }
        if (failure) throw failure;
        if (ended || cancelled) return;
        await new Promise<void>((ok) => (wake = ok));
      }
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
      if (!ended) call.cancel();
      client.close();
    }
  }

  const iterable = events();
  return {
    [Symbol.asyncIterator]: () => iterable,
    cancel: onAbort,
  };
}
