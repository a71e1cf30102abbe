/**
 * The containers and volumes the injector adds to a pod, built from resolved settings. Pure: no
 * annotation parsing here (see resolve.ts), only the shape of the sidecar, so a reader sees the
 * whole pod-spec contract in one place.
 */
import { createHash } from 'node:crypto';
import { formatPortList, type PortRange } from './annotations';
import type { SidecarForm } from './form';

export const PROXY_CONTAINER = 'linnet-proxy';
export const INIT_CONTAINER = 'linnet-init';
export const TOKEN_VOLUME = 'linnet-identity-token';
export const XTABLES_VOLUME = 'linnet-init-xtables-lock';
export const OUR_VOLUMES = [TOKEN_VOLUME, XTABLES_VOLUME] as const;

export const PROXY_UID = 2102;
export const NOBODY_UID = 65534;
export const INBOUND_PORT = 4143;
export const OUTBOUND_PORT = 4140;
export const ADMIN_PORT = 4191;
export const CONTROL_PORT = 4190;
export const DEFAULT_IMAGE = 'ghcr.io/linnet/proxy';
export const DEFAULT_OPAQUE_PORTS = '25,587,3306,4444,5432,6379,9300,11211';
export const TOKEN_AUDIENCE = 'identity.linnet.io';
export const TOKEN_DIR = '/var/run/secrets/tokens';
export const TOKEN_PATH = 'linnet-identity-token';
/** The CLI inside the proxy image (Dockerfile.proxy), for the postStart hook. */
export const IMAGE_LINNET_BIN = '/linnet/bin/linnet';
/** How long the postStart hook waits for /ready before it fails (and the kubelet restarts the proxy). */
export const AWAIT_TIMEOUT = '2m';
/** Linkerd's default shutdown grace period. */
export const DEFAULT_SHUTDOWN_GRACE = '120s';

/** Sidecars of other meshes (and of older Linkerd): a pod that has one is left alone. */
export const FOREIGN_SIDECARS = ['istio-proxy', 'istio-init', 'linkerd-proxy', 'linkerd-init', 'envoy-sidecar', 'consul-dataplane', 'kuma-sidecar', 'kuma-init'];

export interface Resources {
  cpuRequest: string;
  cpuLimit: string;
  memoryRequest: string;
  memoryLimit: string;
}

export const DEFAULT_PROXY_RESOURCES: Resources = { cpuRequest: '100m', cpuLimit: '1', memoryRequest: '64Mi', memoryLimit: '256Mi' };
/** `linnet init` is a short Node.js process: it needs more memory than a Go init would. */
export const INIT_RESOURCES: Resources = { cpuRequest: '10m', cpuLimit: '100m', memoryRequest: '32Mi', memoryLimit: '128Mi' };

export interface SidecarSettings {
  image: string; // without tag
  version: string; // the tag
  ingress: boolean;
  logLevel: string | undefined;
  workers: string | undefined;
  detectTimeout: string | undefined;
  opaquePorts: PortRange[];
  skipInboundPorts: PortRange[];
  skipOutboundPorts: PortRange[];
  skipSubnets: string[];
  resources: Resources;
  controlPlaneNamespace: string;
  trustDomain: string;
  /** PEM text; absent: the proxy runs without identity (no mTLS), which the report warns about. */
  trustAnchorsPem: string | undefined;
  /** native: an init container with restartPolicy Always; classic: a regular container. */
  form: SidecarForm;
  /** Classic form: the proxy goes first with a postStart hook that returns once it is ready. */
  await: boolean;
  /** POST /shutdown on the admin port (localhost only), for `linnet await --shutdown`. Off by default (CVE-2024-40632). */
  adminShutdown: boolean;
  /** LINNET_PROXY_SHUTDOWN_GRACE_PERIOD, as written (`120s`). */
  shutdownGrace: string;
  /** The pod's or namespace's default-inbound-policy annotation, else the install's; undefined: the proxy's own default. */
  defaultInboundPolicy: string | undefined;
  /** The app containers' TCP ports: the proxy asks the policy service about them at start, not at their first connection. */
  inboundPorts: number[];
  /** Tap served on 4190 to the viz service's identity (Linkerd's default; `config.linkerd.io/disable-tap: "true"` turns it off). */
  tap: boolean;
}

