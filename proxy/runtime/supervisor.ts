/**
 * The proxy's main thread: starts the worker threads that carry traffic, serves the admin
 * endpoints, merges the workers' metrics, and runs the shutdown sequence (SIGTERM, SIGINT or
 * POST /shutdown): stop accepting, let open connections finish within the grace period, then
 * close what is left and exit. A worker thread that dies once the proxy is up (ready or still
 * waiting for its first certificate) is replaced, after a delay that doubles while it keeps dying
 * (proxy/restart-backoff.ts); the log line says which worker, the exit code and the error.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { startAdmin } from './admin';
import type { ProxyConfig } from './config';
import { LinnetError } from '../../core/errors';
import { createLogger, type Logger } from '../../core/log';
import { mergeLatency, mergeLatencyBuckets, type LatencyCounts } from '../metrics/http-metrics';
import { mergedExposition } from '../metrics/merge';
import { registerProcessMetrics } from '../metrics/process-metrics';
import { Registry } from '../metrics/registry';
import type { FromWorker, MetricsJson, ToWorker } from './worker-messages';
import type { IdentityClient, IdentityMaterial } from '../identity';
import { createLane, type Lane } from './lane';
import { RestartBackoff } from './restart-backoff';
import type { TapSink, TapSpec } from '../tap/hub';
import type { TapServer } from '../tap/server';

const METRICS_TIMEOUT_MS = 2000;

type WorkerMetrics = { metrics: MetricsJson; latency: Record<string, LatencyCounts> };

/** One lane of traffic as the main thread drives it: in this thread, or in a worker thread. */
interface LaneHandle {
  readonly index: number;
  drained: boolean;
  /** Running (a thread between its start and its exit; the in-process lane always). */
  readonly alive: boolean;
  /** The latest identity message, given again to a replacement thread. */
  identityMsg: ToWorker | undefined;
  respawnTimer: NodeJS.Timeout | undefined;
  start(): Promise<void>;
  send(m: ToWorker): void;
  metrics(id: number): Promise<WorkerMetrics | undefined>;
  /** Ends it for good (the proxy is exiting). */
  stop(): Promise<void>;
}

/**
 * The one lane of a one-worker proxy (a sidecar's default), in the main thread: one isolate, no
 * messages. A crash ends the process, and the container runtime restarts it, as it would any
 * sidecar; several workers keep the restart-a-thread behaviour.
 */
class InProcessLane implements LaneHandle {
  readonly index = 0;
  drained = false;
  readonly alive = true;
  identityMsg: ToWorker | undefined;
  respawnTimer: NodeJS.Timeout | undefined;
  private readonly lane: Lane;

  constructor(
    config: ProxyConfig,
    private readonly onDrained: () => void,
    tapSink: TapSink,
  ) {
    this.lane = createLane(config, 'proxy', tapSink);
  }

  start(): Promise<void> {
    return this.lane.listen();
  }

  send(m: ToWorker): void {
    switch (m.type) {
      case 'drain':
        this.lane.drain(() => {
          if (this.drained) return;
          this.drained = true;
          this.onDrained();
        });
        break;
      case 'terminate':
        this.lane.terminate();
        break;
      case 'identity':
        this.lane.setIdentity(m.material);
        break;
      case 'tap-open':
        this.lane.tapOpen(m.spec);
        break;
      case 'tap-close':
        this.lane.tapClose(m.id);
        break;
      case 'metrics':
        break;
    }
  }

  metrics(): Promise<WorkerMetrics | undefined> {
    return this.lane.metrics();
  }

  stop(): Promise<void> {
    this.lane.close();
    return Promise.resolve();
  }
}

