/**
 * The injector's annotation vocabulary: keys, Linkerd aliases, precedence (pod over namespace)
 * and the parsing of each value into a typed setting. Pure.
 */
import { isIP } from 'node:net';
import { DEFAULT_POLICIES, isDefaultPolicy, type DefaultPolicy } from '../../core/policy/model';
import { InjectError } from './errors';

export const INJECT_KEY = 'linnet.io/inject';
export const INJECT_KEY_ALIAS = 'linkerd.io/inject';
export const CONFIG_PREFIX = 'config.linnet.io/';
export const CONFIG_PREFIX_ALIAS = 'config.linkerd.io/';
/** Linkerd writes its newer settings (native sidecars among them) under the beta prefix first. */
export const CONFIG_PREFIX_BETA_ALIAS = 'config.beta.linkerd.io/';

/** Annotations and labels the injector writes, so uninject and check can recognise them. */
export const PROXY_VERSION_ANNOTATION = 'linnet.io/proxy-version';
export const TRUST_ROOT_ANNOTATION = 'linnet.io/trust-root-sha256';
export const CREATED_BY_ANNOTATION = 'linnet.io/created-by';
export const IDENTITY_MODE_ANNOTATION = 'linnet.io/identity-mode';
export const CONTROL_PLANE_NS_LABEL = 'linnet.io/control-plane-ns';
export const WORKLOAD_NS_LABEL = 'linnet.io/workload-ns';
/** `linnet.io/proxy-<kind>` = the owning workload's name, as Linkerd's `linkerd.io/proxy-deployment`. */
export const OWNER_LABEL_PREFIX = 'linnet.io/proxy-';

export type InjectMode = 'enabled' | 'disabled' | 'ingress';

/** Every `config.linnet.io/<key>` the injector reads. */
export const CONFIG_KEYS = [
  'proxy-image',
  'proxy-version',
  'proxy-log-level',
  'proxy-workers',
  'proxy-detect-timeout',
  'proxy-cpu-request',
  'proxy-cpu-limit',
  'proxy-memory-request',
  'proxy-memory-limit',
  'opaque-ports',
  'skip-inbound-ports',
  'skip-outbound-ports',
  'skip-subnets',
  'proxy-enable-native-sidecar',
  'proxy-await',
  'proxy-admin-shutdown',
  'shutdown-grace-period',
  'default-inbound-policy',
  'disable-tap',
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

export type Annotations = Readonly<Record<string, string>>;

/** Where a setting came from: reported so a user can see why a pod got what it got. */
export interface Found {
  value: string;
  key: string; // the annotation key actually present (may be the linkerd alias)
  from: 'pod' | 'namespace';
}

function lookupIn(ann: Annotations | undefined, keys: readonly string[]): { value: string; key: string } | undefined {
  if (!ann) return undefined;
  for (const key of keys) {
    const v = ann[key];
    if (typeof v === 'string') return { value: v, key };
  }
  return undefined;
}

/** The pod's value wins over the namespace's; within one level, the linnet key over the linkerd alias. */
export function lookup(pod: Annotations | undefined, ns: Annotations | undefined, keys: readonly string[]): Found | undefined {
  const p = lookupIn(pod, keys);
  if (p) return { ...p, from: 'pod' };
  const n = lookupIn(ns, keys);
  if (n) return { ...n, from: 'namespace' };
  return undefined;
}

export function injectKeys(): readonly string[] {
  return [INJECT_KEY, INJECT_KEY_ALIAS];
}

export function configKeys(key: ConfigKey): readonly string[] {
  return [CONFIG_PREFIX + key, CONFIG_PREFIX_ALIAS + key, CONFIG_PREFIX_BETA_ALIAS + key];
}

export function fieldOf(found: Found): string {
  return `${found.from === 'pod' ? 'pod' : 'namespace'} metadata.annotations["${found.key}"]`;
}

export function parseInjectMode(found: Found): InjectMode {
  const v = found.value.trim();
  if (v === 'enabled' || v === 'disabled' || v === 'ingress') return v;
  throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not enabled, disabled or ingress`, {
    field: fieldOf(found),
    hint: 'set it to enabled, disabled or ingress',
  });
}

/** One port or an inclusive range. */
export interface PortRange {
  lo: number;
  hi: number;
}

/**
 * `25,587,8000-8100,mysql`: numbers, ranges, and (like Linkerd) names of container ports, which
 * are resolved against the pod's declared ports; an unknown name is an error, not silently lost.
 */
export function parsePortList(found: Found, namedPorts: ReadonlyMap<string, number> = new Map()): PortRange[] {
  const out: PortRange[] = [];
  const seen = new Set<string>();
  const bad = (what: string) =>
    new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)}: ${what}`, {
      field: fieldOf(found),
      hint: 'use comma-separated ports (1-65535), ranges such as 8000-8100, or names of the pod\'s container ports',
    });
  for (const raw of found.value.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    let r: PortRange;
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    if (m) {
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (lo < 1 || hi > 65535 || lo > hi) throw bad(`${part} is not a port or range within 1-65535`);
      r = { lo, hi };
    } else if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(part)) {
      const p = namedPorts.get(part);
      if (p === undefined) throw bad(`no container port is named ${JSON.stringify(part)}`);
      r = { lo: p, hi: p };
    } else {
      throw bad(`${JSON.stringify(part)} is neither a port, a range nor a port name`);
    }
    const k = `${r.lo}-${r.hi}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

export function formatPortList(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.lo === r.hi ? String(r.lo) : `${r.lo}-${r.hi}`)).join(',');
}

/** `10.0.0.0/8, 192.168.0.0/16` → validated CIDRs (IPv4 or IPv6). */
export function parseSubnets(found: Found): string[] {
  const out: string[] = [];
  for (const raw of found.value.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    // node:net's isIP, as `linnet init` uses: a regex let "1fd00::/8" through, which init then
    // refused, leaving the pod in Init:CrashLoopBackOff (fuzz finding).
    const m = /^([^/]+)\/(\d{1,3})$/.exec(part);
    const family = m ? isIP(m[1]!) : 0;
    const ok = m !== null && !m[1]!.includes('%') && ((family === 4 && Number(m[2]) <= 32) || (family === 6 && Number(m[2]) <= 128));
    if (!ok) {
      throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(part)} is not a CIDR subnet`, {
        field: fieldOf(found),
        hint: 'use comma-separated CIDRs such as 10.0.0.0/8,fd00::/8',
      });
    }
    if (!out.includes(part)) out.push(part);
  }
  return out;
}