type Json = Record<string, unknown>;

function resources(r: Resources): Json {
  return { requests: { cpu: r.cpuRequest, memory: r.memoryRequest }, limits: { cpu: r.cpuLimit, memory: r.memoryLimit } };
}

/** linkerd2-proxy-init's flags; 4190 and 4191 are always ignored inbound so probes and tap reach the proxy itself. */
export function initArgs(s: SidecarSettings): string[] {
  const inboundIgnore = formatPortList([{ lo: CONTROL_PORT, hi: CONTROL_PORT }, { lo: ADMIN_PORT, hi: ADMIN_PORT }, ...s.skipInboundPorts.filter((r) => !(r.lo === r.hi && (r.lo === CONTROL_PORT || r.lo === ADMIN_PORT)))]);
  const args = [
    'init',
    '--incoming-proxy-port', String(INBOUND_PORT),
    '--outgoing-proxy-port', String(OUTBOUND_PORT),
    '--proxy-uid', String(PROXY_UID),
    '--inbound-ports-to-ignore', inboundIgnore,
  ];
  if (s.skipOutboundPorts.length > 0) args.push('--outbound-ports-to-ignore', formatPortList(s.skipOutboundPorts));
  if (s.skipSubnets.length > 0) args.push('--subnets-to-ignore', s.skipSubnets.join(','));
  // An IPv6 subnet to skip means the pod speaks IPv6: set up ip6tables too (init refuses it otherwise).
  if (s.skipSubnets.some((n) => n.includes(':'))) args.push('--ipv6');
  return args;
}

