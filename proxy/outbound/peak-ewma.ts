/**
 * Peak-EWMA load balancing with power of two choices, and failure accrual. Pure: no sockets, no
 * timers; the clock and the random source are injected so the choice is unit-tested exactly.
 *
 * Cost of an endpoint = RTT estimate × (pending + 1) (as tower's / linkerd2-proxy's PeakEwma):
 * - a sample slower than the estimate replaces it at once (the "peak");
 * - a faster sample pulls it down by 1 − e^(−Δt/τ), τ = 10 s by default, Δt the time since the
 *   estimate was last touched; reading the cost also decays the estimate toward 0 the same way,
 *   so an endpoint that was slow once is tried again after a while instead of starved forever;
 * - a new endpoint starts at the default RTT (30 ms).
 * The cost is divided by the endpoint's weight from discovery (10,000 = 1.0, Linkerd's scale), as
 * tower's `Weighted` load (load / weight) that linkerd2-proxy wrapped its Peak-EWMA endpoints in:
 * an endpoint of weight 20,000 looks half as loaded, so it takes about twice the concurrent
 * requests of a 10,000 one at the same latency. A weight of 0 or none is the default (proto3
 * cannot tell an unset weight from 0, and our control plane never sends 0).
 * A pick draws two distinct endpoints at random and takes the cheaper (the first on a tie).
 *
 * Failure accrual: `consecutiveFailures` failures in a row set an endpoint aside for a backoff
 * (base × 2^n, capped, jittered). When it ends, the endpoint may take one probe; a success brings
 * it back, a failure sets it aside for the next, longer backoff.
 */
import { merged } from '../../core/merged';

export interface BalancerOptions {
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
  defaultRttMs?: number;
  decayMs?: number;
  accrual?: Partial<AccrualOptions>;
}

export interface AccrualOptions {
  /** Failures in a row that set an endpoint aside. */
  consecutiveFailures: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Fraction of each backoff randomised (0-1), so proxies do not probe in lockstep. */
  jitter: number;
}

export const DEFAULT_RTT_MS = 30;
/** Discovery's weight scale: this is 1.0. */
export const DEFAULT_WEIGHT = 10_000;
export const DEFAULT_DECAY_MS = 10_000;
export const DEFAULT_ACCRUAL: AccrualOptions = { consecutiveFailures: 3, baseBackoffMs: 1000, maxBackoffMs: 60_000, jitter: 0.5 };

type State = 'ready' | 'aside' | 'probing';

/** What the balancer knows about one endpoint. */
export class EndpointLoad<E> {
  rttMs: number;
  stamp: number;
  pending = 0;
  failures = 0;
  /** How many times in a row it has been set aside (the backoff exponent). */
  trips = 0;
  state: State = 'ready';
  retryAt = 0;
  /** weight / DEFAULT_WEIGHT: the cost is divided by it. */
  weightFactor = 1;

  constructor(
    readonly key: string,
    public value: E,
    rttMs: number,
    now: number,
  ) {
    this.rttMs = rttMs;
    this.stamp = now;
  }
}

/** One chosen endpoint; call `done` exactly once when the request or connection is over. */
export interface Pick<E> {
  readonly key: string;
  readonly endpoint: E;
  /** `rttMs`: the latency sample, if one was measured. */
  done(outcome: 'success' | 'failure', rttMs?: number): void;
}

export class PeakEwmaBalancer<E> {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly defaultRtt: number;
  private readonly tau: number;
  private accrual: AccrualOptions;
  /** Every endpoint set aside: no pick (the request fails fast, 503) rather than the soonest back. */
  private failFast = false;
  private configured: unknown;
  private readonly loads = new Map<string, EndpointLoad<E>>();

  constructor(opts: BalancerOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.defaultRtt = opts.defaultRttMs ?? DEFAULT_RTT_MS;
    this.tau = opts.decayMs ?? DEFAULT_DECAY_MS;
    this.accrual = merged(DEFAULT_ACCRUAL, opts.accrual ?? {});
  }

  /**
   * Replaces the endpoint list; endpoints kept by key keep their estimates and state (and take the
   * new weight). `weight` on discovery's scale (DEFAULT_WEIGHT = 1.0); absent or 0: the default.
   */
  update(endpoints: Iterable<{ key: string; value: E; weight?: number }>): void {
    const seen = new Set<string>();
    const now = this.now();
    for (const { key, value, weight } of endpoints) {
      seen.add(key);
      let l = this.loads.get(key);
      if (l) l.value = value;
      else this.loads.set(key, (l = new EndpointLoad(key, value, this.defaultRtt, now)));
      l.weightFactor = weight !== undefined && Number.isFinite(weight) && weight > 0 ? weight / DEFAULT_WEIGHT : 1;
    }
    for (const key of [...this.loads.keys()]) if (!seen.has(key)) this.loads.delete(key);
  }