/** Kubernetes quantity (`100m`, `1`, `64Mi`, `1.5Gi`), checked so a typo fails here, not at pod admission. */
export function parseQuantity(found: Found): string {
  const v = found.value.trim();
  if (!/^[+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.test(v)) {
    throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not a Kubernetes quantity`, {
      field: fieldOf(found),
      hint: 'use a quantity such as 100m or 1 for CPU, 64Mi or 1Gi for memory',
    });
  }
  return v;
}

export function parseDurationText(found: Found): string {
  const v = found.value.trim();
  // Bounded digits: a 300-digit number matched here but is Infinity to the proxy (fuzz finding).
  if (!/^\d{1,9}(\.\d{1,9})?(ms|s|m|h)?$/.test(v)) {
    throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not a duration`, {
      field: fieldOf(found),
      hint: 'use a duration such as 300ms, 10s or 2m',
    });
  }
  return v;
}

export function parseWorkers(found: Found): string {
  const v = found.value.trim();
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) {
    throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not a worker count`, {
      field: fieldOf(found),
      hint: 'use a whole number from 1 to 64',
    });
  }
  return v;
}

/** `config.linkerd.io/default-inbound-policy`: what the proxy allows before (and without) a policy that names the port. */
export function parseDefaultInboundPolicy(found: Found): DefaultPolicy {
  const v = found.value.trim();
  if (!isDefaultPolicy(v)) {
    throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not a default inbound policy`, {
      field: fieldOf(found),
      hint: `use one of ${DEFAULT_POLICIES.join(', ')}`,
    });
  }
  return v;
}

export function parseLogLevel(found: Found): string {
  const v = found.value.trim();
  if (!['error', 'warn', 'info', 'debug'].includes(v)) {
    throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not a log level`, {
      field: fieldOf(found),
      hint: 'use error, warn, info or debug',
    });
  }
  return v;
}

export function parseImage(found: Found): string {
  const v = found.value.trim();
  if (v === '' || /[\s\x00-\x1f\x7f]/.test(v)) {
    throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not an image reference`, {
      field: fieldOf(found),
      hint: 'use an image name such as ghcr.io/linnet/proxy',
    });
  }
  return v;
}

/** Is this key one of ours (or its Linkerd alias) in the config namespace? */
export function isConfigKey(key: string): boolean {
  return key.startsWith(CONFIG_PREFIX) || key.startsWith(CONFIG_PREFIX_ALIAS) || key.startsWith(CONFIG_PREFIX_BETA_ALIAS);
}

/** `enabled`/`disabled`, and `true`/`false` as Linkerd's beta native-sidecar annotation writes it. */
export function parseEnabled(found: Found): boolean {
  const v = found.value.trim().toLowerCase();
  if (v === 'enabled' || v === 'true') return true;
  if (v === 'disabled' || v === 'false') return false;
  throw new InjectError('LINNET_INJECT_BAD_ANNOTATION', `${JSON.stringify(found.value)} is not enabled or disabled`, {
    field: fieldOf(found),
    hint: 'set it to enabled or disabled (true and false are accepted too)',
  });
}

/** A duration as parseDurationText accepts it (`120s`, `2m`, `1500ms`; bare = milliseconds) → whole seconds, rounded up. */
export function durationSeconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text)!;
  const n = Number(m[1]);
  const ms = m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : m[2] === 'h' ? n * 3_600_000 : n;
  return Math.ceil(ms / 1000);
}
