/**
 * The pure injection transform: a Kubernetes object plus its namespace's annotations → the
 * injected object and a report. Nothing here reads files or sockets; the CLI and the webhook are
 * thin shells around `injectObject` and `uninjectObject`. Inputs are never mutated.
 */
import {
  CONFIG_PREFIX,
  CONTROL_PLANE_NS_LABEL,
  CREATED_BY_ANNOTATION,
  IDENTITY_MODE_ANNOTATION,
  INJECT_KEY,
  INJECT_KEY_ALIAS,
  OWNER_LABEL_PREFIX,
  PROXY_VERSION_ANNOTATION,
  TRUST_ROOT_ANNOTATION,
  WORKLOAD_NS_LABEL,
  configKeys,
  durationSeconds,
  formatPortList,
  injectKeys,
  lookup,
  parseDefaultInboundPolicy,
  parseDurationText,
  parseEnabled,
  parseImage,
  parseInjectMode,
  parseLogLevel,
  parsePortList,
  parseQuantity,
  parseSubnets,
  parseWorkers,
  type Annotations,
  type ConfigKey,
  type InjectMode,
  type PortRange,
} from './annotations';
import type { DefaultPolicy } from '../../core/policy/model';
import { InjectError } from './errors';
import { decideForm, type FormDecision, type FormDefault, type KubeVersion } from './form';
import {
  DEFAULT_IMAGE,
  DEFAULT_SHUTDOWN_GRACE,
  DEFAULT_OPAQUE_PORTS,
  DEFAULT_PROXY_RESOURCES,
  FOREIGN_SIDECARS,
  INIT_CONTAINER,
  OUR_VOLUMES,
  PROXY_CONTAINER,
  initContainer,
  proxyContainer,
  trustRootDigest,
  volumes,
  type SidecarSettings,
} from './sidecar';
import { linnetVersion } from './version';

export type Json = Record<string, unknown>;

export interface InjectOptions {
  /** true: render the whole sidecar (`--manual`, the webhook). false: only add the inject annotation. */
  manual: boolean;
  /** The namespace's annotations (pod annotations win over these). */
  namespaceAnnotations?: Annotations;
  /** The webhook injects only what its namespace or pod asks for; the CLI injects what it is given. */
  requireOptIn?: boolean;
  version?: string;
  image?: string;
  controlPlaneNamespace?: string;
  trustDomain?: string;
  trustAnchorsPem?: string;
  /** Written to `linnet.io/created-by`, e.g. `linnet/cli 0.1.0`. */
  createdBy?: string;
  /** The namespace when the object does not name one (the webhook's request.namespace). */
  namespace?: string;
  /** The pod's controller (from ownerReferences), for the owner label of pods the webhook sees. */
  owner?: { kind: string; name: string };
  /** The install flag: native sidecars always, never, or by the API server's version (default auto). */
  nativeSidecarDefault?: FormDefault;
  /** The API server's version, when the webhook could ask it (decides the form under `auto`). */
  kubernetesVersion?: KubeVersion;
  /** The install's default inbound policy (`--default-inbound-policy`); annotations win over it. */
  defaultInboundPolicy?: DefaultPolicy;
}

/** Where uninject finds the pod's own terminationGracePeriodSeconds (`unset`, or the number) to restore it. */
export const ORIGINAL_GRACE_ANNOTATION = 'linnet.io/original-termination-grace-period';

export type ReportStatus = 'injected' | 'uninjected' | 'skipped' | 'unchanged' | 'passthrough' | 'annotated';

export interface Report {
  kind: string;
  name: string;
  status: ReportStatus;
  reason?: string;
  warnings: string[];
}

export interface Result {
  object: Json;
  report: Report;
  /** true when `object` differs from the input. */
  changed: boolean;
}

/** Where each workload kind keeps its pod template, as a path from the object's root. */
export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function describe(obj: Json): { kind: string; name: string } {
  const kind = typeof obj.kind === 'string' ? obj.kind : '<no kind>';
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : typeof meta.generateName === 'string' ? `${meta.generateName}*` : '<unnamed>';
  return { kind, name };
}

