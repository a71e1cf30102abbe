/**
 * `linnet control`: the control plane process. Serves the Destination API (discovery from the
 * mesh file, the default, or from Kubernetes) and, with --identity-dir or --identity-store
 * kubernetes, the Identity API (the CA), each on its own gRPC port, plus the admin listener. SIGTERM/SIGINT: stop accepting, let streams end briefly, exit 0.
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { Command } from '../core/command';
import { LinnetError } from '../core/errors';
import { createLogger, type Logger } from '../core/log';
import { parseDuration } from '../core/parse';
import { Registry } from 'prom-client';
import { startControlAdmin } from './admin';
import { createHash } from 'node:crypto';
import { createFileSource, type FileSource } from './destination/file-source';
import { bindServer, createDestinationService, SERVER_OPTIONS, shutdownServer } from './destination/server';
import { TOKEN_AUDIENCE } from './inject/sidecar';
import type { DiscoverySource } from './destination/source';
import { DEFAULT_POLICIES, isDefaultPolicy, type DefaultPolicy } from '../core/policy/model';
import { DEFAULT_CLUSTER_NETWORKS, parseNetList, type IpNet } from '../core/policy/net';
import { VIZ_DEFAULTS } from './viz/service';

const fingerprint = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');

const DEFAULTS = {
  destinationAddr: '0.0.0.0:8086',
  identityAddr: '0.0.0.0:8080',
  policyAddr: '0.0.0.0:8090',
  adminAddr: '0.0.0.0:9990',
  issuerLifetime: '168h',
  identityPoll: '10s',
  trustDomain: 'cluster.local',
  controlNamespace: 'linnet',
  clusterDomain: 'cluster.local',
};

/** The identity module, when this build has it (it is optional for the destination service). */
type IdentityModule = typeof import('./identity');
function loadIdentity(): IdentityModule | undefined {
  try {
    return require('./identity') as IdentityModule;
  } catch (err) {
    // Only the identity module itself being absent counts; a missing dependency of it is a real error.
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && /^Cannot find module '\.\/identity'/.test(String((err as Error).message))) return undefined;
    throw err;
  }
}

function identityNote(): string {
  let available = false;
  try {
    available = loadIdentity() !== undefined;
  } catch {
    available = false;
  }
  return available ? '' : '\n  (this build has no identity module: --identity-dir is refused until control/identity lands)';
}

