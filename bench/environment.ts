/**
 * The bench cluster, built with the local mesh runner's pods (control/local/pods): a `load` pod for the load
 * tools and an `app` pod for the apps, Linnet's proxy, nginx and haproxy, with the port plan of
 * topology.ts; the peer mesh's haproxy pair has one haproxy in each. Everything is torn down by
 * destroy(), which the runner calls in `finally`.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_UID, Cluster, LINNET_BIN, type Pod, type PodProcess } from '../control/local/pods';
import { run } from '../control/local/pods';
import { parseOpenFileLimit } from '../proxy/runtime/config/limits';
import { BenchError } from './errors';
import { countEstablished } from './memory';
import { createPeerCertificates, haproxyStat, peerTrafficProblems, tlsProbeProblems, type PeerStats, type TlsProbeReport } from './peer-mesh';
import { parseAppReport, parseH2load } from './parsers';
import { policyCostYaml } from './policy-cost';
import { treeCpuSeconds, treeMemoryNow, treePeakRss, childrenOf, type MemoryNow } from './proc-stats';
import {
  appInboundIgnore, appPorts, haproxyConfig, loadOutboundIgnore, nginxConfig, peerHopPort, peerMeshFiles, peerMeshInboundConfig, peerMeshOutboundConfig,
  port, PEER_IDENTITY, PEER_MESH_PROTOCOLS, PROTOCOLS, type Protocol, type Route,
} from './topology';

export const APPS_DIR = join(__dirname, 'apps');
/** The CPU the load tools run on, and the one the proxy under test runs on (see pinning()). */
export const LOAD_CPU = 0;
export const PROXY_CPU = 1;
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** Whose process tree a target's cost is read from: the `-mesh` kinds are both pods' proxies. */
export type ProxyKind = 'linnet' | 'linnet-mesh' | 'nginx' | 'haproxy' | 'haproxy-mesh';

export class BenchEnv {
  private nginx: PodProcess | undefined;
  private haproxy: PodProcess | undefined;
  /** The peer mesh: the outbound haproxy (load pod) and the inbound one (app pod). */
  private peerOut: PodProcess | undefined;
  private peerIn: PodProcess | undefined;
  /** Why the haproxy pair is not there (it did not start), or undefined when it is. */
  peerMeshFailure: string | undefined;
  /** The TLS probe of the inbound haproxy, per protocol: its problems, once it ran. */
  private readonly peerTlsChecked = new Map<Protocol, string[]>();
  readonly dir: string;
  linnetWorkers = 1;
  /** The extra settings the app pod's Linnet proxy runs with beyond the defaults ('' when none), as K=V,...; see startLinnet. */
  linnetSettings = '';
  /** Why the meshed path is not measured, or undefined when it is (mTLS between the proxies). */
  meshSkipReason: string | undefined = NOT_PROBED;
  readonly nginxHasStream = existsSync(STREAM_MODULE);
  readonly pinned: boolean;

  private constructor(
    readonly cluster: Cluster,
    readonly load: Pod,
    readonly app: Pod,
    private readonly extraProxyEnv: Record<string, string>,
  ) {
    this.dir = join(cluster.logDir, 'bench');
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    // A gRPC message frame (uncompressed, 64 bytes) for h2load's gRPC unary calls.
    const frame = Buffer.alloc(5 + 64, 'g');
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(64, 1);
    writeFileSync(join(this.dir, 'grpc-unary-64.bin'), frame, { mode: 0o644 });
    // wrk uploads: every request a POST of 1 MiB.
    writeFileSync(join(this.dir, 'post-1mib.lua'), 'wrk.method = "POST"\nwrk.body = string.rep("u", 1048576)\nwrk.headers["Content-Type"] = "application/octet-stream"\n', { mode: 0o644 });
    this.pinned = cpuCount() >= 2;
  }