/** `deployment "web" injected`, `pod "x" skipped: hostNetwork is enabled`. */
export function formatReport(r: Report): string {
  const head = `${r.kind.toLowerCase()} "${r.name}" ${r.status}`;
  return r.reason ? `${head}: ${r.reason}` : head;
}

/** The pod template (metadata + spec) of a workload, checking the shape on the way. */
function podTemplate(obj: Json, kind: string): { meta: Json; spec: Json; path: string } {
  const path = POD_TEMPLATE_PATHS[kind]!;
  let node: unknown = obj;
  const walked: string[] = [];
  for (const key of path) {
    walked.push(key);
    if (!isObject(node) || !isObject(node[key])) {
      throw new InjectError('LINNET_INJECT_BAD_MANIFEST', `a ${kind} needs an object here`, {
        field: walked.join('.'),
        hint: `give the ${kind} its ${path.join('.')}`,
      });
    }
    node = node[key];
  }
  const tpl = node as Json;
  const prefix = path.length ? path.join('.') + '.' : '';
  if (tpl.metadata !== undefined && !isObject(tpl.metadata)) {
    throw new InjectError('LINNET_INJECT_BAD_MANIFEST', 'metadata must be an object', { field: `${prefix}metadata` });
  }
  if (!isObject(tpl.spec)) {
    throw new InjectError('LINNET_INJECT_BAD_MANIFEST', `a ${kind === 'Pod' ? 'Pod' : 'pod template'} needs a spec object`, {
      field: `${prefix}spec`,
      hint: 'add the pod spec (containers at least)',
    });
  }
  if (!Array.isArray(tpl.spec.containers) || tpl.spec.containers.length === 0 || !tpl.spec.containers.every(isObject)) {
    throw new InjectError('LINNET_INJECT_BAD_MANIFEST', 'containers must be a non-empty list of containers', {
      field: `${prefix}spec.containers`,
      hint: 'a pod needs at least one container',
    });
  }
  for (const key of ['initContainers', 'volumes'] as const) {
    const v = tpl.spec[key];
    if (v !== undefined && v !== null && (!Array.isArray(v) || !v.every(isObject))) {
      throw new InjectError('LINNET_INJECT_BAD_MANIFEST', `${key} must be a list of objects`, { field: `${prefix}spec.${key}` });
    }
  }
  const annotations = isObject(tpl.metadata) ? tpl.metadata.annotations : undefined;
  if (annotations !== undefined && annotations !== null && (!isObject(annotations) || !Object.values(annotations).every((v) => typeof v === 'string'))) {
    throw new InjectError('LINNET_INJECT_BAD_MANIFEST', 'annotations must map names to strings (quote numbers)', {
      field: `${prefix}metadata.annotations`,
    });
  }
  // Labels too: a non-map value was replaced by our labels and lost on uninject (fuzz finding).
  const labels = isObject(tpl.metadata) ? tpl.metadata.labels : undefined;
  if (labels !== undefined && labels !== null && (!isObject(labels) || !Object.values(labels).every((v) => typeof v === 'string'))) {
    throw new InjectError('LINNET_INJECT_BAD_MANIFEST', 'labels must map names to strings (quote numbers)', {
      field: `${prefix}metadata.labels`,
    });
  }
  tpl.metadata ??= {};
  return { meta: tpl.metadata as Json, spec: tpl.spec, path: prefix };
}

function containerNames(spec: Json): string[] {
  const names: string[] = [];
  for (const key of ['containers', 'initContainers'] as const) {
    const list = spec[key];
    if (Array.isArray(list)) for (const c of list) if (isObject(c) && typeof c.name === 'string') names.push(c.name);
  }
  return names;
}