const usage = () => `usage: linnet control --discovery-file FILE [--identity-dir DIR] [options]
       linnet control --discovery kubernetes [--kubeconfig FILE] [--identity-dir DIR] [options]

The Linnet control plane: the Destination API (service discovery for the proxies) and, with
--identity-dir, the Identity API (the CA that signs the proxies' certificates).

discovery:
  --discovery file|kubernetes   where services and endpoints come from (default: file)
  --discovery-file FILE         the mesh file (services, endpoints, workloads); watched, an edit
                                reaches connected proxies within a second, a bad edit is logged
                                and the last good state kept. Required with --discovery file.
  --kubeconfig FILE             for --discovery kubernetes; default KUBECONFIG, ~/.kube/config,
                                or the pod's service account
  --cluster-domain DOMAIN       Kubernetes cluster domain (default ${DEFAULTS.clusterDomain})

identity:
  --identity-dir DIR            serve identity with ca.crt, issuer.crt, issuer.key from DIR
                                (see \`linnet identity create\`). Tokens are checked against the
                                mesh file's workloads; with --discovery kubernetes and no
                                --discovery-file, by TokenReview against the API server (in-cluster).${identityNote()}
  --identity-store kubernetes   keep the trust anchor and issuer in Secrets of the control
                                namespace (${'linnet-trust-anchor'}, ${'linnet-identity-issuer'}) and the
                                bundle in the ConfigMap linnet-identity-trust-roots; on first start
                                they are created (create-if-absent: a second replica adopts them)
  --identity-issuer-lifetime DUR  lifetime of issuers the control plane makes itself when it holds
                                the anchor key (ca.key, or the anchor Secret); default ${DEFAULTS.issuerLifetime}.
                                A new one is made when a third of the current one's life is left
  --identity-external-issuer    never make issuers (cert-manager does): only take new ones
  --identity-poll DUR           how often the files or Secrets are re-read (default ${DEFAULTS.identityPoll}); a
                                new issuer or bundle there is taken live, a bad one refused
  --identity-issuance-lifetime DUR  lifetime of proxies' leaf certificates (default 24h)
  --trust-domain NAME           default ${DEFAULTS.trustDomain}
  --control-namespace NS        default ${DEFAULTS.controlNamespace}

policy (authorization, Linkerd's resources; the README's "Authorization policy"):
  --policy-dir DIR              Server, AuthorizationPolicy, MeshTLSAuthentication, ... YAML files
                                (*.yaml, *.yml, *.json), watched; pods are the mesh file's
                                endpoints with their labels. A bad file is logged with its path
                                and the path of each problem, and its last good state kept.
  --default-inbound-policy P    all-unauthenticated (default) | all-authenticated |
                                cluster-authenticated | cluster-unauthenticated | deny | audit
  --cluster-networks CIDRS      for the cluster-* policies (default ${DEFAULT_CLUSTER_NETWORKS})

listeners:
  --destination-addr ADDR       default ${DEFAULTS.destinationAddr}
  --identity-addr ADDR          default ${DEFAULTS.identityAddr}
  --policy-addr ADDR            the inbound policy API, served with --policy-dir or
                                --discovery kubernetes (default ${DEFAULTS.policyAddr})
  --admin-addr ADDR             /metrics, /live, /ready (default ${DEFAULTS.adminAddr}; Linkerd's admin port)

viz (\`linnet viz\`, the dashboard; the README's "Viz"):
  --viz-addr ADDR               the viz API and dashboard (default ${VIZ_DEFAULTS.addr}: this host only;
                                \`off\` for none). A port clash is logged and the rest still serves
  --viz-scrape-interval DUR     how often each proxy's :4191/metrics and /latency are read
                                (default ${VIZ_DEFAULTS.scrapeInterval})
  --viz-history DUR             how much history is kept in memory (default ${VIZ_DEFAULTS.history})
  --prometheus-url URL          read the proxies' numbers from this Prometheus (one that scrapes
                                them, e.g. through /api/prometheus-sd) instead of scraping them

  --log LEVEL                   error|warn|info|debug (default info)

Stops on SIGTERM or SIGINT: refuses new calls, ends open discovery streams (proxies keep their
endpoints and reconnect), gives unary calls 2 s to finish, then exits 0.
`;

function usageError(message: string): LinnetError {
  return new LinnetError('LINNET_CONTROL_USAGE', message, { hint: 'see `linnet control --help`' });
}

export interface ControlOptions {
  discovery: 'file' | 'kubernetes';
  discoveryFile?: string;
  kubeconfig?: string;
  clusterDomain: string;
  identityDir?: string;
  /** Secrets instead of a directory. */
  identityStore?: 'kubernetes';
  /** Lifetime of self-made issuers. */
  issuerLifetimeMs: number;
  /** Re-read interval of the identity store. */
  identityPollMs: number;
  externalIssuer: boolean;
  /** Leaf lifetime; undefined: 24h. */
  issuanceLifetimeMs?: number;
  trustDomain: string;
  controlNamespace: string;
  destinationAddr: string;
  identityAddr: string;
  /** Serve the inbound policy API from this directory of Linkerd policy resources. */
  policyDir?: string;
  policyAddr: string;
  defaultInboundPolicy: DefaultPolicy;
  clusterNetworks: readonly IpNet[];
  adminAddr: string;
  /** undefined: no viz service */
  vizAddr?: string;
  vizScrapeIntervalMs: number;
  vizHistoryMs: number;
  prometheusUrl?: string;
  log: 'error' | 'warn' | 'info' | 'debug';
}