  /** `proxyEnv`: extra variables for Linnet's proxies only (--proxy-env). */
  static async create(step: (s: string) => void, proxyEnv: Record<string, string> = {}): Promise<BenchEnv> {
    const cluster = await Cluster.create({ onStep: step });
    try {
      step('creating pods');
      const load = await cluster.addPod('load');
      const app = await cluster.addPod('app');
      const control = await cluster.addPod('control');
      step('applying iptables (linnet init)');
      await Promise.all([load.init({ outboundPortsToIgnore: loadOutboundIgnore() }), app.init({ inboundPortsToIgnore: appInboundIgnore() })]);
      const env = new BenchEnv(cluster, load, app, proxyEnv);
      step('starting apps');
      await env.startApps();
      step('starting nginx and haproxy');
      await env.startBaselineProxies();
      step('starting the peer mesh baseline (a haproxy in each pod, mTLS between them)');
      await env.startPeerMesh();
      step('starting the control plane (identity, destination) for the meshed path');
      await env.startControl(control);
      step('starting linnet proxies');
      await env.startLinnet(1);
      await env.startLoadProxy();
      return env;
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
  }

  /**
   * The meshed path needs both proxies certified and the outbound one told (by discovery) the
   * app's identity. Failure here does not stop the bench: the meshed target is then skipped with
   * the reason.
   */
  private async startControl(control: Pod): Promise<void> {
    try {
      const mesh = join(this.dir, 'mesh');
      mkdirSync(mesh, { recursive: true, mode: 0o755 });
      chmodSync(mesh, 0o755);
      await run([process.execPath, LINNET_BIN, 'identity', 'create', '--out', join(mesh, 'ca')], { timeoutMs: 30_000 }).then((r) => {
        if (r.code !== 0) throw new Error(`linnet identity create: ${r.stderr.trim()}`);
      });
      chmodSync(join(mesh, 'ca'), 0o755);
      chmodSync(join(mesh, 'ca', 'ca.crt'), 0o644);
      for (const w of ['load', 'app', 'tap']) writeFileSync(join(mesh, `${w}.token`), `${w}-bench-token\n`, { mode: 0o644 });
      writeFileSync(join(mesh, 'mesh.yaml'), meshFile(this.app.ip));
      mkdirSync(join(mesh, 'policy'), { recursive: true, mode: 0o755 });
      writeFileSync(join(mesh, 'policy', 'routes.yaml'), benchRoutes());
      writeFileSync(join(mesh, 'policy', 'inbound-cost.yaml'), policyCostYaml(this.load.ip));
      control.spawn(process.execPath, [
        LINNET_BIN, 'control', '--discovery-file', join(mesh, 'mesh.yaml'), '--identity-dir', join(mesh, 'ca'), '--policy-dir', join(mesh, 'policy'),
        '--destination-addr', `${control.ip}:8086`, '--identity-addr', `${control.ip}:8080`, '--policy-addr', `${control.ip}:8090`,
        // No viz scraper reading the proxies' /metrics every 2 s while they are measured.
        '--viz-addr', 'off',
      ], { name: 'control' });
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = await control.run('ss', ['-Hltn']);
        if (/:8086\s/.test(r.stdout) && /:8080\s/.test(r.stdout)) break;
        if (Date.now() > deadline) throw new Error('linnet control is not listening on 8080 and 8086');
        await sleep(100);
      }
      this.meshEnv = (w) => ({
        LINNET_PROXY_IDENTITY_SVC_ADDR: `${control.ip}:8080`,
        LINNET_PROXY_IDENTITY_LOCAL_NAME: identityOf(w),
        LINNET_PROXY_IDENTITY_TOKEN_FILE: join(mesh, `${w}.token`),
        LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: join(mesh, 'ca', 'ca.crt'),
        LINNET_PROXY_DESTINATION_SVC_ADDR: `${control.ip}:8086`,
        // The load pod's outbound proxy watches OutboundPolicies (the routes scenario); the app's does not.
        ...(w === 'load' ? { LINNET_PROXY_POLICY_SVC_ADDR: `${control.ip}:8090`, LINNET_PROXY_POLICY_WORKLOAD: this.load.ip } : {}),
      });
      this.control = control;
      this.meshDir = mesh;
    } catch (err) {
      this.meshSkipReason = `${MESH_REASON}: the control plane did not start (${(err as Error).message})`;
    }
  }

  private meshEnv: ((w: 'load' | 'app') => Record<string, string>) | undefined;
  private control: Pod | undefined;
  private meshDir: string | undefined;
  private tapReader: PodProcess | undefined;