/** Why this pod must be left alone, or undefined. Order matters: the most specific reason first. */
function skipReason(meta: Json, spec: Json): string | undefined {
  if (spec.hostNetwork === true) return 'hostNetwork is enabled';
  const names = containerNames(spec);
  if (names.includes(PROXY_CONTAINER) || names.includes(INIT_CONTAINER)) return `pod already has the ${PROXY_CONTAINER} sidecar`;
  const foreign = names.find((n) => FOREIGN_SIDECARS.includes(n));
  if (foreign) return `pod already has another mesh's sidecar (${foreign})`;
  const ann = isObject(meta.annotations) ? meta.annotations : {};
  if (typeof ann['sidecar.istio.io/status'] === 'string') return "pod already has another mesh's sidecar (istio)";
  return undefined;
}

/** Named container ports → numbers, for port names in annotations. */
function namedPorts(spec: Json): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of spec.containers as Json[]) {
    if (!Array.isArray(c.ports)) continue;
    for (const p of c.ports) {
      if (isObject(p) && typeof p.name === 'string' && typeof p.containerPort === 'number') m.set(p.name, p.containerPort);
    }
  }
  return m;
}

/** Every TCP containerPort the pod's containers declare, once each, in order. */
function appTcpPorts(spec: Json): number[] {
  const out = new Set<number>();
  for (const c of spec.containers as Json[]) {
    if (!Array.isArray(c.ports)) continue;
    for (const p of c.ports) {
      if (isObject(p) && typeof p.containerPort === 'number' && (p.protocol === undefined || p.protocol === 'TCP')) out.add(p.containerPort);
    }
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Server-speaks-first protocols, by well-known port name and number: a client of these sends
 * nothing until the server greets it, so detection would only add the detect timeout. Ports a pod
 * exposes under these names or numbers become opaque without any annotation.
 */
export const SERVER_SPEAKS_FIRST_NAMES = ['smtp', 'smtps', 'submission', 'mysql', 'postgres', 'postgresql', 'redis', 'memcache', 'memcached', 'ftp', 'ssh', 'pop3', 'imap', 'nats', 'elasticsearch-transport'];
export const SERVER_SPEAKS_FIRST_PORTS = [21, 22, 25, 110, 143, 465, 587, 3306, 4222, 4444, 5432, 6379, 9300, 11211];

function exposedServerFirstPorts(spec: Json): PortRange[] {
  const out: PortRange[] = [];
  for (const c of spec.containers as Json[]) {
    if (!Array.isArray(c.ports)) continue;
    for (const p of c.ports) {
      if (!isObject(p) || typeof p.containerPort !== 'number') continue;
      if (p.protocol !== undefined && p.protocol !== 'TCP') continue;
      const name = typeof p.name === 'string' ? p.name.toLowerCase() : '';
      const isSsf = SERVER_SPEAKS_FIRST_PORTS.includes(p.containerPort) || SERVER_SPEAKS_FIRST_NAMES.some((n) => name === n || name.startsWith(n + '-') || name.endsWith('-' + n));
      if (isSsf) out.push({ lo: p.containerPort, hi: p.containerPort });
    }
  }
  return out;
}

function mergeRanges(...lists: PortRange[][]): PortRange[] {
  const seen = new Set<string>();
  const out: PortRange[] = [];
  for (const r of lists.flat()) {
    const k = `${r.lo}-${r.hi}`;
    if (seen.has(k)) continue;
    if (r.lo === r.hi && out.some((o) => o.lo <= r.lo && r.lo <= o.hi)) continue;
    seen.add(k);
    out.push(r);
  }
  return out;
}

/** All config annotations of a pod + namespace → the sidecar's settings (throws InjectError naming the field). */
export function resolveSettings(podAnn: Annotations, nsAnn: Annotations, spec: Json, mode: InjectMode, opts: InjectOptions): SidecarSettings & { formDecision: FormDecision } {
  const get = (key: ConfigKey) => lookup(podAnn, nsAnn, configKeys(key));
  const flag = (key: ConfigKey) => {
    const f = get(key);
    return f ? { enabled: parseEnabled(f), key: f.key } : undefined;
  };
  const formDecision = decideForm({
    annotation: flag('proxy-enable-native-sidecar'),
    installDefault: opts.nativeSidecarDefault ?? 'auto',
    serverVersion: opts.kubernetesVersion,
  });
  const named = namedPorts(spec);
  const ports = (key: ConfigKey) => {
    const f = get(key);
    return f ? parsePortList(f, named) : [];
  };
  const opaqueFound = get('opaque-ports');
  const baseOpaque = opaqueFound
    ? parsePortList(opaqueFound, named)
    : parsePortList({ value: DEFAULT_OPAQUE_PORTS, key: 'default', from: 'pod' });
  const text = (key: ConfigKey, parse: (f: NonNullable<ReturnType<typeof get>>) => string) => {
    const f = get(key);
    return f ? parse(f) : undefined;
  };
  return {
    image: text('proxy-image', parseImage) ?? opts.image ?? DEFAULT_IMAGE,
    version: text('proxy-version', parseImage) ?? opts.version ?? linnetVersion(),
    ingress: mode === 'ingress',
    logLevel: text('proxy-log-level', parseLogLevel),
    workers: text('proxy-workers', parseWorkers),
    detectTimeout: text('proxy-detect-timeout', parseDurationText),
    opaquePorts: mergeRanges(baseOpaque, exposedServerFirstPorts(spec)),
    skipInboundPorts: ports('skip-inbound-ports'),
    skipOutboundPorts: ports('skip-outbound-ports'),
    skipSubnets: (() => {
      const f = get('skip-subnets');
      return f ? parseSubnets(f) : [];
    })(),
    resources: {
      cpuRequest: text('proxy-cpu-request', parseQuantity) ?? DEFAULT_PROXY_RESOURCES.cpuRequest,
      cpuLimit: text('proxy-cpu-limit', parseQuantity) ?? DEFAULT_PROXY_RESOURCES.cpuLimit,
      memoryRequest: text('proxy-memory-request', parseQuantity) ?? DEFAULT_PROXY_RESOURCES.memoryRequest,
      memoryLimit: text('proxy-memory-limit', parseQuantity) ?? DEFAULT_PROXY_RESOURCES.memoryLimit,
    },
    controlPlaneNamespace: opts.controlPlaneNamespace ?? 'linnet',
    trustDomain: opts.trustDomain ?? 'cluster.local',
    trustAnchorsPem: opts.trustAnchorsPem,
    form: formDecision.form,
    await: flag('proxy-await')?.enabled ?? true,
    adminShutdown: flag('proxy-admin-shutdown')?.enabled ?? false,
    shutdownGrace: text('shutdown-grace-period', parseDurationText) ?? DEFAULT_SHUTDOWN_GRACE,
    defaultInboundPolicy: text('default-inbound-policy', parseDefaultInboundPolicy) ?? opts.defaultInboundPolicy,
    inboundPorts: appTcpPorts(spec),
    tap: !(flag('disable-tap')?.enabled ?? false),
    formDecision,
  };
}

function stringMap(v: unknown): Record<string, string> {
  return isObject(v) ? (v as Record<string, string>) : {};
}

/** Services carry only the opaque-ports annotation, so that clients skip detection toward them. */
function injectService(obj: Json, opts: InjectOptions): Result {
  const { kind, name } = describe(obj);
  const out = clone(obj);
  out.metadata = isObject(out.metadata) ? out.metadata : {};
  const meta = out.metadata as Json;
  const ann = stringMap(meta.annotations);
  const ns = opts.namespaceAnnotations ?? {};
  const report: Report = { kind, name, status: 'unchanged', warnings: [] };
  if (lookup(ann, undefined, configKeys('opaque-ports'))) {
    return { object: obj, report: { ...report, reason: 'it already has an opaque-ports annotation' }, changed: false };
  }
  const nsFound = lookup(undefined, ns, configKeys('opaque-ports'));
  const opaque = nsFound ? parsePortList(nsFound) : parsePortList({ value: DEFAULT_OPAQUE_PORTS, key: 'default', from: 'pod' });
  const spec = isObject(out.spec) ? out.spec : {};
  const hits: PortRange[] = [];
  for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
    if (!isObject(p) || typeof p.port !== 'number') continue;
    if (p.protocol !== undefined && p.protocol !== 'TCP') continue;
    const target = typeof p.targetPort === 'number' ? p.targetPort : p.port;
    const name = typeof p.name === 'string' ? p.name.toLowerCase() : '';
    const inList = (n: number) => opaque.some((r) => r.lo <= n && n <= r.hi);
    if (inList(p.port) || inList(target) || SERVER_SPEAKS_FIRST_NAMES.includes(name)) hits.push({ lo: p.port, hi: p.port });
  }
  if (hits.length === 0) return { object: obj, report: { ...report, reason: 'no opaque ports' }, changed: false };
  meta.annotations = { ...ann, [CONFIG_PREFIX + 'opaque-ports']: formatPortList(mergeRanges(hits)) };
  return { object: out, report: { ...report, status: 'annotated', reason: `opaque ports ${formatPortList(mergeRanges(hits))}` }, changed: true };
}

/**
 * A Namespace is injected as `linkerd inject` does it: it gets `linnet.io/inject: enabled`, and
 * the webhook then injects every pod created in it. kube-system and the control plane's own
 * namespace are refused (the webhook's selector excludes them anyway).
 */
function injectNamespace(obj: Json, opts: InjectOptions): Result {
  const { kind, name } = describe(obj);
  const report: Report = { kind, name, status: 'unchanged', warnings: [] };
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const labels = stringMap(meta.labels);
  if (name === 'kube-system' || name === (opts.controlPlaneNamespace ?? 'linnet') || labels['linnet.io/is-control-plane'] === 'true') {
    return { object: obj, report: { ...report, status: 'skipped', reason: 'the control plane and kube-system are never injected' }, changed: false };
  }
  const ann = stringMap(meta.annotations);
  const found = lookup(ann, undefined, injectKeys());
  if (found) {
    const mode = parseInjectMode({ ...found, from: 'namespace' });
    return { object: obj, report: mode === 'disabled' ? { ...report, status: 'skipped', reason: `injection disabled by ${found.key}=disabled` } : report, changed: false };
  }
  const out = clone(obj);
  out.metadata = { ...meta, annotations: { ...ann, [INJECT_KEY]: 'enabled' } };
  return { object: out, report: { ...report, status: 'injected' }, changed: true };
}

/** Inject one object. Unknown kinds come back untouched with status `passthrough`. */
export function injectObject(obj: Json, opts: InjectOptions): Result {
  const { kind, name } = describe(obj);
  if (kind === 'Service') return injectService(obj, opts);
  if (kind === 'Namespace' && obj.apiVersion === 'v1') return injectNamespace(obj, opts);
  if (!(kind in POD_TEMPLATE_PATHS)) return { object: obj, report: { kind, name, status: 'passthrough', warnings: [] }, changed: false };

  const out = clone(obj);
  const { meta, spec } = podTemplate(out, kind);
  const report: Report = { kind, name, status: 'injected', warnings: [] };
  const skip = (reason: string): Result => ({ object: obj, report: { ...report, status: 'skipped', reason }, changed: false });

  const podAnn = stringMap(meta.annotations);
  const nsAnn = opts.namespaceAnnotations ?? {};
  const found = lookup(podAnn, opts.requireOptIn ? nsAnn : undefined, injectKeys());
  const mode = found ? parseInjectMode(found) : undefined;
  if (mode === 'disabled') return skip(`injection disabled by ${found!.key}=disabled on the ${found!.from}`);
  if (mode === undefined && opts.requireOptIn) return skip(`injection not enabled (no ${INJECT_KEY} annotation on the pod or its namespace)`);

  const reason = skipReason(meta, spec);
  if (reason) return skip(reason);

  // Settings are parsed even in annotation-only mode, so a bad annotation fails now, not at admission.
  const settings = resolveSettings(podAnn, nsAnn, spec, mode ?? 'enabled', opts);

  if (!opts.manual) {
    if (mode === 'enabled' || mode === 'ingress') return { object: obj, report: { ...report, reason: undefined }, changed: false };
    meta.annotations = { ...podAnn, [INJECT_KEY]: 'enabled' };
    return { object: out, report, changed: true };
  }

  const userInits = (spec.initContainers as Json[] | undefined) ?? [];
  if (settings.form === 'native') {
    // After linnet-init (the rules must be in place) and before the user's init containers, which
    // then reach the network through a proxy that serves (the classic form cannot offer that).
    spec.initContainers = [initContainer(settings), proxyContainer(settings), ...userInits];
  } else {
    spec.initContainers = [initContainer(settings), ...userInits];
    // With await the proxy must come first: the kubelet starts containers in order and waits for
    // each postStart hook. Without it the order is left as it was, the proxy last.
    spec.containers = settings.await ? [proxyContainer(settings), ...(spec.containers as Json[])] : [...(spec.containers as Json[]), proxyContainer(settings)];
  }
  spec.volumes = [...((spec.volumes as Json[] | undefined) ?? []), ...volumes(settings)];
  report.reason = `${settings.form} sidecar (${settings.formDecision.reason})`;
  if (settings.formDecision.warning) report.warnings.push(settings.formDecision.warning);

  const annotations: Record<string, string> = { ...podAnn, [PROXY_VERSION_ANNOTATION]: settings.version };
  // The kubelet kills what is still running after terminationGracePeriodSeconds: it must cover the
  // proxy's grace period, or open requests are cut at 30 s whatever the proxy was told.
  const graceSeconds = durationSeconds(settings.shutdownGrace);
  const podGrace = spec.terminationGracePeriodSeconds;
  if (!(typeof podGrace === 'number' && podGrace >= graceSeconds)) {
    annotations[ORIGINAL_GRACE_ANNOTATION] = typeof podGrace === 'number' ? String(podGrace) : 'unset';
    spec.terminationGracePeriodSeconds = graceSeconds;
  }
  annotations[CREATED_BY_ANNOTATION] = opts.createdBy ?? `linnet/cli ${linnetVersion()}`;
  if (settings.trustAnchorsPem !== undefined) {
    annotations[TRUST_ROOT_ANNOTATION] = trustRootDigest(settings.trustAnchorsPem);
    annotations[IDENTITY_MODE_ANNOTATION] = 'default';
  } else {
    annotations[IDENTITY_MODE_ANNOTATION] = 'disabled';
    report.warnings.push('no trust anchors given: the proxy runs without identity (no mTLS); pass --identity-trust-anchors-file');
  }
  meta.annotations = annotations;

  const labels: Record<string, string> = { ...stringMap(meta.labels), [CONTROL_PLANE_NS_LABEL]: settings.controlPlaneNamespace };
  const objMeta = isObject(obj.metadata) ? obj.metadata : {};
  const workloadNs = typeof objMeta.namespace === 'string' ? objMeta.namespace : opts.namespace;
  if (workloadNs) labels[WORKLOAD_NS_LABEL] = workloadNs;
  if (kind !== 'Pod' && typeof objMeta.name === 'string') labels[OWNER_LABEL_PREFIX + kind.toLowerCase()] = objMeta.name;
  else if (opts.owner) labels[OWNER_LABEL_PREFIX + opts.owner.kind.toLowerCase()] = opts.owner.name;
  meta.labels = labels;
  return { object: out, report, changed: true };
}

function withoutKeys(map: unknown, drop: (k: string, v: unknown) => boolean): Record<string, unknown> | undefined {
  if (!isObject(map)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(map)) if (!drop(k, v)) out[k] = v;
  return out;
}

const OUR_ANNOTATIONS = [PROXY_VERSION_ANNOTATION, TRUST_ROOT_ANNOTATION, CREATED_BY_ANNOTATION, IDENTITY_MODE_ANNOTATION];

/**
 * Undo `injectObject`: our containers, volumes, labels and annotations go, and so does an
 * `inject: enabled|ingress` annotation (uninject takes the workload out of the mesh). Maps and
 * lists left empty are removed, so uninject(inject(x)) is x for any x without our keys.
 */
export function uninjectObject(obj: Json): Result {
  const { kind, name } = describe(obj);
  if (kind === 'Namespace' && isObject(obj.metadata) && isObject(obj.metadata.annotations)) {
    const ann = withoutKeys(obj.metadata.annotations, (k, v) => (k === INJECT_KEY || k === INJECT_KEY_ALIAS) && (v === 'enabled' || v === 'ingress'))!;
    if (Object.keys(ann).length === Object.keys(obj.metadata.annotations).length) return { object: obj, report: { kind, name, status: 'unchanged', warnings: [] }, changed: false };
    const out = clone(obj);
    const meta = out.metadata as Json;
    if (Object.keys(ann).length === 0) delete meta.annotations;
    else meta.annotations = ann;
    return { object: out, report: { kind, name, status: 'uninjected', warnings: [] }, changed: true };
  }
  if (!(kind in POD_TEMPLATE_PATHS)) return { object: obj, report: { kind, name, status: 'passthrough', warnings: [] }, changed: false };
  const out = clone(obj);
  const { meta, spec } = podTemplate(out, kind);
  const byName = (drop: readonly string[]) => (c: unknown) => !(isObject(c) && typeof c.name === 'string' && drop.includes(c.name));
  const setList = (key: string, list: unknown[] | undefined) => {
    if (list === undefined) return;
    if (list.length === 0) delete spec[key];
    else spec[key] = list;
  };
  setList('containers', (spec.containers as unknown[]).filter(byName([PROXY_CONTAINER])));
  setList('initContainers', Array.isArray(spec.initContainers) ? spec.initContainers.filter(byName([INIT_CONTAINER, PROXY_CONTAINER])) : undefined);
  setList('volumes', Array.isArray(spec.volumes) ? spec.volumes.filter(byName(OUR_VOLUMES)) : undefined);
  const setMap = (key: string, map: Record<string, unknown> | undefined) => {
    if (map === undefined) return;
    if (Object.keys(map).length === 0) delete meta[key];
    else meta[key] = map;
  };
  const ann = isObject(meta.annotations) ? meta.annotations : {};
  const original = ann[ORIGINAL_GRACE_ANNOTATION];
  if (original === 'unset') delete spec.terminationGracePeriodSeconds;
  else if (typeof original === 'string' && /^\d+$/.test(original)) spec.terminationGracePeriodSeconds = Number(original);
  setMap(
    'annotations',
    withoutKeys(meta.annotations, (k, v) => k === ORIGINAL_GRACE_ANNOTATION || OUR_ANNOTATIONS.includes(k) || ((k === INJECT_KEY || k === INJECT_KEY_ALIAS) && (v === 'enabled' || v === 'ingress'))),
  );
  setMap('labels', withoutKeys(meta.labels, (k) => k === CONTROL_PLANE_NS_LABEL || k === WORKLOAD_NS_LABEL || k.startsWith(OWNER_LABEL_PREFIX)));
  const path = POD_TEMPLATE_PATHS[kind]!;
  // podTemplate() created an empty metadata if there was none; take it away again.
  if (Object.keys(meta).length === 0) {
    let node: Json = out;
    for (const key of path) node = node[key] as Json;
    delete node.metadata;
  }
  const changed = JSON.stringify(out) !== JSON.stringify(obj);
  return { object: changed ? out : obj, report: { kind, name, status: changed ? 'uninjected' : 'unchanged', warnings: [] }, changed };
}