/** Flags → options; pure, throws LINNET_CONTROL_USAGE. */
export function parseControlArgs(args: string[]): ControlOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        discovery: { type: 'string' },
        'discovery-file': { type: 'string' },
        kubeconfig: { type: 'string' },
        'cluster-domain': { type: 'string' },
        'identity-dir': { type: 'string' },
        'identity-store': { type: 'string' },
        'identity-issuer-lifetime': { type: 'string' },
        'identity-external-issuer': { type: 'boolean' },
        'identity-poll': { type: 'string' },
        'identity-issuance-lifetime': { type: 'string' },
        'admin-addr': { type: 'string' },
        'trust-domain': { type: 'string' },
        'control-namespace': { type: 'string' },
        'destination-addr': { type: 'string' },
        'identity-addr': { type: 'string' },
        'policy-dir': { type: 'string' },
        'policy-addr': { type: 'string' },
        'default-inbound-policy': { type: 'string' },
        'cluster-networks': { type: 'string' },
        'viz-addr': { type: 'string' },
        'viz-scrape-interval': { type: 'string' },
        'viz-history': { type: 'string' },
        'prometheus-url': { type: 'string' },
        log: { type: 'string' },
      },
    }));
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const str = (k: string) => values[k] as string | undefined;
  const discovery = str('discovery') ?? 'file';
  if (discovery !== 'file' && discovery !== 'kubernetes') throw usageError(`--discovery must be file or kubernetes, not ${JSON.stringify(discovery)}`);
  if (discovery === 'file' && !str('discovery-file')) throw usageError('--discovery-file FILE is required with file discovery');
  const log = str('log') ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(log)) throw usageError(`--log must be error|warn|info|debug, not ${JSON.stringify(log)}`);
  const dip = str('default-inbound-policy') ?? 'all-unauthenticated';
  if (!isDefaultPolicy(dip)) throw usageError(`--default-inbound-policy must be one of ${DEFAULT_POLICIES.join(', ')}, not ${JSON.stringify(dip)}`);
  let clusterNetworks: IpNet[];
  try {
    clusterNetworks = parseNetList(str('cluster-networks') ?? DEFAULT_CLUSTER_NETWORKS);
  } catch (err) {
    throw usageError(`--cluster-networks: ${(err as Error).message}`);
  }
  const store = str('identity-store');
  if (store !== undefined && store !== 'kubernetes') throw usageError(`--identity-store must be kubernetes, not ${JSON.stringify(store)}`);
  if (store && str('identity-dir')) throw usageError('give --identity-dir or --identity-store kubernetes, not both');
  const duration = (k: string, dflt: string) => {
    try {
      const ms = parseDuration(`--${k}`, str(k) ?? dflt);
      if (!(ms > 0)) throw new Error('not positive');
      return ms;
    } catch {
      throw usageError(`--${k} must be a positive duration such as 10s, 2m or 168h, not ${JSON.stringify(str(k))}`);
    }
  };
  const vizAddr = str('viz-addr') ?? VIZ_DEFAULTS.addr;
  const prometheusUrl = str('prometheus-url');
  if (prometheusUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(prometheusUrl)) throw usageError(`--prometheus-url must be an http(s) URL such as http://127.0.0.1:9090, not ${JSON.stringify(prometheusUrl)}`);
  for (const k of ['destination-addr', 'identity-addr', 'policy-addr', 'admin-addr', 'viz-addr']) {
    const v = str(k);
    if (k === 'viz-addr' && v === 'off') continue;
    if (v !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(v)) throw usageError(`--${k} must be HOST:PORT, not ${JSON.stringify(v)}`);
  }
  return {
    discovery,
    ...(str('discovery-file') ? { discoveryFile: str('discovery-file') } : {}),
    ...(str('kubeconfig') ? { kubeconfig: str('kubeconfig') } : {}),
    clusterDomain: str('cluster-domain') ?? DEFAULTS.clusterDomain,
    ...(str('identity-dir') ? { identityDir: str('identity-dir') } : {}),
    ...(store ? { identityStore: 'kubernetes' as const } : {}),
    issuerLifetimeMs: duration('identity-issuer-lifetime', DEFAULTS.issuerLifetime),
    identityPollMs: duration('identity-poll', DEFAULTS.identityPoll),
    externalIssuer: values['identity-external-issuer'] === true,
    ...(str('identity-issuance-lifetime') ? { issuanceLifetimeMs: duration('identity-issuance-lifetime', '24h') } : {}),
    adminAddr: str('admin-addr') ?? DEFAULTS.adminAddr,
    trustDomain: str('trust-domain') ?? DEFAULTS.trustDomain,
    controlNamespace: str('control-namespace') ?? DEFAULTS.controlNamespace,
    destinationAddr: str('destination-addr') ?? DEFAULTS.destinationAddr,
    identityAddr: str('identity-addr') ?? DEFAULTS.identityAddr,
    ...(str('policy-dir') ? { policyDir: str('policy-dir') } : {}),
    policyAddr: str('policy-addr') ?? DEFAULTS.policyAddr,
    defaultInboundPolicy: dip,
    clusterNetworks,
    ...(vizAddr !== 'off' ? { vizAddr } : {}),
    vizScrapeIntervalMs: duration('viz-scrape-interval', VIZ_DEFAULTS.scrapeInterval),
    vizHistoryMs: duration('viz-history', VIZ_DEFAULTS.history),
    ...(prometheusUrl ? { prometheusUrl } : {}),
    log: log as ControlOptions['log'],
  };
}

