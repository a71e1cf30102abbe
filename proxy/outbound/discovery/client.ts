/**
 * The proxy's discovery client. `resolve(target)` returns a watchable endpoint set backed by one
 * Destination.Get stream per target, shared by every caller of the same target. The set keeps
 * its last known endpoints through a control-plane outage; the stream is re-opened with
 * exponential backoff + jitter; a target nobody holds any more is closed after an idle time.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { LinnetError } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import type { PbUpdate } from '../../../core/api/destination';
import { backoffDelay, type BackoffOptions } from '../../../core/backoff';
import { CONTROL_PLANE_H2, grpcApi } from '../../protocol/grpc/api';
import { GrpcCall, type CallStatus } from '../../protocol/grpc/call';
import { GrpcChannel } from '../../protocol/grpc/channel';
import { EndpointSetState, endpointAddress, type DiscoveredEndpoint } from './endpoint-set';

/** Re-opening a discovery stream: quick at first (a control-plane restart), at most every 10 s. */
const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 10_000, jitter: 0.5 };

export interface ResolveTarget {
  /** A name such as web.demo.svc.cluster.local (no port here). */
  authority?: string;
  /** An IP literal (the original destination). */
  ip?: string;
  port: number;
}

export interface DiscoveryClientOptions {
  /** host:port of the Destination service. */
  addr: string;
  /** Sent as context_token: who asks ("<pod>.<namespace>" in Kubernetes). */
  contextToken?: string;
  /** How long a target nobody holds keeps its stream (default 60 s). */
  idleTimeoutMs?: number;
  backoff?: BackoffOptions;
  log?: Logger;
}

export class DiscoveryError extends LinnetError {
  constructor(message: string, hint: string) {
    super('LINNET_DISCOVERY_BAD_TARGET', message, { hint });
    this.name = 'DiscoveryError';
  }
}

/**
 * One caller's hold on a target's endpoints. Events: 'update' (endpoints: DiscoveredEndpoint[])
 * whenever the set changes. Call release() when done; the stream lives while anyone holds it.
 */
export interface EndpointSet extends EventEmitter {
  readonly target: string;
  /** The current endpoints (the last known ones during an outage). */
  endpoints(): DiscoveredEndpoint[];
  /** undefined before the first answer; false: unknown destination (fall back to the original
   * destination); true: known (possibly with no endpoints right now). */
  exists(): boolean | undefined;
  /** The port's declared protocol (appProtocol http/ws: http1; h2c: h2): detection is skipped. */
  protocol(): 'http1' | 'h2' | undefined;
  /** Whether the stream to the control plane is currently up. */
  connected(): boolean;
  /** Resolves true once the first answer is in, false if `timeoutMs` passes first. */
  ready(timeoutMs?: number): Promise<boolean>;
  release(): void;
}

export interface DiscoveryClient {
  resolve(target: ResolveTarget): EndpointSet;
  /** Number of open target streams (for metrics and tests). */
  size(): number;
  close(): void;
}

function targetPath(t: ResolveTarget): string {
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
    throw new DiscoveryError(`port ${t.port} is not 1-65535`, 'resolve a target with a valid TCP port');
  }
  if (t.ip !== undefined) {
    if (isIP(t.ip) === 0) throw new DiscoveryError(`${JSON.stringify(t.ip)} is not an IP address`, 'pass the original destination IP');
    return endpointAddress(t.ip, t.port);
  }
  if (t.authority !== undefined && t.authority !== '') {
    const host = t.authority.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    return `${host}:${t.port}`;
  }
  throw new DiscoveryError('a target needs an authority or an ip', 'pass { authority, port } or { ip, port }');
}

class Target {
  readonly state = new EndpointSetState();
  readonly holders = new Set<Holder>();
  private call: GrpcCall | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private everAnswered = false;
  private up = false;
  private closed = false;
  private readyWaiters: (() => void)[] = [];

  constructor(
    readonly path: string,
    private readonly channel: GrpcChannel,
    private readonly opts: DiscoveryClientOptions,
    private readonly onIdle: (t: Target) => void,
  ) {
    this.open();
  }

  connected(): boolean {
    return this.up;
  }
  answered(): boolean {
    return this.everAnswered;
  }
  waitReady(): Promise<void> {
    return this.everAnswered ? Promise.resolve() : new Promise((ok) => this.readyWaiters.push(ok));
  }

