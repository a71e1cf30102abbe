/**
 * Which form the sidecar takes in a pod: a native sidecar (an init container with
 * `restartPolicy: Always`, Kubernetes 1.29+ by default) or the classic one (a regular container).
 * Pure: the caller hands in the annotation, the install default and the API server's version
 * (when known), and gets the form plus a sentence saying why, for the report.
 */

export type SidecarForm = 'native' | 'classic';
/** The install flag: a fixed form, or `auto` (decide from the API server's version). */
export type FormDefault = 'auto' | 'enabled' | 'disabled';

export interface KubeVersion {
  major: number;
  minor: number;
}

/** Kubernetes turned SidecarContainers on by default in 1.29 (beta); 1.28 has it behind a gate. */
export const NATIVE_SIDECAR_DEFAULT_SINCE: KubeVersion = { major: 1, minor: 29 };
/** Before 1.28 the API server has no `restartPolicy` on init containers at all: it drops the field. */
export const NATIVE_SIDECAR_FIELD_SINCE: KubeVersion = { major: 1, minor: 28 };

export function atLeast(v: KubeVersion, min: KubeVersion): boolean {
  return v.major > min.major || (v.major === min.major && v.minor >= min.minor);
}

/**
 * `/version`'s answer → major.minor. Managed clusters write `"29+"` as the minor, so digits are
 * taken from the front; `gitVersion` (`v1.29.3-gke.1`) is the fallback. Undefined if neither parses.
 */
export function parseKubeVersion(body: unknown): KubeVersion | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'string' && /^\d+/.test(v) ? Number(/^\d+/.exec(v)![0]) : undefined);
  const major = num(b.major);
  const minor = num(b.minor);
  if (major !== undefined && minor !== undefined) return { major, minor };
  const m = typeof b.gitVersion === 'string' ? /^v?(\d+)\.(\d+)/.exec(b.gitVersion) : null;
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

export interface FormInputs {
  /** The pod's (or namespace's) proxy-enable-native-sidecar annotation, already parsed. */
  annotation?: { enabled: boolean; key: string };
  /** The install flag (`--native-sidecar`); `auto` when not given. */
  installDefault: FormDefault;
  /** The API server's version, when the webhook could ask it; undefined for the CLI. */
  serverVersion?: KubeVersion;
}

export interface FormDecision {
  form: SidecarForm;
  reason: string;
  /** Something the user should know (the decision overrode or risked what they asked). */
  warning?: string;
}

const fmt = (v: KubeVersion) => `${v.major}.${v.minor}`;

/**
 * Annotation first, then the install flag, then the server's version; without any of them the
 * classic form, which works on every Kubernetes. One guard overrides even the annotation: a server
 * known to be older than 1.28 would silently drop `restartPolicy`, leaving the proxy an init
 * container that never exits and the pod stuck in Init forever.
 */
export function decideForm(i: FormInputs): FormDecision {
  const wanted: { native: boolean; why: string } | undefined = i.annotation
    ? { native: i.annotation.enabled, why: `annotation ${i.annotation.key}` }
    : i.installDefault !== 'auto'
      ? { native: i.installDefault === 'enabled', why: `install default (--native-sidecar ${i.installDefault})` }
      : undefined;
  const v = i.serverVersion;
  if (wanted) {
    if (!wanted.native) return { form: 'classic', reason: wanted.why };
    if (v && !atLeast(v, NATIVE_SIDECAR_FIELD_SINCE)) {
      return {
        form: 'classic',
        reason: `Kubernetes ${fmt(v)} has no native sidecars`,
        warning: `${wanted.why} asks for a native sidecar, but the API server is ${fmt(v)} (native sidecars need 1.29, or 1.28 with the SidecarContainers feature gate): injected the classic sidecar`,
      };
    }
    if (v && !atLeast(v, NATIVE_SIDECAR_DEFAULT_SINCE)) {
      return {
        form: 'native',
        reason: wanted.why,
        warning: `native sidecar on Kubernetes ${fmt(v)}: it works only with the SidecarContainers feature gate enabled (on by default from 1.29)`,
      };
    }
    return { form: 'native', reason: wanted.why };
  }
  if (v) {
    return atLeast(v, NATIVE_SIDECAR_DEFAULT_SINCE)
      ? { form: 'native', reason: `Kubernetes ${fmt(v)} has native sidecars` }
      : { form: 'classic', reason: `Kubernetes ${fmt(v)} is older than 1.29` };
  }
  return { form: 'classic', reason: 'no API server version to go by' };
}