  /**
   * Failure accrual from a route's Service (balancer.linkerd.io/failure-accrual): its thresholds,
   * and failing fast when every endpoint is out. `key` is compared by identity so that applying
   * the same policy on every request costs nothing.
   */
  configure(key: unknown, accrual: AccrualOptions, failFast: boolean): void {
    if (this.configured === key) return;
    this.configured = key;
    this.accrual = accrual;
    this.failFast = failFast;
  }

  get size(): number {
    return this.loads.size;
  }

  /** The endpoint's state, for tests and logs. */
  load(key: string): Readonly<EndpointLoad<E>> | undefined {
    return this.loads.get(key);
  }

  /** Current cost (decays the estimate to now first), divided by the endpoint's weight. */
  cost(l: EndpointLoad<E>): number {
    this.decay(l, 0);
    return (l.rttMs * (l.pending + 1)) / l.weightFactor;
  }

  /**
   * Chooses an endpoint, or undefined when there are none. `exclude`: keys not to choose (already
   * failed for this request). When every endpoint is set aside, the one whose backoff ends first
   * is chosen anyway: trying is better than failing for sure.
   */
  pick(exclude?: ReadonlySet<string>): Pick<E> | undefined {
    const now = this.now();
    // Two passes over the endpoints instead of a candidate list: nothing allocated per request.
    let n = 0;
    let only: EndpointLoad<E> | undefined;
    let fallback: EndpointLoad<E> | undefined;
    for (const l of this.loads.values()) {
      if (exclude?.has(l.key)) continue;
      if (l.state === 'aside' && now >= l.retryAt) l.state = 'probing';
      if (eligible(l)) {
        n++;
        only = l;
      } else if (!fallback || l.retryAt < fallback.retryAt) fallback = l;
    }
    let chosen: EndpointLoad<E> | undefined;
    if (n === 1) chosen = only;
    else if (n >= 2) {
      const i = Math.floor(this.random() * n);
      let j = Math.floor(this.random() * (n - 1));
      if (j >= i) j++;
      let a: EndpointLoad<E> | undefined;
      let b: EndpointLoad<E> | undefined;
      let k = 0;
      for (const l of this.loads.values()) {
        if (exclude?.has(l.key) || !eligible(l)) continue;
        if (k === i) a = l;
        if (k === j) b = l;
        k++;
      }
      chosen = this.cost(b!) < this.cost(a!) ? b : a;
    } else chosen = this.failFast ? undefined : fallback;
    if (!chosen) return undefined;
    chosen.pending++;
    return new IssuedPick(this, chosen);
  }

  /** A pick is over (IssuedPick.done, once). */
  settle(l: EndpointLoad<E>, outcome: 'success' | 'failure', rttMs: number | undefined): void {
    l.pending = Math.max(0, l.pending - 1);
    if (rttMs !== undefined && Number.isFinite(rttMs) && rttMs >= 0) this.observe(l, rttMs);
    if (outcome === 'success') this.succeeded(l);
    else this.failed(l);
  }

  private observe(l: EndpointLoad<E>, rttMs: number): void {
    if (rttMs > l.rttMs) {
      l.rttMs = rttMs;
      l.stamp = this.now();
    } else this.decay(l, rttMs);
  }

  private decay(l: EndpointLoad<E>, toward: number): void {
    const now = this.now();
    const elapsed = Math.max(0, now - l.stamp);
    const w = Math.exp(-elapsed / this.tau);
    l.rttMs = l.rttMs * w + toward * (1 - w);
    l.stamp = now;
  }

  private succeeded(l: EndpointLoad<E>): void {
    l.failures = 0;
    if (l.state !== 'ready') {
      l.state = 'ready';
      l.trips = 0;
    }
  }

  private failed(l: EndpointLoad<E>): void {
    l.failures++;
    // A failed probe goes straight back aside; a ready endpoint after enough failures in a row.
    if (l.state === 'probing' || (l.state === 'ready' && l.failures >= this.accrual.consecutiveFailures)) {
      const a = this.accrual;
      const base = Math.min(a.maxBackoffMs, a.baseBackoffMs * 2 ** Math.min(l.trips, 30));
      const backoff = base * (1 - Math.min(1, Math.max(0, a.jitter)) * this.random());
      l.trips++;
      l.state = 'aside';
      l.retryAt = this.now() + backoff;
    }
  }
}

const eligible = (l: EndpointLoad<unknown>) => l.state === 'ready' || (l.state === 'probing' && l.pending === 0);

/** One request's pick: an object with a method rather than a closure per request. */
class IssuedPick<E> implements Pick<E> {
  private finished = false;
  readonly key: string;
  readonly endpoint: E;
  constructor(
    private readonly balancer: PeakEwmaBalancer<E>,
    private readonly l: EndpointLoad<E>,
  ) {
    this.key = l.key;
    this.endpoint = l.value;
  }
  done(outcome: 'success' | 'failure', rttMs?: number): void {
    if (this.finished) return;
    this.finished = true;
    this.balancer.settle(this.l, outcome, rttMs);
  }
}
