/**
 * One pod: a network namespace with an address on the cluster bridge. Runs `linnet init` and
 * `linnet proxy` inside it the way a Kubernetes pod would (init step, then the proxy as uid 2102),
 * and runs apps beside them as other uids, so their traffic is redirected through the proxy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminRequest, type AdminResponse } from './admin-client';
import { PodError } from './errors';
import { PodProcess, run, runOk, type RunOptions, type RunResult } from './exec';
import { parsePromText, type Sample } from './prom-text';
import { remapPath, type Runtime } from './stage';
import { proxyNodeOptions } from '../../../core/proxy-node-options';

/** The package root (the folder holding dist/), from dist/control/local/pods/. */
export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
export const LINNET_BIN = join(REPO_ROOT, 'bin', 'linnet');
export const PROXY_UID = 2102;
/** Apps run as this uid by default: not root (as in a real pod) and above all not PROXY_UID. */
export const APP_UID = 1000;

export interface InitOptions {
  inboundPortsToIgnore?: number[];
  outboundPortsToIgnore?: number[];
  mode?: 'nft' | 'legacy';
  extraArgs?: string[];
}

export interface ExecOptions {
  /** Run as this uid (and gid); undefined = root. PROXY_UID is refused: it would bypass the proxy. */
  uid?: number;
  env?: Record<string, string>;
}

export class Pod {
  readonly processes: PodProcess[] = [];
  proxy: PodProcess | undefined;
  private adminPort = 4191;
  private adminBridge: PodProcess | undefined;
  private seq = 0;

  constructor(
    /** Where the cluster keeps its logs and sockets, and where other uids find the runtime. */
    readonly cluster: { readonly logDir: string; readonly runtime: Runtime },
    readonly name: string,
    readonly ns: string,
    readonly ip: string,
  ) {}

  /** `linnet init` inside the pod, with linkerd2-proxy-init's flags. */
  async init(opts: InitOptions = {}): Promise<RunResult> {
    const inbound = [...new Set([4190, 4191, ...(opts.inboundPortsToIgnore ?? [])])];
    const args = [
      'init',
      '--incoming-proxy-port', '4143',
      '--outgoing-proxy-port', '4140',
      '--proxy-uid', String(PROXY_UID),
      '--inbound-ports-to-ignore', inbound.join(','),
      '--iptables-mode', opts.mode ?? 'nft',
    ];
    if (opts.outboundPortsToIgnore?.length) args.push('--outbound-ports-to-ignore', opts.outboundPortsToIgnore.join(','));
    args.push(...(opts.extraArgs ?? []));
    return runOk(this.argv([process.execPath, LINNET_BIN, ...args]), { timeoutMs: 30_000 });
  }

  /** Starts `linnet proxy` as uid 2102 with `env` (LINNET_PROXY_*) and waits for GET /ready. */
  async startProxy(env: Record<string, string> = {}, readyTimeoutMs = 20_000): Promise<PodProcess> {
    this.launchProxy(env);
    await this.waitReady(readyTimeoutMs);
    return this.proxy!;
  }

  /** Starts `linnet proxy` as uid 2102 and returns at once, as the kubelet starts a container. */
  launchProxy(env: Record<string, string> = {}): PodProcess {
    if (this.proxy?.running) throw new PodError('LINNET_POD_COMMAND_FAILED', `pod ${this.name} already runs a proxy`, 'stop it first');
    const admin = env.LINNET_PROXY_ADMIN_LISTEN_ADDR;
    this.adminPort = admin ? Number(admin.slice(admin.lastIndexOf(':') + 1)) : 4191;
    // The proxy's Node options as the image sets them (core/proxy-node-options.ts).
    const proxyEnv: Record<string, string> = { LINNET_PROXY_LOG: 'info', ...env, NODE_OPTIONS: proxyNodeOptions(env.NODE_OPTIONS) };
    this.proxy = this.spawnAs(PROXY_UID, 'proxy', process.execPath, [LINNET_BIN, 'proxy'], proxyEnv);
    return this.proxy;
  }

