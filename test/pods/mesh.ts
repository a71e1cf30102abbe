/**
 * The usual end-to-end fixture: a cluster with a client pod and a server pod, each with `linnet
 * init` applied and a proxy running, plus helpers to run the tcp test app and to wait on metrics.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from '../../control/local/pods/cluster';
import type { PodProcess } from '../../control/local/pods/exec';
import { APP_UID, type InitOptions, type Pod } from '../../control/local/pods/pod';
import type { ConnReport } from './tcp-app';

export const TCP_APP = join(__dirname, 'tcp-app.js');

export interface MeshOptions {
  clientInit?: InitOptions;
  serverInit?: InitOptions;
  clientEnv?: Record<string, string>;
  serverEnv?: Record<string, string>;
  onStep?: (step: string) => void;
}

export interface Mesh {
  cluster: Cluster;
  client: Pod;
  server: Pod;
}

export async function createMesh(opts: MeshOptions = {}): Promise<Mesh> {
  const step = opts.onStep ?? (() => {});
  const cluster = await Cluster.create({ onStep: step });
  try {
    step('creating pods');
    const client = await cluster.addPod('client');
    const server = await cluster.addPod('server');
    step('applying iptables (linnet init)');
    await Promise.all([client.init(opts.clientInit), server.init(opts.serverInit)]);
    step('starting proxies');
    await Promise.all([client.startProxy(opts.clientEnv), server.startProxy(opts.serverEnv)]);
    step('ready');
    return { cluster, client, server };
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
}

/** Starts the tcp app's server in `pod` (as the app uid) and waits until it listens. */
export async function serveTcp(pod: Pod, port: number, args: string[] = [], host = '0.0.0.0'): Promise<PodProcess> {
  const p = pod.spawn(process.execPath, [TCP_APP, 'serve', '--host', host, '--port', String(port), ...args], { uid: APP_UID, name: `tcp-serve-${port}` });
  await p.waitForEvent((e) => e.event === 'listening');
  return p;
}

export interface ConnectResult {
  code: number | null;
  reports: ConnReport[];
  stdout: string;
  stderr: string;
}

/** Runs the tcp app's client in `pod` to completion; returns its per-connection reports. */
export async function connectTcp(pod: Pod, to: string, args: string[] = [], timeoutMs = 60_000): Promise<ConnectResult> {
  const r = await pod.run(process.execPath, [TCP_APP, 'connect', '--to', to, ...args], { uid: APP_UID, timeoutMs });
  const reports = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ConnReport & { event: string })
    .filter((e) => e.event === 'done');
  return { code: r.code, reports, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Polls `probe` until it returns without throwing (assertions inside it), or rethrows its last
 * error after `timeoutMs`: metrics of a closing connection land a moment after the app is done.
 */
export async function eventually<T>(probe: () => Promise<T> | T, timeoutMs = 5000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(everyMs);
    }
  }
}