class WorkerHandle implements LaneHandle {
  worker!: Worker;
  private pending = new Map<number, (m: WorkerMetrics | undefined) => void>();
  drained = false;
  /** The current thread is running (between start and its exit). */
  alive = false;
  /** The latest identity message, posted again to a replacement thread. */
  identityMsg: ToWorker | undefined;
  /** What the current thread reported before it died (an uncaught error), for the exit log. */
  lastError: string | undefined;
  /** Spaces out replacements of a thread that keeps dying. */
  readonly backoff = new RestartBackoff();
  /** A replacement is scheduled. */
  respawnTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly index: number,
    private readonly config: ProxyConfig,
    private readonly log: Logger,
    private readonly onExit: (h: WorkerHandle, code: number) => void,
    private readonly onDrained: () => void,
    private readonly onWorker: ProxyHooks['onWorker'],
    private readonly tapSink: TapSink,
    /** The taps open now, told again to a replacement thread. */
    private readonly openTaps: () => Iterable<TapSpec>,
  ) {}

  /** Starts the thread; resolves once both listeners are bound, rejects with the worker's error. */
  start(): Promise<void> {
    const w = new Worker(join(__dirname, 'worker.js'), { workerData: this.config });
    this.worker = w;
    this.alive = true;
    this.lastError = undefined;
    this.backoff.started(Date.now());
    this.onWorker?.(w, this.index);
    if (this.identityMsg) w.postMessage(this.identityMsg);
    for (const spec of this.openTaps()) w.postMessage({ type: 'tap-open', spec } satisfies ToWorker);
    return new Promise((resolve, reject) => {
      let started = false;
      w.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'listening':
            started = true;
            resolve();
            break;
          case 'start-failed':
            this.lastError = `${m.code}: ${m.message}`;
            reject(new LinnetError(m.code, m.message, { hint: m.hint }));
            // A thread without listeners would linger; ending it lets the exit handler decide.
            void w.terminate();
            break;
          case 'metrics':
            this.pending.get(m.id)?.(m);
            this.pending.delete(m.id);
            break;
          case 'drained':
            if (!this.drained) {
              this.drained = true;
              this.onDrained();
            }
            break;
          case 'tap-event':
            this.tapSink(m.id, m.event);
            break;
        }
      });
      w.on('error', (err) => {
        this.lastError = err.stack ?? String(err);
        this.log.error('worker thread failed', { worker: this.index, thread: w.threadId, error: this.lastError });
        if (!started) reject(err);
      });
      w.on('exit', (code) => {
        if (w !== this.worker) return;
        this.alive = false;
        for (const answer of this.pending.values()) answer(undefined);
        this.pending.clear();
        if (!started) reject(new LinnetError('LINNET_WORKER_EXITED', `worker exited with code ${code} before listening`));
        this.onExit(this, code);
      });
    });
  }

  send(m: ToWorker): void {
    if (this.alive) this.worker.postMessage(m);
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  metrics(id: number): Promise<WorkerMetrics | undefined> {
    if (!this.alive) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.pending.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.send({ type: 'metrics', id });
    });
  }
}

/** For tests: see each worker thread as it starts (e.g. to end one and watch it be replaced). */
export interface ProxyHooks {
  onWorker?: (worker: Worker, index: number) => void;
  /** The proxy's logger (default: LINNET_PROXY_LOG level to stderr). */
  log?: Logger;
}

export interface RunningProxy {
  /** Resolves when the proxy has shut down. */
  done: Promise<void>;
  shutdown(reason: string): void;
}