  /** Why linnet-tap cannot be measured (tap needs the app proxy's identity), or undefined. */
  get tapSkipReason(): string | undefined {
    return this.meshEnv && this.control ? undefined : `${MESH_REASON}: tap is served over mTLS with the proxy's certificate`;
  }

  /**
   * The app proxy's settings for the tap scenario: tap served (only there, so every other
   * scenario's proxy is as before), the rate cap raised so that a tap can take every request.
   */
  tapSettings(): Record<string, string> {
    return this.tapSkipReason ? {} : { LINNET_PROXY_TAP_SVC_NAME: identityOf('tap'), LINNET_PROXY_TAP_MAX_RPS: '100000' };
  }

  /** Why linnet-policy cannot be measured (no control plane to serve the policy), or undefined. */
  get policySkipReason(): string | undefined {
    return this.control ? undefined : 'needs the control plane (linnet control --policy-dir), which did not start';
  }

  /**
   * The app proxy's settings for the policy scenario: it watches its inbound policy (only there,
   * so every other scenario's proxy pays nothing for policy), both measured ports asked for at start.
   */
  policySettings(): Record<string, string> {
    if (this.policySkipReason) return {};
    return {
      LINNET_PROXY_POLICY_SVC_ADDR: `${this.control!.ip}:8090`,
      LINNET_PROXY_POLICY_WORKLOAD: this.app.ip,
      LINNET_PROXY_INBOUND_PORTS: `${port('linnet', 'http1')},${port('policy', 'http1')}`,
    };
  }

