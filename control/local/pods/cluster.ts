/**
 * A test "cluster": one network namespace acting as the node, holding a Linux bridge, and pods as
 * namespaces wired to that bridge by veth pairs. The root namespace is never touched: every `ip`
 * call runs inside our own namespaces (`ip -n`), so parallel runs cannot collide.
 *
 *   const cluster = await Cluster.create();
 *   const a = await cluster.addPod('client');   // 10.x.y.10
 *   const b = await cluster.addPod('server');   // 10.x.y.11
 *   ...
 *   await cluster.destroy();                    // from after(); also kills every process
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodError } from './errors';
import { run, runOk } from './exec';
import { bridgeAddress, hostVethName, isValidPodName, namespaceName, newClusterId, ownerPid, podAddress, randomSubnet, type Subnet } from './naming';
import { Pod, REPO_ROOT } from './pod';
import { prepareRuntime, type Runtime } from './stage';

export const LOG_ROOT = join(tmpdir(), 'linnet-pods');

/**
 * Namespaces of clusters not yet destroyed. If the process exits without destroy() (a test file
 * that forgot after(), an uncaught exception), the exit hook still removes them, synchronously.
 * A process killed by a signal cannot run it: the sweeper covers that case on the next run.
 */
const undestroyed = new Set<string[]>();
process.once('exit', () => {
  for (const namespaces of undestroyed) {
    for (const ns of [...namespaces].reverse()) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
  }
});

export interface ClusterOptions {
  /** Print setup steps (the demo uses this for its progress line). */
  onStep?: (step: string) => void;
}

export class Cluster {
  readonly nodeNs: string;
  readonly bridgeIp: string;
  readonly logDir: string;
  private readonly pods = new Map<string, Pod>();
  private readonly namespaces: string[] = [];
  private destroyed = false;

  private constructor(
    readonly id: string,
    readonly subnet: Subnet,
    /** Where commands run as another uid (the proxy, the apps) find the runtime (stage.ts). */
    readonly runtime: Runtime,
  ) {
    this.nodeNs = namespaceName(id, 'node');
    this.bridgeIp = bridgeAddress(subnet);
    this.logDir = join(LOG_ROOT, id);
    undestroyed.add(this.namespaces);
  }

  static async create(opts: ClusterOptions = {}): Promise<Cluster> {
    await sweepStale();
    const runtime = prepareRuntime(REPO_ROOT, opts.onStep);
    const cluster = new Cluster(newClusterId(), randomSubnet(), runtime);
    mkdirSync(cluster.logDir, { recursive: true });
    opts.onStep?.(`creating node namespace ${cluster.nodeNs}`);
    try {
      await cluster.addNamespace(cluster.nodeNs);
      const n = ['ip', '-n', cluster.nodeNs];
      await runOk([...n, 'link', 'set', 'lo', 'up']);
      await runOk([...n, 'link', 'add', 'br0', 'type', 'bridge']);
      await runOk([...n, 'addr', 'add', `${cluster.bridgeIp}/24`, 'dev', 'br0']);
      await runOk([...n, 'link', 'set', 'br0', 'up']);
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  get podList(): Pod[] {
    return [...this.pods.values()];
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new PodError('LINNET_POD_BAD_NAME', `no pod ${name} in cluster ${this.id}`, `pods: ${[...this.pods.keys()].join(', ')}`);
    return p;
  }

  /** A pod: its namespace, a veth into the bridge, the next address, lo up, default route. */
  async addPod(name: string): Promise<Pod> {
    if (!isValidPodName(name) || this.pods.has(name)) {
      throw new PodError('LINNET_POD_BAD_NAME', `bad or duplicate pod name ${JSON.stringify(name)}`, 'use a short, unique, lowercase word (not "node")');
    }
    const index = this.pods.size;
    const ns = namespaceName(this.id, name);
    const ip = podAddress(this.subnet, index);
    await this.addNamespace(ns);
    const veth = hostVethName(index);
    const node = ['ip', '-n', this.nodeNs];
    const pod = ['ip', '-n', ns];
    await runOk([...node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await runOk([...node, 'link', 'set', veth, 'master', 'br0', 'up']);
    await runOk([...pod, 'link', 'set', 'lo', 'up']);
    await runOk([...pod, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await runOk([...pod, 'link', 'set', 'eth0', 'up']);
    await runOk([...pod, 'route', 'add', 'default', 'via', this.bridgeIp]);
    const p = new Pod(this, name, ns, ip);
    this.pods.set(name, p);
    return p;
  }

  /** Tails of every pod's proxy log (and of other processes when `all`), for a failed test. */
  logTails(lines = 40, all = false): string {
    const parts: string[] = [];
    for (const p of this.pods.values()) {
      for (const proc of p.processes) {
        if (!all && proc !== p.proxy) continue;
        parts.push(`----- ${p.name}/${proc.name} (${proc.logFile}) -----\n${proc.logTail(lines)}`);
      }
    }
    return parts.join('\n');
  }

  /** Kills every process we started, deletes every namespace. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.pods.values()].map((p) => p.stopAll()));
    for (const ns of [...this.namespaces].reverse()) await deleteNamespace(ns);
    undestroyed.delete(this.namespaces);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  private async addNamespace(ns: string): Promise<void> {
    this.namespaces.push(ns); // recorded first, so a half-made namespace is still torn down
    await runOk(['ip', 'netns', 'add', ns]);
  }
}

/** Kills what still runs inside `ns` (only our namespaces reach here), then deletes it. */
async function deleteNamespace(ns: string): Promise<void> {
  const pids = await run(['ip', 'netns', 'pids', ns]);
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await run(['ip', 'netns', 'del', ns]);
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/**
 * Removes namespaces (and log dirs) of clusters whose creating process is gone: what a crashed
 * earlier run left. A live parallel run's clusters have a live owner pid and are left alone.
 */
export async function sweepStale(): Promise<string[]> {
  const list = await run(['ip', 'netns', 'list']);
  const stale: string[] = [];
  for (const line of list.stdout.split('\n')) {
    const ns = line.split(' ')[0];
    if (!ns) continue;
    const owner = ownerPid(ns);
    if (owner !== undefined && !alive(owner)) stale.push(ns);
  }
  // Pods before nodes: nothing depends on it, but it mirrors creation order.
  stale.sort((a, b) => Number(a.endsWith('-node')) - Number(b.endsWith('-node')));
  for (const ns of stale) await deleteNamespace(ns);
  if (existsSync(LOG_ROOT)) {
    for (const dir of readdirSync(LOG_ROOT)) {
      const owner = ownerPid(`${dir}-node`);
      if (owner !== undefined && !alive(owner)) rmSync(join(LOG_ROOT, dir), { recursive: true, force: true });
    }
  }
  return stale;
}
