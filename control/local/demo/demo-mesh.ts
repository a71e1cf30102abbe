/**
 * Builds the demo's local mesh in network namespaces with the test pod helper: a control pod
 * running `linnet control` (a CA from `linnet identity create`, discovery from a mesh file), and
 * meshed workloads — `web` (HTTP/1, 2 replicas), `emoji` (gRPC, 2 replicas), `traffic` (the client)
 * — each pod with `linnet init` and a proxy that certifies itself and asks the control plane where
 * services are. One web replica fails a few % of requests and one emoji replica is slower, so
 * success rate, latency and balancing differ visibly between replicas.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LinnetError } from '../../../core/errors';
import { APP_UID, Cluster, LINNET_BIN, PodError, type Pod, type PodProcess } from '../pods';
import { run } from '../pods';

/** Ctrl-C during set-up: what was made so far is torn down and this is thrown. */
export class DemoInterrupted extends LinnetError {
  constructor() {
    super('LINNET_DEMO_INTERRUPTED', 'set-up interrupted', { hint: 'everything made so far has been torn down' });
    this.name = 'DemoInterrupted';
  }
}

export const DEMO_APP = join(__dirname, 'demo-app.js');
const NS = 'demo';
export const identityOf = (sa: string) => `${sa}.${NS}.serviceaccount.identity.linnet.cluster.local`;

export interface Replica {
  delayMs: number;
  failPct: number;
}

export interface ServiceSpec {
  name: 'web' | 'emoji';
  /** the app sub-command (demo-app.ts) */
  app: 'web' | 'emoji';
  port: number;
  /** the virtual IP clients use; discovery balances it over the replicas */
  vip: string;
  replicas: Replica[];
}

/** The default demo: light enough for two shared cores. */
export const SERVICES: readonly ServiceSpec[] = [
  // web1 fails 5% (success rate), emoji1 is slower (latency, and the balancer's answer to it).
  { name: 'web', app: 'web', port: 8080, vip: '10.96.0.10', replicas: [{ delayMs: 2, failPct: 0 }, { delayMs: 2, failPct: 5 }] },
  { name: 'emoji', app: 'emoji', port: 8090, vip: '10.96.0.11', replicas: [{ delayMs: 2, failPct: 0 }, { delayMs: 15, failPct: 1 }] },
];

export interface Workload {
  name: string;
  pods: Pod[];
  /** serves requests: its row is read from the inbound side */
  server: boolean;
}

export interface DemoOptions {
  rps: number;
  conns: number;
  workers: number;
  onStep: (step: string) => void;
  /** Aborted (Ctrl-C): set-up stops at the next step, tears down, and throws DemoInterrupted. */
  signal?: AbortSignal;
}

export interface Demo {
  cluster: Cluster;
  control: Pod;
  workloads: Workload[];
  traffic: PodProcess;
  dir: string;
  destroy(): Promise<void>;
}

export function meshFileText(services: readonly ServiceSpec[], pods: ReadonlyMap<string, Pod[]>, sas: readonly string[]): string {
  const lines = ['services:'];
  for (const s of services) {
    lines.push(`  - name: ${s.name}.${NS}.svc.cluster.local`, `    address: ${s.vip}`, `    ports: [${s.port}]`, '    endpoints:');
    for (const p of pods.get(s.name) ?? []) {
      lines.push(`      - address: ${p.ip}:${s.port}`, `        identity: ${identityOf(s.name)}`, `        labels: { pod: ${p.name} }`);
    }
  }
  lines.push('workloads:');
  for (const sa of sas) lines.push(`  - identity: ${identityOf(sa)}`, `    token: "${sa}-token"`);
  return lines.join('\n') + '\n';
}