  /** Opens a tap on all of the app proxy's traffic, read in the control pod; resolves once it is open. */
  async openTap(): Promise<void> {
    if (this.tapReader?.running) return;
    const control = this.control!;
    const mesh = this.meshDir!;
    this.tapReader = control.spawn(process.execPath, [
      join(APPS_DIR, 'tap-reader.js'),
      '--identity-addr', `${control.ip}:8080`,
      '--identity', identityOf('tap'),
      '--token-file', join(mesh, 'tap.token'),
      '--anchors', join(mesh, 'ca', 'ca.crt'),
      '--addr', `${this.app.ip}:4190`,
      '--proxy-identity', identityOf('app'),
    ], { name: 'tap-reader' });
    // With the load tools, off the proxy's core: the reader's decoding is not the proxy's cost.
    if (this.pinned) await pin(this.tapReader.pid, String(LOAD_CPU));
    await this.tapReader.waitForEvent((e) => e.event === 'open' || e.event === 'error', 20_000);
    const failed = this.tapReader.events<{ event: string; message?: string }>().find((e) => e.event === 'error');
    if (failed) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `the tap reader could not open a tap: ${failed.message}`, 'see the app proxy log');
  }

  /** Closes the tap; returns the events and requests its reader took. */
  async closeTap(): Promise<{ events: number; requests: number } | undefined> {
    const r = this.tapReader;
    this.tapReader = undefined;
    if (!r?.running) return undefined;
    r.signal('SIGTERM');
    await r.waitForEvent((e) => e.event === 'done' || e.event === 'error', 10_000).catch(() => undefined);
    await r.stop();
    const done = r.events<{ event: string; events?: number; requests?: number }>().find((e) => e.event === 'done');
    return done ? { events: done.events ?? 0, requests: done.requests ?? 0 } : undefined;
  }

  /** Starts a pod's proxy with identity when the control plane runs; without, when that fails. */
  private async startMeshable(pod: Pod, who: 'load' | 'app', workers: number, settings: Record<string, string> = {}): Promise<void> {
    if (this.meshEnv) {
      try {
        await pod.startProxy({ ...proxyEnv(workers), ...this.extraProxyEnv, ...settings, ...this.meshEnv(who) });
        return;
      } catch (err) {
        this.meshEnv = undefined;
        this.meshSkipReason = `${MESH_REASON}: the proxy did not start with LINNET_PROXY_IDENTITY_* (${(err as Error).message.split('\n')[0]})`;
        if (pod.proxy?.running) await pod.stopProxy('SIGKILL', 10_000);
        // The other pod's proxy may be certified already; that does not matter for the other paths.
      }
    }
    await pod.startProxy({ ...proxyEnv(workers), ...this.extraProxyEnv, ...settings });
  }

  private async startLoadProxy(): Promise<void> {
    await this.startMeshable(this.load, 'load', 1);
    if (this.pinned) await pin(this.load.proxy!.pid, String(PROXY_CPU));
  }

  async destroy(): Promise<void> {
    await this.cluster.destroy();
  }

  get appIp(): string {
    return this.app.ip;
  }

  /**
   * Where a load tool sends a path's traffic: the app pod's port, or for the peer mesh its
   * outbound haproxy on 127.0.0.1 in the load pod (the app's own sidecar).
   */
  address(route: Route, proto: Protocol): string {
    if (route === 'hamesh') return `127.0.0.1:${port(route, proto)}`;
    if (route === 'routes') return `${serviceVip(proto)}:${port(route, proto)}`;
    return `${this.app.ip}:${port(route, proto)}`;
  }

  /**
   * The address a path's traffic crosses into the app pod with, as Linnet's proxies would label
   * it if they caught it (verifyPaths): for the peer mesh, the inbound haproxy's TLS port.
   */
  crossingAddress(route: Route, proto: Protocol): string {
    if (route === 'hamesh') return `${this.app.ip}:${peerHopPort(proto)}`;
    if (route === 'routes') return `${this.app.ip}:${port(route, proto)}`;
    return this.address(route, proto);
  }

  /**
   * (Re)starts the app pod's Linnet proxy with `workers` threads, pinned as pinning() says;
   * `settings`: LINNET_PROXY_* a scenario needs beyond the defaults (idle-conns: its connection cap).
   */
  async startLinnet(workers: number, settings: Record<string, string> = {}): Promise<void> {
    if (this.app.proxy?.running) await this.app.stopProxy('SIGTERM', 30_000);
    await this.startMeshable(this.app, 'app', workers, settings);
    this.linnetWorkers = workers;
    this.linnetSettings = settingsText(settings);
    // One worker: its own core, away from the load tools. More: all cores, or they would share one.
    if (this.pinned) await pin(this.app.proxy!.pid, workers === 1 ? String(PROXY_CPU) : `0-${cpuCount() - 1}`);
  }

  /** The pids of the proxy processes (trees) measured for a route: two for a meshed path. */
  proxyPids(kind: ProxyKind): (number | undefined)[] {
    switch (kind) {
      case 'linnet':
        return [this.app.proxy?.pid];
      case 'linnet-mesh':
        return [this.app.proxy?.pid, this.load.proxy?.pid];
      case 'nginx':
        return [this.nginx?.pid];
      case 'haproxy':
        return [this.haproxy?.pid];
      case 'haproxy-mesh':
        return [this.peerIn?.pid, this.peerOut?.pid];
    }
  }

  /** CPU seconds so far; for a meshed path, of the two proxies together. */
  cpuSeconds(kind: ProxyKind): number {
    return this.proxyPids(kind).reduce<number>((n, pid) => n + (pid === undefined ? NaN : treeCpuSeconds(pid)), 0);
  }

  /** Peak RSS; for a meshed path, of the two proxies together. */
  peakRss(kind: ProxyKind): number {
    return this.proxyPids(kind).reduce<number>((n, pid) => n + (pid === undefined ? NaN : treePeakRss(pid)), 0);
  }

  /** Memory held now (RSS, PSS, private); for a meshed path, of the two proxies together. */
  memoryNow(kind: ProxyKind): MemoryNow {
    const total = { rss: 0, pss: 0, private: 0 };
    for (const pid of this.proxyPids(kind)) {
      const m = pid === undefined ? { rss: NaN, pss: NaN, private: NaN } : treeMemoryNow(pid);
      total.rss += m.rss;
      total.pss += m.pss;
      total.private += m.private;
    }
    return total;
  }

  /**
   * Connections Linnet's proxies accepted for `address` (the app pod's inbound side and the load
   * pod's outbound side, src): the check that a path really crossed the proxy, or (for direct and
   * the baselines, the peer mesh included) really did not.
   */
  async proxiedConnections(address: string): Promise<number> {
    const count = (samples: { name: string; labels: Record<string, string>; value: number }[], direction: string) =>
      samples.filter((x) => x.name === 'tcp_open_total' && x.labels.direction === direction && x.labels.peer === 'src' && x.labels.target_addr === address).reduce((n, x) => n + x.value, 0);
    const [app, load] = await Promise.all([this.app.metrics(), this.load.metrics()]);
    return count(app, 'inbound') + count(load, 'outbound');
  }

  /** argv prefix that pins a load tool to its core. */
  loadPrefix(): string[] {
    return this.pinned ? ['taskset', '-c', String(LOAD_CPU)] : [];
  }

  pinningText(): string {
    if (!this.pinned) return 'none (fewer than 2 CPUs)';
    return `load tools on CPU ${LOAD_CPU} (taskset -c ${LOAD_CPU}); the proxy under test on CPU ${PROXY_CPU} (taskset -a -p: every thread, so Linnet's worker and main threads, nginx's master and worker, haproxy) — except Linnet with 2 workers, which may use every CPU; a meshed path's two proxies share that one core: Linnet's outbound and inbound proxies, and the haproxy pair (outbound and inbound, 1 thread each), so the peer mesh gets the same core budget as Linnet's; the apps (Node, redis-server, iperf3 -s) are not pinned. Pinning keeps the load tool from taking the proxy's core; it cannot keep out other work on a shared machine.`;
  }

  /** Runs a load tool in the load pod as the app uid, pinned; returns its output (non-zero exit throws). */
  async runLoad(argv: string[], timeoutMs: number): Promise<string> {
    const full = [...this.loadPrefix(), ...argv];
    const r = await this.load.run(full[0]!, full.slice(1), { uid: APP_UID, timeoutMs });
    if (r.code !== 0) {
      throw new BenchError('LINNET_BENCH_TOOL_FAILED', `${argv[0]} exited ${r.code ?? r.signal}: ${(r.stderr + r.stdout).trim().split('\n').slice(-3).join(' | ')}`, 'see the tool output; is the path up?');
    }
    return r.stdout + r.stderr;
  }

  /**
   * Starts a load tool in the load pod as the app uid, pinned, and leaves it running (its stdin a
   * pipe): for tools the runner talks to while they run (idle-conns).
   */
  spawnLoad(argv: string[], name: string): PodProcess {
    const full = [...this.loadPrefix(), ...argv];
    return this.load.spawn(full[0]!, full.slice(1), { uid: APP_UID, name, stdin: true });
  }

  /**
   * Restarts nginx or haproxy afresh (a new process holds no memory from earlier scenarios), with
   * room for `maxConnections` client connections when given (idle-conns), else the bench's config.
   */
  async restartBaseline(kind: 'nginx' | 'haproxy', maxConnections?: number): Promise<void> {
    const dir = this.dir;
    const old = kind === 'nginx' ? this.nginx : this.haproxy;
    if (old?.running) await old.stop(5000);
    if (kind === 'nginx') {
      writeFileSync(join(dir, 'nginx.conf'), nginxConfig({ dir, streamModule: this.nginxHasStream ? STREAM_MODULE : undefined, maxConnections, fdLimit: hardOpenFileLimit() }));
      this.nginx = this.app.spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { name: 'nginx' });
    } else {
      writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig({ dir, maxConnections, fdLimit: hardOpenFileLimit() }));
      this.haproxy = this.app.spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { name: 'haproxy' });
    }
    const p = kind === 'nginx' ? this.nginx! : this.haproxy!;
    await this.waitListening(this.app, [port(kind, 'http1')], [p]);
    // nginx forks its worker after listening; pin it too.
    if (kind === 'nginx') await this.waitForChild(p.pid);
    if (this.pinned) await pin(p.pid, String(PROXY_CPU), true);
  }

  private async waitForChild(pid: number): Promise<void> {
    for (let i = 0; i < 100 && childrenOf(pid).length === 0; i++) await sleep(20);
  }

  /**
   * Client connections from the load pod that the kernel shows a proxy holding (established, on
   * the port it accepts them on): Linnet's inbound port (iptables redirects the linnet route's
   * ports there), nginx's and haproxy's HTTP/1.1 ports.
   */
  async heldConnections(kind: 'linnet' | 'nginx' | 'haproxy'): Promise<number> {
    const r = await this.app.run('ss', ['-Htn', 'state', 'established'], { timeoutMs: 30_000 });
    return countEstablished(r.stdout, kind === 'linnet' ? LINNET_INBOUND_PORT : port(kind, 'http1'), this.load.ip);
  }

  /** The open-file limit of a proxy's process (its worker's, for nginx), or undefined when unknown. */
  openFileLimit(kind: 'linnet' | 'nginx' | 'haproxy'): number | undefined {
    const pid = this.proxyPids(kind)[0];
    if (pid === undefined) return undefined;
    const target = kind === 'nginx' ? (childrenOf(pid)[0] ?? pid) : pid;
    try {
      return parseOpenFileLimit(readFileSync(`/proc/${target}/limits`, 'utf8'));
    } catch {
      return undefined;
    }
  }

  private async startApps(): Promise<void> {
    const list = (p: Protocol) => appPorts(p).join(',');
    const srv = this.app.spawn(process.execPath, [join(APPS_DIR, 'server.js'), '--http1', list('http1'), '--h2', list('h2'), '--grpc', list('grpc'), '--ws', list('ws')], {
      uid: APP_UID,
      name: 'bench-server',
    });
    const redis = appPorts('redis').map((p) =>
      this.app.spawn('redis-server', ['--port', String(p), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], { uid: APP_UID, name: `redis-${p}` }),
    );
    const iperf = appPorts('iperf').map((p) => this.app.spawn('iperf3', ['-s', '-p', String(p)], { uid: APP_UID, name: `iperf3-${p}` }));
    await srv.waitForEvent((e) => e.event === 'listening', 30_000);
    await this.waitListening(this.app, [...appPorts('redis'), ...appPorts('iperf')], [...redis, ...iperf]);
  }

  private async startBaselineProxies(): Promise<void> {
    const dir = this.dir;
    for (const d of ['nginx-body', 'nginx-proxy', 'nginx-fcgi', 'nginx-uwsgi', 'nginx-scgi']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig({ dir, streamModule: this.nginxHasStream ? STREAM_MODULE : undefined }));
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig({ dir }));
    this.nginx = this.app.spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { name: 'nginx' });
    this.haproxy = this.app.spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { name: 'haproxy' });
    await this.waitListening(this.app, [port('nginx', 'http1'), port('haproxy', 'http1')], [this.nginx, this.haproxy]);
    if (this.pinned) {
      for (const p of [this.nginx, this.haproxy]) await pin(p.pid, String(PROXY_CPU), true);
    }
  }

  /**
   * The peer mesh baseline: certificates, then the inbound haproxy in the app pod and the outbound
   * one in the load pod, both pinned to the proxy core. A failure does not stop the bench: the
   * haproxy-mesh target then fails with the reason (see checkPeerMesh).
   */
  private async startPeerMesh(): Promise<void> {
    const dir = join(this.dir, 'peer-mesh');
    const f = peerMeshFiles(dir);
    try {
      await createPeerCertificates(dir);
      writeFileSync(f.inConfig, peerMeshInboundConfig({ dir }));
      writeFileSync(f.outConfig, peerMeshOutboundConfig({ dir, appIp: this.app.ip }));
      this.peerIn = this.app.spawn('haproxy', ['-db', '-f', f.inConfig], { name: 'haproxy-mesh-in' });
      this.peerOut = this.load.spawn('haproxy', ['-db', '-f', f.outConfig], { name: 'haproxy-mesh-out' });
      await this.waitListening(this.app, PEER_MESH_PROTOCOLS.map(peerHopPort), [this.peerIn]);
      await this.waitListening(this.load, PEER_MESH_PROTOCOLS.map((p) => port('hamesh', p)), [this.peerOut]);
      if (this.pinned) {
        for (const p of [this.peerIn, this.peerOut]) await pin(p.pid, String(PROXY_CPU), true);
      }
    } catch (err) {
      const e = err as BenchError;
      this.peerMeshFailure = `the haproxy pair did not start: ${e.message}${e.hint && /log/.test(e.hint) ? ` (${e.hint.split('\n').slice(-2).join(' | ')})` : ''}`;
      for (const p of [this.peerIn, this.peerOut]) if (p?.running) await p.stop(1000);
    }
  }

  /**
   * Checks the peer mesh on `proto` before it is measured; throws with the reason when the pair is
   * not up, or does not carry traffic with mTLS and HTTP/2 between its haproxies. Two parts: a TLS
   * probe of the inbound haproxy from the load pod (once per protocol: TLS 1.3, ALPN h2, the
   * server verified, no admission without a client certificate), and a few requests through the
   * pair read back from both haproxies' counters (peerTrafficProblems).
   */
  async checkPeerMesh(proto: Protocol): Promise<void> {
    const fail = (what: string, hint = 'see the haproxy logs under ' + this.cluster.logDir): never => {
      throw new BenchError('LINNET_BENCH_TOOL_FAILED', what, hint);
    };
    if (this.peerMeshFailure) fail(this.peerMeshFailure);
    if (!PEER_MESH_PROTOCOLS.includes(proto)) fail(`the haproxy pair does not carry ${proto}`, 'see PEER_MESH_PROTOCOLS in bench/topology.ts');
    for (const p of [this.peerOut!, this.peerIn!]) if (!p.running) fail(`${p.name} is not running: ${p.logTail(2).replace(/\n/g, ' | ')}`, `its log: ${p.logFile}`);
    const f = peerMeshFiles(join(this.dir, 'peer-mesh'));
    if (!this.peerTlsChecked.has(proto)) {
      const r = await this.load.run(process.execPath, [join(APPS_DIR, 'tls-probe.js'), '--to', this.crossingAddress('hamesh', proto), '--ca', f.ca, '--pem', f.outPem, '--servername', PEER_IDENTITY.app], { timeoutMs: 20_000 });
      let problems: string[];
      try {
        problems = tlsProbeProblems(JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TlsProbeReport);
      } catch {
        problems = [`the TLS probe gave no report (exit ${r.code ?? r.signal}): ${(r.stderr + r.stdout).trim().slice(-300)}`];
      }
      this.peerTlsChecked.set(proto, problems);
    }
    const tlsProblems = this.peerTlsChecked.get(proto)!;
    if (tlsProblems.length) fail(`peer mesh on ${proto}: ${tlsProblems.join('; ')}`);
    const stats = async (): Promise<PeerStats> => {
      const [out, inn] = await Promise.all([haproxyStat(f.outSocket), haproxyStat(f.inSocket)]);
      return { out, in: inn };
    };
    const before = await stats();
    const to = this.address('hamesh', proto);
    // A few requests, with the tools that count failures and non-2xx: h2load for gRPC (gRPC
    // statuses are the scenario's own check), our open-loop generator for HTTP/1.1 (h2load --h1
    // counts no status when the reason phrase is empty, as haproxy's HTTP/2-to-1 answers have it).
    const load =
      proto === 'grpc'
        ? parseH2load(await this.runLoad(['h2load', '-n', '64', '-c', '1', '-m', '8', '-d', join(this.dir, 'grpc-unary-64.bin'), '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://${to}/linnet.bench.Echo/Unary`], 30_000))
        : parseAppReport(await this.runLoad([process.execPath, join(APPS_DIR, 'open-loop.js'), '--to', to, '--rate', '200', '--duration', '0.3', '--connections', '2'], 30_000), 'open-loop');
    if (load.errors > 0 || load.ops === 0) fail(`peer mesh on ${proto}: ${load.ops} requests ok, ${load.errors} failed through the haproxy pair`);
    const problems = peerTrafficProblems(before, await stats(), proto);
    if (problems.length) fail(`peer mesh on ${proto}: ${problems.join('; ')}`);
  }

  /** Polls a pod's listening sockets until every port is there. */
  private async waitListening(pod: Pod, ports: number[], procs: PodProcess[]): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await pod.run('ss', ['-Hltn']);
      const missing = ports.filter((p) => !new RegExp(`:${p}\\s`).test(r.stdout));
      if (missing.length === 0) return;
      const dead = procs.find((p) => !p.running);
      if (dead) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `${dead.name} exited during start-up`, `its log (${dead.logFile}):\n${dead.logTail(10)}`);
      if (Date.now() > deadline) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `ports ${missing.join(',')} not listening in the ${pod.name} pod`, 'see the logs under ' + this.cluster.logDir);
      await sleep(100);
    }
  }
}

