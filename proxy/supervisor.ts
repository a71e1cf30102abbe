/**
 * The proxy's main thread: starts the worker threads that carry traffic, serves the admin
 * endpoints, merges the workers' metrics, and runs the shutdown sequence (SIGTERM, SIGINT or
 * POST /shutdown): stop accepting, let open connections finish within the grace period, then
 * close what is left and exit.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startAdmin } from './admin/server';
import type { ProxyConfig } from './config';
import { LinnetError } from './errors';
import { createLogger, type Logger } from './log';
import { mergeLatency } from './metrics/http-metrics';
import { mergedExposition } from './metrics/merge';
import type { FromWorker, MetricsJson, ToWorker } from './worker-messages';
import type { IdentityClient, IdentityMaterial } from './identity';

const METRICS_TIMEOUT_MS = 2000;
const RESPAWN_DELAY_MS = 1000;

class WorkerHandle {
  worker!: Worker;
  private pending = new Map<number, (m: { metrics: MetricsJson; latency: Record<string, string> }) => void>();
  drained = false;
  /** The latest identity message, posted again to a replacement thread. */
  identityMsg: ToWorker | undefined;

  constructor(
    private readonly config: ProxyConfig,
    private readonly log: Logger,
    private readonly onExit: (h: WorkerHandle, code: number) => void,
    private readonly onDrained: () => void,
  ) {}

  /** Starts the thread; resolves once both listeners are bound, rejects with the worker's error. */
  start(): Promise<void> {
    this.worker = new Worker(join(__dirname, 'worker.js'), { workerData: this.config });
    if (this.identityMsg) this.worker.postMessage(this.identityMsg);
    return new Promise((resolve, reject) => {
      let started = false;
      this.worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'listening':
            started = true;
            resolve();
            break;
          case 'start-failed':
            reject(new LinnetError(m.code, m.message, { hint: m.hint }));
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
        }
      });
      this.worker.on('error', (err) => {
        this.log.error('worker thread failed', { thread: this.worker.threadId, error: err.stack ?? String(err) });
        if (!started) reject(err);
      });
      this.worker.on('exit', (code) => {
        if (!started) reject(new LinnetError('LINNET_WORKER_EXITED', `worker exited with code ${code} before listening`));
        this.onExit(this, code);
      });
    });
  }

  send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  metrics(id: number): Promise<{ metrics: MetricsJson; latency: Record<string, string> } | undefined> {
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

export interface RunningProxy {
  /** Resolves when the proxy has shut down. */
  done: Promise<void>;
  shutdown(reason: string): void;
}

export async function startProxy(config: ProxyConfig): Promise<RunningProxy> {
  const log = createLogger(config.log, 'proxy');
  const own = new Registry();
  collectDefaultMetrics({ register: own });

  let shuttingDown = false;
  let ready = false;
  let nextMetricsId = 1;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  let admin: Server | undefined;

  const workers: WorkerHandle[] = [];
  const onExit = (h: WorkerHandle, code: number) => {
    if (shuttingDown || !ready) return;
    // A worker died under traffic: its connections are lost, but the listeners of the others keep
    // serving; start a replacement so capacity comes back.
    log.error('worker thread exited unexpectedly; starting a replacement', { code });
    setTimeout(() => {
      if (shuttingDown) return;
      h.start().catch((err) => log.error('replacement worker failed to start', { error: String(err) }));
    }, RESPAWN_DELAY_MS);
  };
  let graceTimer: NodeJS.Timeout | undefined;
  const onDrained = () => {
    if (workers.every((w) => w.drained)) exit('all connections closed');
  };
  let identity: IdentityClient | undefined;
  let adminUp = false;
  const exit = (why: string) => {
    if (graceTimer) clearTimeout(graceTimer);
    identity?.close();
    log.info('shutdown complete', { reason: why });
    Promise.all(workers.map((w) => w.worker.terminate())).finally(() => {
      admin?.close();
      admin?.closeAllConnections();
      finish();
    });
  };

  for (let i = 0; i < config.workers; i++) workers.push(new WorkerHandle(config, log, onExit, onDrained));
  try {
    await Promise.all(workers.map((w) => w.start()));
  } catch (err) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw err;
  }

  if (config.identity) {
    // Certify in the main thread (one key, one certificate for the whole proxy) and hand the
    // material to every worker; /ready waits for the first certificate.
    // Loaded only when configured: gRPC and the X.509 stack are most of an idle proxy's memory.
    const { createIdentityClient } = require('./identity') as typeof import('./identity');
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
    for (const w of workers) w.send({ type: 'drain' });
    graceTimer = setTimeout(() => {
      log.warn('grace period over; closing remaining connections');
      for (const w of workers) w.send({ type: 'terminate' });
      setTimeout(() => exit('grace period over'), 200);
    }, config.shutdownGraceMs);
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
        latency: async () => {
          const id = nextMetricsId++;
          const parts = await Promise.all(workers.map((w) => w.metrics(id)));
          return mergeLatency(parts.flatMap((p) => (p ? [p.latency] : [])));
        },
        shutdownEnabled: config.shutdownEndpointEnabled,
        shutdown: () => shutdown('POST /shutdown'),
      },
      log.child('admin'),
    );
  } catch (err) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
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
