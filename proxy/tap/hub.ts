/**
 * A lane's side of tap: the taps open on this proxy (the main thread's tap server tells every lane
 * about each one) and the one check every request makes. While no tap is open, `active` is false
 * and a request costs that one boolean; while taps are open, each request is matched (match.ts)
 * and, for each tap that wants it under its limit and rate cap, its events go to the sink: a
 * postMessage to the main thread from a worker, a direct call in the one-lane proxy. Nothing here
 * waits for a reader: a slow one loses events in the main thread's bounded buffer (session.ts).
 */
import { randomInt } from 'node:crypto';
import type { TapEvent, TapMatch } from '../../core/api/tap';
import type { HttpOutcome } from '../protocol/call';
import { compileMatch, type TapPredicate, type TapView } from './match';
import { RateCap } from './rate';

/** One tap as the main thread hands it to the lanes (plain data: it crosses postMessage). */
export interface TapSpec {
  id: number;
  match?: TapMatch;
  /** Requests to report, 0 for no limit (the main thread enforces it exactly across lanes). */
  limit: number;
  /** Requests a second at most. */
  maxRps: number;
}

export type TapSink = (tapId: number, event: TapEvent) => void;

/** One request as the call path describes it when it starts; read only while a tap is open. */
export interface TapRequestInfo extends TapView {
  direction: 'inbound' | 'outbound';
  /** The path with its query, as the event reports it. */
  target: string;
  sourceLabels: Readonly<Record<string, string>>;
}

/** Tells the taps that took a request how it went. */
export interface TapRecorder {
  respond(status: number): void;
  end(outcome: HttpOutcome): void;
}

interface LaneTap {
  spec: TapSpec;
  test: TapPredicate;
  rate: RateCap;
  taken: number;
}

/** HTTP/2 error codes for a stream that ended without a response's end. */
const CANCEL = 0x8;
const INTERNAL_ERROR = 0x2;

export class TapHub {
  /** Whether any tap is open: the only thing a request reads when none is. */
  active = false;
  private readonly taps = new Map<number, LaneTap>();
  /** Random per lane, so stream ids from several lanes (and restarts) do not collide. */
  private readonly base = randomInt(1, 2 ** 32 - 1);
  private stream = 0;

  constructor(private readonly sink: TapSink) {}

  open(spec: TapSpec): void {
    this.taps.set(spec.id, { spec, test: compileMatch(spec.match), rate: new RateCap(spec.maxRps, performance.now()), taken: 0 });
    this.active = true;
  }

  close(id: number): void {
    this.taps.delete(id);
    this.active = this.taps.size > 0;
  }

  /** The number of taps open (for tests and the admin's view). */
  get size(): number {
    return this.taps.size;
  }

  /** A request starts: the taps that take it, or undefined when none does. */
  request(info: TapRequestInfo): TapRecorder | undefined {
    let ids: number[] | undefined;
    const now = performance.now();
    for (const [id, t] of this.taps) {
      if (t.spec.limit > 0 && t.taken >= t.spec.limit) continue;
      if (!t.test(info) || !t.rate.take(now)) continue;
      t.taken++;
      (ids ??= []).push(id);
    }
    if (!ids) return undefined;
    return new Recorder(this.sink, ids, info, { base: this.base, stream: ++this.stream });
  }
}

class Recorder implements TapRecorder {
  private readonly t0 = process.hrtime.bigint();
  private tResponse: bigint | undefined;
  private ended = false;

  constructor(
    private readonly sink: TapSink,
    private readonly ids: number[],
    private readonly info: TapRequestInfo,
    private readonly id: { base: number; stream: number },
  ) {
    const i = info;
    this.emit({ kind: 'request_init', id, method: i.method, scheme: i.scheme, authority: i.authority, path: i.target });
  }

  respond(status: number): void {
    if (this.tResponse !== undefined || this.ended) return;
    this.tResponse = process.hrtime.bigint();

    this.emit({ kind: 'response_init', id: this.id, sinceRequestInitUs: us(this.tResponse - this.t0), status });
  }

  end(o: HttpOutcome): void {
    if (this.ended) return;
    // A response the proxy wrote itself (a 502, a gRPC error) or one the server did not report
    // as it started: its head and its end are the same moment.
    if (this.tResponse === undefined && o.status > 0) this.respond(o.status);
    this.ended = true;
    const now = process.hrtime.bigint();
    const reset = o.error !== undefined && o.grpcStatus === undefined && (o.status === 0 || o.error.includes('reset') || o.error.includes('cancel'));
    this.emit({
      kind: 'response_end',
      id: this.id,
      sinceRequestInitUs: us(now - this.t0),
      sinceResponseInitUs: this.tResponse === undefined ? 0 : us(now - this.tResponse),
      responseBytes: o.responseBytes ?? 0,
      ...(o.grpcStatus !== undefined ? { grpcStatus: o.grpcStatus } : {}),
      ...(reset ? { resetErrorCode: o.error === 'client_cancel' ? CANCEL : INTERNAL_ERROR } : {}),
    });
  }

  private emit(http: TapEvent['http']): void {
    const i = this.info;
    const e: TapEvent = {
      direction: i.direction,
      source: { ip: i.sourceIp, port: i.sourcePort },
      destination: { ip: i.destinationIp, port: i.destinationPort },
      // Shared, not copied: nothing downstream changes them (a worker's postMessage copies anyway).
      sourceLabels: i.sourceLabels as Record<string, string>,
      destinationLabels: i.destinationLabels as Record<string, string>,
      routeLabels: i.routeLabels as Record<string, string>,
      http,
    };
    for (const id of this.ids) this.sink(id, e);
  }
}

function us(ns: bigint): number {
  return Number(ns / 1000n);
}