export const NOT_PROBED = 'not probed yet';
const MESH_REASON = 'needs mTLS (LINNET_PROXY_IDENTITY_*)';
export const MESH_SKIP_REASON = `${MESH_REASON}: the meshed path was tried and the inbound proxy saw no TLS from the outbound proxy`;

function identityOf(w: 'load' | 'app' | 'tap'): string {
  return `${w}.bench.serviceaccount.identity.linnet.cluster.local`;
}

/** A protocol's Service virtual IP (the routes scenario addresses it; the mesh path the endpoint). */
export function serviceVip(p: Protocol): string {
  return `10.96.200.${10 + PROTOCOLS.indexOf(p)}`;
}

/**
 * The routes scenario's policy: 50 HTTPRoutes on the HTTP/1.1 Service (49 for /api/r<i>, which
 * the load never asks for, and one for everything else, so every request is matched across all
 * 50), and retries of 5xx on the Service, which the app never answers.
 */
export function benchRoutes(): string {
  const svc = 'http1';
  const p = port('mesh', 'http1');
  const docs = [`apiVersion: v1\nkind: Service\nmetadata:\n  namespace: bench\n  name: ${svc}\n  annotations: { retry.linkerd.io/http: 5xx, retry.linkerd.io/limit: "2" }`];
  for (let i = 0; i < 50; i++) {
    const path = i < 49 ? `/api/r${i}` : '/';
    docs.push(
      [
        'apiVersion: gateway.networking.k8s.io/v1',
        'kind: HTTPRoute',
        `metadata: { namespace: bench, name: r${i} }`,
        'spec:',
        `  parentRefs: [{ group: core, kind: Service, name: ${svc}, port: ${p} }]`,
        `  rules: [{ matches: [{ path: { type: PathPrefix, value: "${path}" }, headers: [{ name: x-never, value: "${i}" }] }, { path: { type: PathPrefix, value: "${path}" } }] }]`,
      ].join('\n'),
    );
  }
  return docs.join('\n---\n') + '\n';
}