export async function startProxy(config: ProxyConfig, hooks: ProxyHooks = {}): Promise<RunningProxy> {
  const log = hooks.log ?? createLogger(config.log, 'proxy');
  const own = new Registry();
  registerProcessMetrics(own);

  let shuttingDown = false;
  let ready = false;
  /** Every worker of the first start is listening: from here on a dead one is replaced. */
  let workersUp = false;
  let nextMetricsId = 1;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  let admin: Server | undefined;

  const workers: LaneHandle[] = [];
  // Tap (LINNET_PROXY_TAP_SVC_NAME set): the server lives here, beside the certificate; each
  // lane matches its own requests and sends the events here.
  const openTaps = new Map<number, TapSpec>();
  let tapServer: TapServer | undefined;
  if (config.tap) {
    const { TapServer } = require('../tap/server') as typeof import('../tap/server');
    tapServer = new TapServer({
      ...config.tap,
      registry: own,
      log: log.child('tap'),
      lanes: {
        open(spec) {
          openTaps.set(spec.id, spec);
          for (const w of workers) w.send({ type: 'tap-open', spec });
        },
        close(id) {
          if (!openTaps.delete(id)) return;
          for (const w of workers) w.send({ type: 'tap-close', id });
        },
      },
    });
  }
  const tapSink: TapSink = (id, e) => tapServer?.deliver(id, e);
  const onExit = (h: WorkerHandle, code: number) => {
    if (shuttingDown) {
      // Nothing left to drain on a thread that is gone.
      if (!h.drained) {
        h.drained = true;
        onDrained();
      }
      return;
    }
    if (!workersUp) return; // start-up failed: startProxy reports it
    // A worker died (before or after the first certificate): its connections are lost, the other
    // workers' listeners keep serving; a replacement brings the capacity back. Spaced out by the
    // backoff, so a thread that dies at every start does not spin.
    const delay = h.backoff.died(Date.now());
    log.error('worker thread exited unexpectedly; starting a replacement', {
      worker: h.index,
      code,
      reason: h.lastError ?? (code === 0 ? 'the thread ended by itself' : `exit code ${code}`),
      attempt: h.backoff.attempt,
      restart_in: `${delay}ms`,
      ready,
    });
    h.respawnTimer = setTimeout(() => {
      h.respawnTimer = undefined;
      if (shuttingDown) return;
      h.start().then(
        () => log.info('replacement worker listening', { worker: h.index, thread: h.worker.threadId }),
        (err) => log.error('replacement worker failed to start', { worker: h.index, error: String(err) }),
      );
    }, delay);
  };
  let graceTimer: NodeJS.Timeout | undefined;
  const onDrained = () => {
    if (workers.every((w) => w.drained)) exit('all connections closed');
  };
  let identity: IdentityClient | undefined;
  let adminUp = false;
  let exited = false;
  const exit = (why: string) => {
    if (exited) return;
    exited = true;
    if (graceTimer) clearTimeout(graceTimer);
    identity?.close();
    tapServer?.close();
    log.info('shutdown complete', { reason: why });
    Promise.all(workers.map((w) => w.stop())).finally(() => {
      admin?.close();
      admin?.closeAllConnections();
      finish();
    });
  };

  if (config.workers === 1) workers.push(new InProcessLane(config, () => onDrained(), tapSink));
  else for (let i = 0; i < config.workers; i++) workers.push(new WorkerHandle(i, config, log, onExit, onDrained, hooks.onWorker, tapSink, () => openTaps.values()));
  try {
    await Promise.all(workers.map((w) => w.start()));
    workersUp = true;
  } catch (err) {
    await Promise.all(workers.map((w) => w.stop()));
    throw err;
  }

  if (config.identity) {
    // Certify in the main thread (one key, one certificate for the whole proxy) and hand the
    // material to every worker; /ready waits for the first certificate.
    // Loaded only when configured: gRPC and the X.509 stack are most of an idle proxy's memory.
    const { createIdentityClient } = require('../identity') as typeof import('../identity');
    identity = createIdentityClient({ ...config.identity, registry: own, log: log.child('identity') });
    identity.on('rotated', (m: IdentityMaterial) => {
      const msg: ToWorker = {
        type: 'identity',
        material: { localName: m.localName, keyPem: m.keyPem, certChainPem: m.certChainPem, trustAnchorsPem: m.trustAnchorsPem, notAfter: m.notAfter.getTime() },
      };
      for (const w of workers) {
        w.identityMsg = msg;
        w.send(msg);
      }
      tapServer?.setIdentity(msg.material).catch((err: unknown) => {
        log.error('tap server could not start; the proxy serves traffic without tap', { error: err instanceof LinnetError ? err.describe() : String(err) });
      });
      if (adminUp && !shuttingDown && !ready) {
        ready = true;
        log.info('proxy ready: certificate in hand', { identity: m.localName });
      }
    });
  }

  const shutdown = (reason: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    ready = false;
    log.info('draining: no new connections, open ones may finish', { reason, grace: `${config.shutdownGraceMs}ms` });
    // The timer first: an in-process lane with nothing open drains synchronously, and exit()
    // must find the timer to clear it.
    graceTimer = setTimeout(() => {
      log.warn('grace period over; closing remaining connections');
      for (const w of workers) w.send({ type: 'terminate' });
      setTimeout(() => exit('grace period over'), 200);
    }, config.shutdownGraceMs);
    for (const w of workers) {
      if (w.respawnTimer) clearTimeout(w.respawnTimer);
      if (!w.alive) w.drained = true;
      w.send({ type: 'drain' });
    }
    onDrained(); // every worker may be gone already
  };

  try {
    admin = await startAdmin(
      config.adminAddr,
      {
        ready: () => ready,
        metrics: async () => {
          const id = nextMetricsId++;
          const parts = await Promise.all(workers.map((w) => w.metrics(id)));
          return mergedExposition(
            parts.flatMap((p) => (p ? [p.metrics] : [])),
            own,
          );
        },
        latency: async (buckets) => {
          const id = nextMetricsId++;
          const parts = await Promise.all(workers.map((w) => w.metrics(id)));
          const snaps = parts.flatMap((p) => (p ? [p.latency] : []));
          return buckets ? mergeLatencyBuckets(snaps) : mergeLatency(snaps);
        },
        shutdownEnabled: config.shutdownEndpointEnabled,
        shutdown: () => shutdown('POST /shutdown'),
      },
      log.child('admin'),
    );
  } catch (err) {
    await Promise.all(workers.map((w) => w.stop()));
    const e = err as NodeJS.ErrnoException;
    throw new LinnetError('LINNET_LISTEN_FAILED', `admin server could not listen on ${config.adminAddr.host}:${config.adminAddr.port}: ${e.code ?? e.message}`, {
      hint: 'free the port or set LINNET_PROXY_ADMIN_LISTEN_ADDR',
    });
  }

  adminUp = true;
  ready = !identity || identity.current() !== undefined;
  log.info(ready ? 'proxy ready' : 'proxy serving; not ready until certified', {
    inbound: `${config.inboundAddr.host}:${config.inboundAddr.port}`,
    outbound: `${config.outboundAddr.host}:${config.outboundAddr.port}`,
    admin: `${config.adminAddr.host}:${config.adminAddr.port}`,
    workers: config.workers,
  });
  return { done, shutdown };
}
