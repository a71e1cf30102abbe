/**
 * The proxy's inbound policy, per port: the default policy (LINNET_PROXY_INBOUND_DEFAULT_POLICY)
 * until the control plane answers, then what each InboundServerPolicies.WatchPort stream last
 * said. A stream that breaks is re-opened with backoff and the last policy stays in force, so a
 * control-plane outage changes nothing; a message this proxy cannot read is logged and ignored.
 * Ports are watched from the first connection to them (and at start for the configured ones).
 */
import type { Logger } from '../../../core/log';
import { fromPbServer, type PbServer } from '../../../core/api/inbound';
import { backoffDelay, type BackoffOptions } from '../../../core/backoff';
import { defaultPolicy, type DefaultPolicy, type InboundPolicy } from '../../../core/policy/model';
import type { IpNet } from '../../../core/policy/net';
import { CONTROL_PLANE_H2, grpcApi } from '../../protocol/grpc/api';
import { GrpcCall, type CallStatus } from '../../protocol/grpc/call';
import { GrpcChannel } from '../../protocol/grpc/channel';

export interface PolicySettings {
  /** host:port of the policy service; undefined: the default policy only. */
  addr: string | undefined;
  /** What this proxy is ("<ns>:<pod>" in Kubernetes, the pod IP in the embedded mode). */
  workload: string;
  defaultPolicy: DefaultPolicy;
  clusterNetworks: readonly IpNet[];
  /** Ports watched from start (the pod's container ports), so their policy is in before traffic. */
  ports: readonly number[];
}

const BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 10_000, jitter: 0.5 };

/** One port's policy; `version` changes with every new policy (decision caches key on it). */
export interface PortPolicy {
  readonly policy: InboundPolicy;
  readonly version: number;
  /** True once the control plane has answered for this port (false: the default is in force). */
  readonly fromControlPlane: boolean;
}

export class InboundPolicies {
  private readonly ports = new Map<number, PortWatch>();
  private readonly fallback: InboundPolicy;
  private readonly channel: GrpcChannel | undefined;
  private readonly listeners = new Set<(port: number) => void>();
  private readonly waitedOut = new Set<number>();
  private version = 0;
  private closed = false;

  constructor(
    private readonly settings: PolicySettings,
    private readonly log: Logger,
  ) {
    this.fallback = defaultPolicy(settings.defaultPolicy, settings.clusterNetworks);
    if (settings.addr) {
      this.channel = new GrpcChannel({ address: settings.addr, settings: CONTROL_PLANE_H2, keepAliveMs: 30_000, keepAliveTimeoutMs: 10_000, log });
    }
    for (const p of settings.ports) this.get(p);
  }

  /** Whether any policy can come from a control plane (else: the static default everywhere). */
  get watching(): boolean {
    return this.channel !== undefined;
  }

  /** The port's current policy; starts its watch on first use. */
  get(port: number): PortPolicy {
    let w = this.ports.get(port);
    if (!w) {
      w = new PortWatch(port, { policy: this.fallback, version: ++this.version, fromControlPlane: false });
      this.ports.set(port, w);
      if (this.channel && !this.closed) this.open(w);
    }
    return w.current;
  }

  /** Calls `fn(port)` after a port's policy changed. */
  onChange(fn: (port: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Resolves once the port's policy came from the control plane, or false after `timeoutMs`. A
   * port that waited out its time once (the control plane is away) answers false at once after
   * that, so an outage delays one connection per port, not every one.
   */
  ready(port: number, timeoutMs: number): Promise<boolean> {
    if (this.get(port).fromControlPlane) return Promise.resolve(true);
    if (this.waitedOut.has(port)) return Promise.resolve(false);
    return new Promise((done) => {
      const t = setTimeout(() => {
        off();
        this.waitedOut.add(port);
        done(false);
      }, timeoutMs);
      const off = this.onChange((p) => {
        if (p === port && this.get(port).fromControlPlane) {
          clearTimeout(t);
          off();
          done(true);
        }
      });
    });
  }

  close(): void {
    this.closed = true;
    for (const w of this.ports.values()) w.close();
    this.channel?.close();
  }

  private open(w: PortWatch): void {
    if (this.closed || !this.channel) return;
    const api = grpcApi('inbound.proto');
    const call = new GrpcCall(this.channel, api.codec, api.method('linnet.inbound.InboundServerPolicies', 'WatchPort'), { workload: this.settings.workload, port: w.port });
    w.call = call;
    call.on('data', (msg: PbServer) => {
      if (w.call !== call) return;
      w.attempt = 0;
      let policy: InboundPolicy;
      try {
        policy = fromPbServer(msg);
      } catch (err) {
        this.log.warn('inbound policy message refused; keeping the last policy', { port: w.port, error: (err as Error).message });
        return;
      }
      w.current = { policy, version: ++this.version, fromControlPlane: true };
      this.log.debug('inbound policy', { port: w.port, server: `${policy.server.kind}/${policy.server.name}`, protocol: policy.protocol });
      for (const fn of [...this.listeners]) {
        try {
          fn(w.port);
        } catch (err) {
          // One listener's failure must not keep the others (or the stream) from the change.
          this.log.warn('inbound policy listener failed', { port: w.port, error: (err as Error).message });
        }
      }
    });
    call.on('status', (s: CallStatus) => {
      if (w.call !== call) return;
      w.call = undefined;
      if (this.closed || w.closed) return;
      const delay = backoffDelay(w.attempt++, BACKOFF);
      this.log.debug('inbound policy stream ended; keeping the last policy and retrying', { port: w.port, code: s.code, in_ms: delay });
      w.timer = setTimeout(() => this.open(w), delay);
    });
  }
}

class PortWatch {
  call: GrpcCall | undefined;
  timer: NodeJS.Timeout | undefined;
  attempt = 0;
  closed = false;
  constructor(
    readonly port: number,
    public current: PortPolicy,
  ) {}
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.call;
    this.call = undefined;
    c?.cancel();
  }
}