async function waitListening(control: Pod, ports: number[], timeoutMs: number, proc: PodProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    for (;;) {
      const r = await control.run('bash', ['-c', `exec 3<>/dev/tcp/${control.ip}/${port}`], { timeoutMs: 2000 });
      if (r.code === 0) break;
      if (!proc.running) throw new PodError('LINNET_POD_COMMAND_FAILED', 'linnet control exited during start-up', proc.logTail(20));
      if (Date.now() > deadline) throw new PodError('LINNET_POD_COMMAND_FAILED', `linnet control not listening on ${port} after ${timeoutMs}ms`, proc.logTail(20));
      await sleep(200);
    }
  }
}

/** Builds everything; on any failure tears down what it made and rethrows. */
export async function createDemo(opts: DemoOptions): Promise<Demo> {
  const step = (s: string) => {
    if (opts.signal?.aborted) throw new DemoInterrupted();
    opts.onStep(s);
  };
  const dir = mkdtempSync(join(tmpdir(), 'linnet-demo-'));
  // The proxies run as uid 2102 and read the trust anchor and their token from here.
  chmodSync(dir, 0o755);
  let cluster: Cluster | undefined;
  const destroy = async () => {
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    step('creating the identity trust anchor and issuer (linnet identity create)');
    const ca = join(dir, 'ca');
    const made = await run([process.execPath, LINNET_BIN, 'identity', 'create', '--out', ca], { timeoutMs: 60_000 });
    if (made.code !== 0) throw new PodError('LINNET_POD_COMMAND_FAILED', 'linnet identity create failed', made.stderr);
    chmodSync(ca, 0o755);
    chmodSync(join(ca, 'ca.crt'), 0o644);
    const sas = [...SERVICES.map((s) => s.name), 'traffic'];
    for (const sa of sas) writeFileSync(join(dir, `${sa}-token`), `${sa}-token\n`, { mode: 0o644 });

    step('creating namespaces (a node with a bridge, one namespace per pod)');
    cluster = await Cluster.create({ onStep: step });
    const control = await cluster.addPod('control');
    const byService = new Map<string, Pod[]>();
    for (const s of SERVICES) {
      const pods: Pod[] = [];
      for (let i = 0; i < s.replicas.length; i++) pods.push(await cluster.addPod(`${s.name}${i}`));
      byService.set(s.name, pods);
    }
    const trafficPod = await cluster.addPod('traffic');

    step('starting the control plane (linnet control: destination :8086, identity :8080)');
    writeFileSync(join(dir, 'mesh.yaml'), meshFileText(SERVICES, byService, sas));
    const controlProc = control.spawn(
      process.execPath,
      [LINNET_BIN, 'control', '--discovery-file', join(dir, 'mesh.yaml'), '--identity-dir', ca, '--destination-addr', `${control.ip}:8086`, '--identity-addr', `${control.ip}:8080`],
      { name: 'control' },
    );
    await waitListening(control, [8086, 8080], 30_000, controlProc);

    const workloads: Workload[] = [
      ...SERVICES.map((s) => ({ name: s.name, pods: byService.get(s.name)!, server: true })),
      { name: 'traffic', pods: [trafficPod], server: false },
    ];
    const meshed = workloads.flatMap((w) => w.pods.map((p) => ({ pod: p, sa: w.name })));
    step(`applying iptables in ${meshed.length} pods (linnet init)`);
    await Promise.all(meshed.map(({ pod }) => pod.init()));

    step(`starting ${meshed.length} proxies (uid 2102), each certifying itself, and waiting for /ready`);
    const env = (sa: string): Record<string, string> => ({
      LINNET_PROXY_WORKERS: String(opts.workers),
      LINNET_PROXY_IDENTITY_SVC_ADDR: `${control.ip}:8080`,
      LINNET_PROXY_IDENTITY_LOCAL_NAME: identityOf(sa),
      LINNET_PROXY_IDENTITY_TOKEN_FILE: join(dir, `${sa}-token`),
      LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: join(ca, 'ca.crt'),
      LINNET_PROXY_DESTINATION_SVC_ADDR: `${control.ip}:8086`,
      // The viz service's tap identity (linnet viz tap / top and the dashboard's live tap).
      LINNET_PROXY_TAP_SVC_NAME: 'tap.linnet-viz.serviceaccount.identity.linnet.cluster.local',
      // The client's outbound side forwards the service ports as opaque TCP: balanced per
      // connection over discovery, mTLS to the chosen endpoint, whose inbound proxy terminates it
      // and detects HTTP/1 or gRPC again (that is where the table reads its golden metrics). The
      // outbound HTTP handlers do not yet route a virtual IP through discovery per request.
      ...(sa === 'traffic' ? { LINNET_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: SERVICES.map((s) => s.port).join(',') } : {}),
    });
    // Started in turn, not all at once: five Node start-ups at once starve two shared cores.
    for (const { pod, sa } of meshed) {
      if (opts.signal?.aborted) throw new DemoInterrupted();
      await pod.startProxy(env(sa), 60_000);
    }

    step('starting the apps: web (HTTP/1) and emoji (gRPC), 2 replicas each');
    const apps: Promise<unknown>[] = [];
    for (const s of SERVICES) {
      byService.get(s.name)!.forEach((pod, i) => {
        const r = s.replicas[i]!;
        const p = pod.spawn(process.execPath, [DEMO_APP, s.app, '--port', String(s.port), '--name', pod.name, '--delay-ms', String(r.delayMs), '--fail-pct', String(r.failPct)], {
          uid: APP_UID,
          name: s.app,
        });
        apps.push(p.waitForEvent<{ event: string }>((e) => e.event === 'listening', 30_000));
      });
    }
    await Promise.all(apps);

    const web = SERVICES.find((s) => s.name === 'web')!;
    const emoji = SERVICES.find((s) => s.name === 'emoji')!;
    // Discovery's first answer for a service can take longer than the proxy waits for it on a
    // busy machine; a request sent before then goes to the virtual IP itself and fails. Traffic
    // starts once the client's proxy routes both services.
    step('waiting until the traffic pod\'s proxy routes web and emoji');
    await untilRouted(trafficPod, `http://${web.vip}:${web.port}/api/vote?choice=probe`, []);
    await untilRouted(trafficPod, `http://${emoji.vip}:${emoji.port}/linnet.demo.Emoji/FindByShortcode`, ['--http2-prior-knowledge', '-X', 'POST', '-H', 'content-type: application/grpc']);
    step(`starting traffic: ${opts.rps} HTTP requests/s to ${web.vip}:${web.port} and ${opts.rps} gRPC calls/s to ${emoji.vip}:${emoji.port}`);
    const traffic = trafficPod.spawn(
      process.execPath,
      [DEMO_APP, 'traffic', '--web', `${web.vip}:${web.port}`, '--emoji', `${emoji.vip}:${emoji.port}`, '--rps', String(opts.rps), '--conns', String(opts.conns)],
      { uid: APP_UID, name: 'traffic' },
    );
    await traffic.waitForEvent<{ event: string }>((e) => e.event === 'started', 30_000);
    return { cluster, control, workloads, traffic, dir, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/**
 * Resolves once a request from `pod` to `url` is answered by an app rather than by the proxy
 * (no l5d-proxy-error: the proxy found endpoints for it); throws after 30 s.
 */
async function untilRouted(pod: Pod, url: string, curlArgs: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    const r = await pod.run('curl', ['-sS', '-o', '/dev/null', '-D', '-', '-m', '3', ...curlArgs, url], { uid: APP_UID, timeoutMs: 10_000 });
    if (r.code === 0 && /^HTTP\//m.test(r.stdout) && !/^l5d-proxy-error:/im.test(r.stdout)) return;
    last = `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
    await sleep(200);
  }
  throw new PodError('LINNET_POD_COMMAND_FAILED', `the mesh does not route ${url} after 30 s (${last})`, 'check linnet control and the proxies\' logs');
}
