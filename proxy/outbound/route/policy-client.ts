/**
 * The proxy's outbound policy, per target (a Service's cluster IP and port, or an authority in
 * ingress mode): what each OutboundPolicies.Watch stream last said. Like the inbound client, a
 * stream that breaks is re-opened with backoff and its last answer stays in force (a control-plane
 * outage changes nothing); a message this proxy cannot read is logged and ignored. A new answer
 * applies to the next request: requests in flight keep the plan they started with.
 */
import type { Logger } from '../../../core/log';
import { fromPbOutbound, type PbOutboundPolicy, type PbTrafficSpec } from '../../../core/api/outbound';
import { backoffDelay, type BackoffOptions } from '../../../core/backoff';
import type { OutboundPolicy } from '../../../core/route/model';
import { CONTROL_PLANE_H2, grpcApi } from '../../protocol/grpc/api';
import { GrpcCall, type CallStatus } from '../../protocol/grpc/call';
import { GrpcChannel } from '../../protocol/grpc/channel';
import { GrpcStatus } from '../../protocol/h2/grpc-status';

const BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 10_000, jitter: 0.5 };

export interface TargetPolicy {
  /** Undefined: not a Service with routes the control plane knows (or no answer yet). */
  readonly policy: OutboundPolicy | undefined;
  readonly version: number;
  readonly answered: boolean;
}

export interface OutboundPoliciesOptions {
  addr: string;
  workload: string;
  /** Targets unused this long stop being watched (default 60 s). */
  idleMs?: number;
  log: Logger;
}

export class OutboundPolicies {
  private readonly targets = new Map<string, Watch>();
  private readonly channel: GrpcChannel;
  private readonly sweep: NodeJS.Timeout;
  private version = 0;
  private closed = false;

  constructor(private readonly opts: OutboundPoliciesOptions) {
    this.channel = new GrpcChannel({ address: opts.addr, settings: CONTROL_PLANE_H2, keepAliveMs: 30_000, keepAliveTimeoutMs: 10_000, log: opts.log });
    const idle = opts.idleMs ?? 60_000;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, w] of this.targets) {
        if (now - w.lastUsed > idle) {
          w.close();
          this.targets.delete(k);
        }
      }
    }, Math.min(idle, 10_000));
    this.sweep.unref();
  }

  /** The target's policy now; starts its watch on first use. `key`: "ip:port" or "name:port". */
  get(key: string, kind: 'addr' | 'authority'): TargetPolicy {
    let w = this.targets.get(key);
    if (!w) {
      w = new Watch(key, kind);
      this.targets.set(key, w);
      this.open(w);
    }
    w.lastUsed = Date.now();
    return w.current;
  }

  /**
   * The policy once the control plane has answered for the target, or what there is after
   * `timeoutMs`. Answered at once (no promise) when there is nothing to wait for: every request
   * asks, and only a target's first ones wait.
   */
  ready(key: string, kind: 'addr' | 'authority', timeoutMs: number): TargetPolicy | Promise<TargetPolicy> {
    const now = this.get(key, kind);
    if (now.answered) return now;
    const w = this.targets.get(key)!;
    if (w.waitedOut) return now;
    return this.wait(w, timeoutMs);
  }

  private async wait(w: Watch, timeoutMs: number): Promise<TargetPolicy> {
    await new Promise<void>((done) => {
      const t = setTimeout(() => {
        w.waitedOut = true;
        done();
      }, timeoutMs);
      w.waiters.push(() => {
        clearTimeout(t);
        done();
      });
    });
    return w.current;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
    for (const w of this.targets.values()) w.close();
    this.targets.clear();
    this.channel.close();
  }

  private open(w: Watch): void {
    if (this.closed || w.closed) return;
    const spec: PbTrafficSpec = { source_workload: this.opts.workload, [w.kind]: w.key };
    const api = grpcApi('outbound.proto');
    const call = new GrpcCall(this.channel, api.codec, api.method('linnet.outbound.OutboundPolicies', 'Watch'), spec);
    w.call = call;
    call.on('data', (msg: PbOutboundPolicy) => {
      if (w.call !== call) return;
      w.attempt = 0;
      let policy: OutboundPolicy | undefined;
      try {
        policy = fromPbOutbound(msg);
      } catch (err) {
        this.opts.log.warn('outbound policy message refused; keeping the last policy', { target: w.key, error: (err as Error).message });
        return;
      }
      w.current = { policy, version: ++this.version, answered: true };
      this.opts.log.debug('outbound policy', { target: w.key, routes: policy?.routes.length ?? 0, parent: policy ? `${policy.parent.namespace}/${policy.parent.name}` : 'none' });
      for (const fn of w.waiters.splice(0)) fn();
    });
    call.on('status', (s: CallStatus) => {
      if (w.call !== call) return;
      w.call = undefined;
      if (this.closed || w.closed) return;
      // A control plane without OutboundPolicies (an older one): no routes, and no first request
      // waits for an answer that will not come; it is asked again later all the same.
      if (s.code === GrpcStatus.UNIMPLEMENTED && !w.current.answered) {
        w.current = { policy: undefined, version: ++this.version, answered: true };
        for (const fn of w.waiters.splice(0)) fn();
      }
      const delay = backoffDelay(w.attempt++, BACKOFF);
      this.opts.log.debug('outbound policy stream ended; keeping the last policy and retrying', { target: w.key, code: s.code, in_ms: delay });
      w.timer = setTimeout(() => this.open(w), delay);
    });
  }
}

class Watch {
  call: GrpcCall | undefined;
  timer: NodeJS.Timeout | undefined;
  attempt = 0;
  closed = false;
  waitedOut = false;
  lastUsed = Date.now();
  current: TargetPolicy = { policy: undefined, version: 0, answered: false };
  readonly waiters: (() => void)[] = [];
  constructor(
    readonly key: string,
    readonly kind: 'addr' | 'authority',
  ) {}
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.call;
    this.call = undefined;
    c?.cancel();
    for (const fn of this.waiters.splice(0)) fn();
  }
}