/** The running control plane; `stop()` is what SIGTERM does. */
export interface RunningControl {
  destinationPort: number;
  identityPort?: number;
  policyPort?: number;
  adminPort: number;
  /** the viz service's port, when it listens */
  vizPort?: number;
  identity?: import('./identity').IdentityService;
  stop(): Promise<void>;
}

export async function startControl(o: ControlOptions, log: Logger): Promise<RunningControl> {
  const closers: (() => Promise<void>)[] = [];
  const registry = new Registry();
  const stop = async () => {
    for (const c of closers.reverse()) await c().catch((err) => log.warn('shutdown step failed', { error: String(err) }));
  };
  try {
    // The mesh file is read whenever given: it is the discovery source in file mode, and the
    // workload tokens for identity in either mode.
    let fileSource: FileSource | undefined;
    if (o.discoveryFile) {
      fileSource = await createFileSource({ file: o.discoveryFile, log: log.child('mesh-file') });
      closers.push(() => fileSource!.close());
    }
    let source: DiscoverySource;
    if (o.discovery === 'kubernetes') {
      const { createKubernetesSource } = require('./destination/kubernetes-source') as typeof import('./destination/kubernetes-source');
      const k = await createKubernetesSource({
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        naming: { clusterDomain: o.clusterDomain, trustDomain: o.trustDomain, controlNamespace: o.controlNamespace },
        log: log.child('kubernetes'),
      });
      closers.push(() => k.close());
      source = k;
    } else {
      source = fileSource!;
    }

    // Policy first: its source must be in sync before the process reports itself serving.
    let policyPort: number | undefined;
    let servedPolicy: import('./policy/source').PolicySource | undefined;
    if (o.policyDir || o.discovery === 'kubernetes') {
      const { createPolicyService } = require('./policy/server') as typeof import('./policy/server');
      let policySource: import('./policy/source').PolicySource;
      if (o.discovery === 'kubernetes') {
        // In Kubernetes the resources are the cluster's (Linkerd's CRDs), watched like discovery's.
        if (o.policyDir) throw usageError('--policy-dir is for the embedded mode; with --discovery kubernetes the policy resources are read from the cluster');
        const { createKubernetesPolicySource } = require('./policy/kubernetes-source') as typeof import('./policy/kubernetes-source');
        const k8s = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
        const kc = new k8s.KubeConfig();
        if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
        else kc.loadFromDefault();
        policySource = await createKubernetesPolicySource({ kubeConfig: kc, log: log.child('policy') });
      } else {
        if (!fileSource) throw usageError('--policy-dir needs --discovery-file (its endpoints are the pods the policy selects)');
        const { createPolicyDirSource } = require('./policy/dir-source') as typeof import('./policy/dir-source');
        policySource = await createPolicyDirSource({ dir: o.policyDir!, discovery: fileSource, log: log.child('policy') });
      }
      const ps = policySource;
      servedPolicy = ps;
      closers.push(() => ps.close());
      const pol = new grpc.Server(SERVER_OPTIONS);
      const p = createPolicyService({
        source: policySource,
        settings: { defaultPolicy: o.defaultInboundPolicy, clusterNetworks: o.clusterNetworks, identityDomain: `identity.${o.controlNamespace}.${o.trustDomain}` },
        log: log.child('policy'),
      });
      pol.addService(p.service, p.implementation);
      const { createOutboundService } = require('./policy/outbound-server') as typeof import('./policy/outbound-server');
      const out = createOutboundService({ source: policySource, clusterDomain: o.clusterDomain, log: log.child('policy') });
      pol.addService(out.service, out.implementation);
      policyPort = await bindServer(pol, o.policyAddr);
      closers.push(() => {
        const done = shutdownServer(pol, 2000);
        p.drain();
        out.drain();
        return done;
      });
      log.info('policy serving', { addr: o.policyAddr, port: policyPort, source: policySource.kind, default_inbound_policy: o.defaultInboundPolicy });
    }

    const dst = new grpc.Server(SERVER_OPTIONS);
    // A Server's proxyProtocol: opaque reaches clients as the endpoint's opaque port (Linkerd's protocol hint).
    const served = servedPolicy ? (require('./policy/opaque-discovery') as typeof import('./policy/opaque-discovery')).discoveryWithOpaqueServers(source, servedPolicy) : source;
    const d = createDestinationService({ source: served, log: log.child('destination') });
    dst.addService(d.service, d.implementation);
    const destinationPort = await bindServer(dst, o.destinationAddr);
    closers.push(() => {
      const done = shutdownServer(dst, 2000);
      // Streams never end by themselves; end them so proxies reconnect (to another replica) now.
      d.drain();
      return done;
    });
    log.info('destination serving', { addr: o.destinationAddr, port: destinationPort, discovery: source.kind });

    let identityPort: number | undefined;
    let identityService: import('./identity').IdentityService | undefined;
    if (o.identityDir || o.identityStore) {
      const identity = loadIdentity();
      if (!identity) {
        throw new LinnetError('LINNET_CONTROL_NO_IDENTITY', '--identity-dir was given but this build has no identity module', {
          hint: 'run without --identity-dir, or use a build that includes control/identity',
        });
      }
      let tokens: import('./identity').TokenVerifier;
      if (fileSource) {
        const { FileTokenVerifier } = require('./destination/file-token-verifier') as typeof import('./destination/file-token-verifier');
        const fs = fileSource;
        tokens = new FileTokenVerifier(() => fs.state().workloads);
      } else {
        tokens = inClusterTokenVerifier(identity, o);
      }
      const idLog = log.child('identity');
      const logFn = (level: 'info' | 'warn', message: string) => idLog[level](message);
      let store: import('./identity').IdentityStore;
      if (o.identityStore === 'kubernetes') {
        const rest = identity.kubeRest(identity.loadKubeConfig(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}));
        const ks = identity.kubeStore({ rest, namespace: o.controlNamespace, trustDomain: o.trustDomain, controlNamespace: o.controlNamespace });
        // cert-manager's issuer may not exist yet: wait for it rather than make a rival PKI.
        if (!o.externalIssuer) {
          await ks.bootstrap({ anchorLifetimeMs: identity.ANCHOR_LIFETIME_MS, issuerLifetimeMs: o.issuerLifetimeMs, log: logFn });
          // The webhook's serving certificate too (cert-manager makes it on the external path).
          const { bootstrapWebhook } = require('./install/webhook-bootstrap') as typeof import('./install/webhook-bootstrap');
          await bootstrapWebhook(rest, o.controlNamespace, logFn);
          // Again every 30 s: the webhook configuration may be applied after this pod starts, and a
          // sync that rewrites it must not leave the caBundle empty.
          const again = setInterval(() => {
            bootstrapWebhook(rest, o.controlNamespace, () => {}).then(
              (r) => r.patched && logFn('info', 'set the webhook caBundle again'),
              (err) => logFn('warn', `webhook caBundle check failed: ${String(err)}`),
            );
          }, 30_000);
          again.unref();
          closers.push(async () => clearInterval(again));
        }
        store = ks;
      } else {
        store = identity.dirStore(o.identityDir!);
      }
      const svc = await identity.createIdentityService({
        store,
        trustDomain: o.trustDomain,
        controlNamespace: o.controlNamespace,
        tokens,
        log: logFn,
        registry,
        pollMs: o.identityPollMs,
        issuerLifetimeMs: o.issuerLifetimeMs,
        selfRotate: !o.externalIssuer,
        ...(o.issuanceLifetimeMs !== undefined ? { issuanceLifetimeMs: o.issuanceLifetimeMs } : {}),
      });
      identityService = svc;
      closers.push(() => svc.close());
      const ids = new grpc.Server(SERVER_OPTIONS);
      ids.addService(svc.service, svc.implementation);
      identityPort = await bindServer(ids, o.identityAddr);
      closers.push(() => shutdownServer(ids, 2000));
      log.info('identity serving', { addr: o.identityAddr, port: identityPort, trust_domain: o.trustDomain, tokens: fileSource ? 'mesh-file' : 'tokenreview', store: store.kind });
    }
    // The admin listener only reports: a port clash costs the metrics, not the control plane.
    let adminPort = 0;
    try {
      const svc = identityService;
      const routes: Record<string, () => unknown> = svc
        ? {
            '/identity/proxies': () => ({
              startedAt: svc.startedAt,
              leafLifetimeMs: svc.leafLifetimeMs,
              bundle: svc.manager.current().anchors.map((a) => fingerprint(a.raw)),
              issuerAnchor: fingerprint(svc.manager.current().anchor.raw),
              issuerNotBefore: new Date(svc.manager.current().issuer.validFrom).getTime(),
              issuerNotAfter: new Date(svc.manager.current().issuer.validTo).getTime(),
              anchors: svc.manager.current().anchors.map((a) => ({ sha256: fingerprint(a.raw), notAfter: new Date(a.validTo).getTime() })),
              proxies: svc.proxies(),
            }),
          }
        : {};
      const admin = await startControlAdmin(o.adminAddr, registry, () => true, routes);
      closers.push(() => admin.close());
      adminPort = admin.port;
      log.info('admin serving', { addr: o.adminAddr, port: admin.port });
    } catch (err) {
      log.warn('admin listener not started; no /metrics', { addr: o.adminAddr, error: String(err), hint: 'free the port or pass --admin-addr' });
    }
    // The viz service only reads: a port clash costs the dashboard, not the control plane.
    let vizPort: number | undefined;
    if (o.vizAddr) {
      try {
        const { startVizService } = require('./viz/service') as typeof import('./viz/service');
        const fs = fileSource;
        const svc = identityService;
        const viz = await startVizService({
          addr: o.vizAddr,
          intervalMs: o.vizScrapeIntervalMs,
          keepMs: o.vizHistoryMs,
          mesh: () => fs?.state() ?? source.snapshot().state,
          certified: () => svc?.proxies() ?? [],
          discovery: source,
          log: log.child('viz'),
          ...(o.prometheusUrl ? { prometheusUrl: o.prometheusUrl } : {}),
          ...(svc
            ? {
                tapCredentials: (require('./viz/tap-identity') as typeof import('./viz/tap-identity')).tapIdentity({
                  issuer: () => svc.manager.current(),
                  controlNamespace: o.controlNamespace,
                  trustDomain: o.trustDomain,
                }),
              }
            : {}),
        });
        closers.push(() => viz.close());
        vizPort = viz.port;
      } catch (err) {
        log.warn('viz service not started', { addr: o.vizAddr, error: String(err), hint: 'free the port or pass --viz-addr (off for none)' });
      }
    }
    return { destinationPort, ...(identityPort !== undefined ? { identityPort } : {}), ...(policyPort !== undefined ? { policyPort } : {}), adminPort, ...(vizPort !== undefined ? { vizPort } : {}), ...(identityService ? { identity: identityService } : {}), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** With Kubernetes discovery and no mesh file, tokens are service-account tokens: TokenReview. */
function inClusterTokenVerifier(identity: IdentityModule, o: ControlOptions) {
  const host = process.env['KUBERNETES_SERVICE_HOST'];
  const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (!host) {
    throw new LinnetError('LINNET_CONTROL_NO_TOKENS', 'identity needs workload tokens: give --discovery-file (its workloads list) or run in-cluster', {
      hint: 'add --discovery-file FILE with a workloads list, or run linnet control in a pod (TokenReview)',
    });
  }
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  return new identity.KubernetesTokenVerifier({
    apiServer: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    bearerTokenFile: `${sa}/token`,
    ca: readFileSync(`${sa}/ca.crt`),
    controlNamespace: o.controlNamespace,
    trustDomain: o.trustDomain,
    // The injector projects the proxy's token with this audience; TokenReview must ask for it or
    // the API server refuses the token.
    audiences: [TOKEN_AUDIENCE],
  });
}

export const command: Command = {
  summary: 'the control plane: destination (discovery) and identity (CA) gRPC services',
  get usage() {
    return usage();
  },
  async run(args: string[]): Promise<number> {
    const o = parseControlArgs(args);
    const log = createLogger(o.log, 'control');
    const running = await startControl(o, log);
    await new Promise<void>((done) => {
      const onSignal = (sig: NodeJS.Signals) => {
        log.info('stopping', { signal: sig });
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        done();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    await running.stop();
    log.info('stopped');
    return 0;
  },
};