  async waitReady(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.proxy?.running) {
        throw new PodError('LINNET_POD_PROXY_EXITED', `proxy in pod ${this.name} exited before it was ready`, `its log:\n${this.proxy?.logTail(30)}`);
      }
      try {
        const r = await this.admin('GET', '/ready', 1000);
        if (r.status === 200) return;
        last = `status ${r.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(100);
    }
    throw new PodError('LINNET_POD_PROXY_NOT_READY', `proxy in pod ${this.name} not ready after ${timeoutMs}ms (${last})`, `its log:\n${this.proxy?.logTail(30)}`);
  }

  /** Sends `sig` to the proxy; with `wait`, resolves once it has exited. */
  async stopProxy(sig: NodeJS.Signals = 'SIGTERM', waitMs = 30_000): Promise<void> {
    if (!this.proxy) return;
    this.proxy.signal(sig);
    await this.proxy.wait(waitMs);
  }

  /** Runs a command to completion inside the pod (as root unless `uid`). */
  async run(cmd: string, args: readonly string[] = [], opts: ExecOptions & RunOptions = {}): Promise<RunResult> {
    this.refuseProxyUid(opts.uid);
    return run(this.argv([cmd, ...args], opts.uid), { ...opts, env: this.env(opts.env, opts.uid) });
  }

  /** Like run, but a non-zero exit throws with the command's stderr. */
  async runOk(cmd: string, args: readonly string[] = [], opts: ExecOptions & RunOptions = {}): Promise<RunResult> {
    this.refuseProxyUid(opts.uid);
    return runOk(this.argv([cmd, ...args], opts.uid), { ...opts, env: this.env(opts.env, opts.uid) });
  }

  /** Starts a long-lived app inside the pod; output logged under the cluster's log dir. */
  spawn(cmd: string, args: readonly string[] = [], opts: ExecOptions & { name?: string; stdin?: boolean } = {}): PodProcess {
    this.refuseProxyUid(opts.uid);
    return this.spawnAs(opts.uid, opts.name ?? cmd.split('/').pop()!, cmd, args, opts.env ?? {}, opts.stdin);
  }

  /** A request to the proxy's admin server from inside the pod (see admin-client.ts). */
  async admin(method: string, path: string, timeoutMs = 5000): Promise<AdminResponse> {
    const sock = await this.adminSocket();
    return adminRequest(sock, method, path, timeoutMs);
  }

  /** The proxy's /metrics, parsed. */
  async metrics(): Promise<Sample[]> {
    const r = await this.admin('GET', '/metrics');
    if (r.status !== 200) throw new PodError('LINNET_POD_ADMIN_UNREACHABLE', `GET /metrics in pod ${this.name}: status ${r.status}`, r.body.slice(0, 200));
    return [...parsePromText(r.body).samples];
  }

  /**
   * The proxy's resident set size in bytes (VmRSS, and the peak VmHWM). Worker threads share the
   * process, so this is the whole proxy.
   */
  rss(): { rss: number; peak: number } {
    if (!this.proxy?.running) throw new PodError('LINNET_POD_PROXY_EXITED', `no running proxy in pod ${this.name}`, 'start it with startProxy()');
    const status = readFileSync(`/proc/${this.proxy.pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  }

  /** Stops every process of this pod (apps, proxy, admin bridge). */
  async stopAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop(1000)));
  }

  private async adminSocket(): Promise<string> {
    const sock = join(this.cluster.logDir, `${this.name}-admin-${this.adminPort}.sock`);
    if (this.adminBridge?.running && existsSync(sock)) return sock;
    this.adminBridge = this.spawnAs(undefined, 'admin-bridge', 'socat', [`UNIX-LISTEN:${sock},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${this.adminPort}`], {});
    for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(20);
    if (!existsSync(sock)) throw new PodError('LINNET_POD_ADMIN_UNREACHABLE', `socat in pod ${this.name} did not create ${sock}`, this.adminBridge.logTail(10));
    return sock;
  }

  private spawnAs(uid: number | undefined, name: string, cmd: string, args: readonly string[], env: Record<string, string>, stdin = false): PodProcess {
    const log = join(this.cluster.logDir, `${this.name}-${name}-${++this.seq}.log`);
    const p = new PodProcess(name, this.argv([cmd, ...args], uid), log, this.env(env, uid), stdin);
    this.processes.push(p);
    return p;
  }

  /** A command in the pod's namespace; as another uid, it runs the runtime that uid can read. */
  private argv(cmd: readonly string[], uid?: number): string[] {
    if (uid === undefined) return ['ip', 'netns', 'exec', this.ns, ...cmd];
    return ['ip', 'netns', 'exec', this.ns, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...cmd.map((a) => this.forUid(a))];
  }

  /** The caller's environment minus any LINNET_PROXY_* (a test states its proxy config itself). */
  private env(extra: Record<string, string> = {}, uid?: number): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LINNET_PROXY_')) env[k] = v;
    const mine: Record<string, string> = {};
    for (const [k, v] of Object.entries(extra)) mine[k] = uid === undefined ? v : this.forUid(v);
    return { ...env, HOME: '/tmp', ...mine };
  }

  /** A path into the checkout, moved to where another uid can read it (the same when it can). */
  private forUid(value: string): string {
    return remapPath(value, REPO_ROOT, this.cluster.runtime.root);
  }

  private refuseProxyUid(uid: number | undefined): void {
    if (uid === PROXY_UID) {
      throw new PodError('LINNET_POD_COMMAND_FAILED', `apps must not run as uid ${PROXY_UID}`, 'the init rules exempt that uid, so its traffic would bypass the proxy');
    }
  }
}
