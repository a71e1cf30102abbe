/**
 * A worker thread (LINNET_PROXY_WORKERS above 1): one lane of traffic (lane.ts) driven by
 * messages from the main thread, which asks it for metrics, gives it certificates, and tells it
 * when to drain.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { ProxyConfig } from './config';
import { createLane } from './lane';
import type { FromWorker, ToWorker } from './worker-messages';

function serve(config: ProxyConfig, port: MessagePort): void {
  const send = (m: FromWorker) => port.postMessage(m);
  const lane = createLane(config, undefined, (id, event) => send({ type: 'tap-event', id, event }));
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'metrics':
        lane.metrics().then(
          (r) => send({ type: 'metrics', id: m.id, metrics: r.metrics, latency: r.latency }),
          () => send({ type: 'metrics', id: m.id, metrics: [], latency: {} }),
        );
        break;
      case 'drain':
        lane.drain(() => send({ type: 'drained' }));
        break;
      case 'terminate':
        lane.terminate();
        break;
      case 'identity':
        lane.setIdentity(m.material);
        break;
      case 'tap-open':
        lane.tapOpen(m.spec);
        break;
      case 'tap-close':
        lane.tapClose(m.id);
        break;
    }
  });
  lane.listen().then(
    () => send({ type: 'listening' }),
    (e: { code: string; message: string; hint?: string }) => send({ type: 'start-failed', code: e.code, message: e.message, hint: e.hint }),
  );
}

// The thread's entry: the supervisor starts this file with the configuration as workerData.
if (parentPort) serve(workerData as ProxyConfig, parentPort);