export function initContainer(s: SidecarSettings): Json {
  return {
    name: INIT_CONTAINER,
    image: `${s.image}:${s.version}`,
    imagePullPolicy: 'IfNotPresent',
    args: initArgs(s),
    resources: resources(INIT_RESOURCES),
    securityContext: {
      // iptables needs NET_ADMIN (and NET_RAW for some matches); nothing else, and not as root.
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: NOBODY_UID,
      runAsGroup: NOBODY_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // iptables-nft takes /run/xtables.lock; the root filesystem is read-only.
    volumeMounts: [{ name: XTABLES_VOLUME, mountPath: '/run' }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

export function identityName(s: SidecarSettings): string {
  return `$(_pod_sa).$(_pod_ns).serviceaccount.identity.${s.controlPlaneNamespace}.${s.trustDomain}`;
}

export function proxyEnv(s: SidecarSettings): Json[] {
  const env: Json[] = [
    { name: '_pod_name', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: '_pod_ns', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: '_pod_sa', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
    { name: 'LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', value: formatPortList(s.opaquePorts) },
  ];
  if (s.logLevel !== undefined) env.push({ name: 'LINNET_PROXY_LOG', value: s.logLevel });
  if (s.workers !== undefined) env.push({ name: 'LINNET_PROXY_WORKERS', value: s.workers });
  if (s.detectTimeout !== undefined) env.push({ name: 'LINNET_PROXY_DETECT_TIMEOUT', value: s.detectTimeout });
  if (s.ingress) env.push({ name: 'LINNET_PROXY_INGRESS_MODE', value: 'true' });
  env.push({ name: 'LINNET_PROXY_SHUTDOWN_GRACE_PERIOD', value: s.shutdownGrace });
  if (s.adminShutdown) env.push({ name: 'LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED', value: 'true' });
  const cp = `${s.controlPlaneNamespace}.svc.${s.trustDomain}.`;
  env.push({ name: 'LINNET_PROXY_DESTINATION_SVC_ADDR', value: `linnet-destination.${cp}:8086` });
  // Inbound policy: the proxy names its pod to the policy service, which compiles the Servers and
  // authorizations that select it (Linkerd's LINKERD2_PROXY_POLICY_WORKLOAD).
  env.push(
    { name: 'LINNET_PROXY_POLICY_SVC_ADDR', value: `linnet-policy.${cp}:8090` },
    { name: 'LINNET_PROXY_POLICY_WORKLOAD', value: '$(_pod_ns):$(_pod_name)' },
  );
  if (s.defaultInboundPolicy !== undefined) env.push({ name: 'LINNET_PROXY_INBOUND_DEFAULT_POLICY', value: s.defaultInboundPolicy });
  if (s.inboundPorts.length > 0) env.push({ name: 'LINNET_PROXY_INBOUND_PORTS', value: s.inboundPorts.join(',') });
  if (s.trustAnchorsPem !== undefined) {
    env.push(
      { name: 'LINNET_PROXY_IDENTITY_SVC_ADDR', value: `linnet-identity.${cp}:8080` },
      // The identity service's own name: the proxy talks TLS to it and checks it against the anchors.
      { name: 'LINNET_PROXY_IDENTITY_SVC_NAME', value: `linnet-identity.${s.controlPlaneNamespace}.serviceaccount.identity.${s.controlPlaneNamespace}.${s.trustDomain}` },
      { name: 'LINNET_PROXY_IDENTITY_LOCAL_NAME', value: identityName(s) },
      { name: 'LINNET_PROXY_IDENTITY_TOKEN_FILE', value: `${TOKEN_DIR}/${TOKEN_PATH}` },
      { name: 'LINNET_PROXY_IDENTITY_TRUST_ANCHORS', value: s.trustAnchorsPem },
    );
    // Tap needs the proxy's identity (it is served over mTLS): only with identity, unless disabled.
    if (s.tap) env.push({ name: 'LINNET_PROXY_TAP_SVC_NAME', value: `tap.linnet-viz.serviceaccount.identity.${s.controlPlaneNamespace}.${s.trustDomain}` });
  }
  return env;
}

export function proxyContainer(s: SidecarSettings): Json {
  const c: Json = {
    name: PROXY_CONTAINER,
    image: `${s.image}:${s.version}`,
    imagePullPolicy: 'IfNotPresent',
    args: ['proxy'],
    env: proxyEnv(s),
    ports: [
      { name: 'linnet-proxy', containerPort: INBOUND_PORT, protocol: 'TCP' },
      { name: 'linnet-admin', containerPort: ADMIN_PORT, protocol: 'TCP' },
    ],
    resources: resources(s.resources),
    livenessProbe: { httpGet: { path: '/live', port: ADMIN_PORT }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1 },
    readinessProbe: { httpGet: { path: '/ready', port: ADMIN_PORT }, initialDelaySeconds: 2, periodSeconds: 10, timeoutSeconds: 1 },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  if (s.trustAnchorsPem !== undefined) c.volumeMounts = [{ name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true }];
  if (s.form === 'native') {
    // Kubernetes starts the next init container (and then the app) only once this probe passes,
    // and stops the proxy after the app containers have exited: Jobs complete by themselves.
    c.restartPolicy = 'Always';
    c.startupProbe = { httpGet: { path: '/ready', port: ADMIN_PORT }, periodSeconds: 1, failureThreshold: 120, timeoutSeconds: 1 };
  } else if (s.await) {
    // The kubelet starts the next container only after this hook returns: the app's first
    // connection finds a proxy that serves.
    c.lifecycle = { postStart: { exec: { command: [IMAGE_LINNET_BIN, 'await', '--timeout', AWAIT_TIMEOUT] } } };
  }
  return c;
}

export function volumes(s: SidecarSettings): Json[] {
  const v: Json[] = [{ name: XTABLES_VOLUME, emptyDir: {} }];
  if (s.trustAnchorsPem !== undefined) {
    // A token bound to this pod and audience, renewed by the kubelet: the proxy's proof of who it is.
    v.push({
      name: TOKEN_VOLUME,
      projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 86400, path: TOKEN_PATH } }] },
    });
  }
  return v;
}

/** sha256 over the PEM text with line endings normalised: the same anchors give the same digest. */
export function trustRootDigest(pem: string): string {
  return createHash('sha256').update(pem.replace(/\r\n/g, '\n').trim()).digest('hex');
}