/** The mesh file: one service per protocol on the app pod's mesh port, and both workloads' tokens. */
export function meshFile(appIp: string): string {
  const lines = ['services:'];
  for (const p of PROTOCOLS) {
    lines.push(`  - name: ${p}.bench.svc.cluster.local`, `    address: ${serviceVip(p)}`, `    ports: [${port('mesh', p)}]`, '    endpoints:', `      - address: ${appIp}:${port('mesh', p)}`, `        identity: ${identityOf('app')}`);
  }
  lines.push('workloads:');
  for (const w of ['load', 'app', 'tap'] as const) lines.push(`  - identity: ${identityOf(w)}`, `    token: "${w}-bench-token"`);
  return lines.join('\n') + '\n';
}

/** The port `linnet init` redirects inbound connections to (control/local/pods/pod.ts init). */
const LINNET_INBOUND_PORT = 4143;

/** This process's hard RLIMIT_NOFILE ("Max open files", second column), which the proxies it starts inherit. */
export function hardOpenFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function settingsText(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function proxyEnv(workers: number): Record<string, string> {
  return { LINNET_PROXY_WORKERS: String(workers), LINNET_PROXY_LOG: 'warn', LINNET_PROXY_SHUTDOWN_GRACE_PERIOD: '2s' };
}

function cpuCount(): number {
  return availableParallelism();
}

/** taskset every thread of pid (and, with `tree`, of its children) onto `cpus`. */
async function pin(pid: number, cpus: string, tree = false): Promise<void> {
  const pids = [pid, ...(tree ? childrenOf(pid) : [])];
  for (const p of pids) await run(['taskset', '-a', '-cp', cpus, String(p)]);
}