  private open(): void {
    if (this.closed) return;
    // Stale endpoints stay in use until the new stream's first message replaces them.
    if (this.everAnswered) this.state.markStale();
    const api = grpcApi('destination.proto');
    const call = new GrpcCall(this.channel, api.codec, api.method('linnet.destination.Destination', 'Get'), {
      scheme: 'k8s',
      path: this.path,
      context_token: this.opts.contextToken ?? '',
    });
    this.call = call;
    call.on('data', (u: PbUpdate) => {
      if (this.call !== call) return;
      this.attempt = 0;
      if (!this.up) {
        this.up = true;
        this.opts.log?.debug('discovery stream up', { target: this.path });
      }
      const changed = this.state.apply(u);
      if (!this.everAnswered) {
        this.everAnswered = true;
        for (const w of this.readyWaiters.splice(0)) w();
      }
      if (changed) {
        const eps = this.state.endpoints();
        for (const h of [...this.holders]) h.emit('update', eps);
      }
    });
    call.on('status', (s: CallStatus) => {
      if (this.call !== call) return;
      this.call = undefined;
      this.up = false;
      if (this.closed) return;
      const delay = backoffDelay(this.attempt++, this.opts.backoff ?? DEFAULT_BACKOFF);
      this.opts.log?.debug('discovery stream ended; retrying', { target: this.path, code: s.code, details: s.details, in_ms: delay });
      this.retryTimer = setTimeout(() => this.open(), delay);
    });
  }

  hold(h: Holder): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.holders.add(h);
  }

  drop(h: Holder): void {
    this.holders.delete(h);
    if (this.holders.size === 0 && !this.closed) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.onIdle(this), this.opts.idleTimeoutMs ?? 60_000);
      this.idleTimer.unref();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    const c = this.call;
    this.call = undefined;
    this.up = false;
    c?.cancel();
  }
}

class Holder extends EventEmitter implements EndpointSet {
  private released = false;
  constructor(private readonly t: Target) {
    super();
    t.hold(this);
  }
  get target(): string {
    return this.t.path;
  }
  endpoints(): DiscoveredEndpoint[] {
    return this.t.state.endpoints();
  }
  exists(): boolean | undefined {
    return this.t.state.exists;
  }
  protocol(): 'http1' | 'h2' | undefined {
    return this.t.state.protocol;
  }
  connected(): boolean {
    return this.t.connected();
  }
  async ready(timeoutMs?: number): Promise<boolean> {
    if (this.t.answered()) return true;
    if (timeoutMs === undefined) {
      await this.t.waitReady();
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((ok) => {
      timer = setTimeout(() => ok(false), timeoutMs);
    });
    try {
      return await Promise.race([this.t.waitReady().then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.removeAllListeners();
    this.t.drop(this);
  }
}

export function createDiscoveryClient(opts: DiscoveryClientOptions): DiscoveryClient {
  // One connection for every target's stream; PINGs notice a control plane that vanished without
  // closing it, and each stream's own backoff paces the re-dials.
  const channel = new GrpcChannel({ address: opts.addr, settings: CONTROL_PLANE_H2, keepAliveMs: 30_000, keepAliveTimeoutMs: 10_000, ...(opts.log ? { log: opts.log } : {}) });
  const targets = new Map<string, Target>();
  let closed = false;
  const onIdle = (t: Target) => {
    if (t.holders.size > 0) return;
    t.close();
    if (targets.get(t.path) === t) targets.delete(t.path);
    opts.log?.debug('discovery target idle; stream closed', { target: t.path });
  };
  return {
    resolve(target: ResolveTarget): EndpointSet {
      if (closed) throw new LinnetError('LINNET_DISCOVERY_CLOSED', 'the discovery client is closed', { hint: 'create a new client' });
      const path = targetPath(target);
      let t = targets.get(path);
      if (!t) {
        t = new Target(path, channel, opts, onIdle);
        targets.set(path, t);
      }
      return new Holder(t);
    },
    size: () => targets.size,
    close(): void {
      closed = true;
      for (const t of targets.values()) t.close();
      targets.clear();
      channel.close();
    },
  };
}
