/**
 * Checks over a set of manifests (what `linnet install` printed, or `kubectl get ... -o yaml`):
 * every object passes the Kubernetes schema, the control plane's objects are all there and fit
 * together (webhook caBundle ↔ serving certificate, trust roots ↔ issuer), and injected workloads
 * carry this control plane's trust root and proxy version. Pure.
 */
import { X509Certificate } from 'node:crypto';
import { IDENTITY_MODE_ANNOTATION, PROXY_VERSION_ANNOTATION, TRUST_ROOT_ANNOTATION } from '../inject/annotations';
import { DEFAULT_OPAQUE_PORTS, PROXY_CONTAINER, trustRootDigest } from '../inject/sidecar';
import { POD_TEMPLATE_PATHS, SERVER_SPEAKS_FIRST_NAMES, SERVER_SPEAKS_FIRST_PORTS, isObject, type Json } from '../inject/transform';
import { NAMES } from '../install/manifests';
import { describeProblems, validateObject } from '../install/validate';
import { checkIdentity, parsePemCertificates } from './cert-checks';
import { fail, ok, warn, type CheckResult } from './result';

const CAT = 'linnet-config';
const CAT_WEBHOOK = 'linnet-webhook';
const CAT_DATA = 'linnet-data-plane (manifests)';
const CAT_PORTS = 'linnet-ports (manifests)';
const OPAQUE_KEYS = ['config.linnet.io/opaque-ports', 'config.linkerd.io/opaque-ports'];

/**
 * Service ports that look server-speaks-first (by name or well-known number) and that nothing
 * declares: no appProtocol, not in an opaque-ports annotation, not in the proxies' default list.
 * Their clients would wait out the detect timeout for every banner. A heuristic over names and
 * numbers: a manifest cannot say whether a server speaks first, so this warns, never fails.
 */
export function undeclaredServerFirstPorts(objs: Json[]): string[] {
  const defaults = new Set(DEFAULT_OPAQUE_PORTS.split(',').map(Number));
  const out: string[] = [];
  for (const o of objs) {
    if (o.kind !== 'Service' || !isObject(o.spec) || !Array.isArray(o.spec.ports)) continue;
    const meta = isObject(o.metadata) ? o.metadata : {};
    const ann = isObject(meta.annotations) ? meta.annotations : {};
    const annotated = OPAQUE_KEYS.map((k) => ann[k]).find((v) => typeof v === 'string') as string | undefined;
    const inAnnotation = (n: number) =>
      (annotated ?? '').split(',').some((part) => {
        const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
        return m !== null && Number(m[1]) <= n && n <= Number(m[2] ?? m[1]);
      });
    for (const p of o.spec.ports) {
      if (!isObject(p) || typeof p.port !== 'number' || (p.protocol !== undefined && p.protocol !== 'TCP')) continue;
      if (typeof p.appProtocol === 'string' && p.appProtocol !== '') continue;
      const target = typeof p.targetPort === 'number' ? p.targetPort : p.port;
      if ([p.port, target].some((n) => defaults.has(n) || inAnnotation(n))) continue;
      const name = typeof p.name === 'string' ? p.name.toLowerCase() : '';
      const byName = SERVER_SPEAKS_FIRST_NAMES.some((n) => name === n || name.startsWith(n + '-') || name.endsWith('-' + n));
      if (byName || SERVER_SPEAKS_FIRST_PORTS.includes(p.port) || SERVER_SPEAKS_FIRST_PORTS.includes(target)) {
        out.push(`service/${String(meta.name)} port ${p.port}${name ? ` (${name})` : ''}`);
      }
    }
  }
  return out;
}

function find(objs: Json[], kind: string, name: string): Json | undefined {
  return objs.find((o) => o.kind === kind && isObject(o.metadata) && o.metadata.name === name);
}

function secretText(secret: Json | undefined, key: string): string | undefined {
  if (!secret) return undefined;
  if (isObject(secret.stringData) && typeof secret.stringData[key] === 'string') return secret.stringData[key] as string;
  if (isObject(secret.data) && typeof secret.data[key] === 'string') return Buffer.from(secret.data[key] as string, 'base64').toString('utf8');
  return undefined;
}

function podTemplateOf(o: Json): Json | undefined {
  const path = POD_TEMPLATE_PATHS[String(o.kind)];
  if (!path) return undefined;
  let n: unknown = o;
  for (const k of path) n = isObject(n) ? n[k] : undefined;
  return isObject(n) ? n : undefined;
}

export function checkManifests(objs: Json[], now = Date.now()): CheckResult[] {
  const out: CheckResult[] = [];
  const problems = objs.flatMap((o) => describeProblems(o, validateObject(o)));
  out.push(
    problems.length === 0
      ? ok(CAT, `all ${objs.length} object(s) pass the Kubernetes schema (strict fields)`)
      : fail(CAT, 'all objects pass the Kubernetes schema (strict fields)', problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : ''), 'fix the named fields; the API server would refuse or drop them'),
  );

  const undeclared = undeclaredServerFirstPorts(objs);
  if (objs.some((o) => o.kind === 'Service')) {
    out.push(
      undeclared.length === 0
        ? ok(CAT_PORTS, 'server-speaks-first service ports declare their protocol')
        : warn(
            CAT_PORTS,
            'server-speaks-first service ports declare their protocol',
            `undeclared: ${undeclared.join(', ')}; their clients wait the detect timeout for each banner`,
            'set appProtocol: linkerd.io/opaque on these Service ports (or the config.linnet.io/opaque-ports annotation)',
          ),
    );
  }

  const ns = objs.find((o) => o.kind === 'Namespace' && isObject(o.metadata) && isObject(o.metadata.labels) && o.metadata.labels['linnet.io/is-control-plane'] === 'true');
  const injected = objs.filter((o) => {
    const tpl = podTemplateOf(o);
    const spec = tpl && isObject(tpl.spec) ? tpl.spec : undefined;
    // Classic among the containers, native among the init containers.
    const all = spec ? [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])] : [];
    return all.some((c) => isObject(c) && c.name === PROXY_CONTAINER);
  });
  if (!ns) {
    if (injected.length === 0) {
      out.push(warn(CAT, 'control plane objects are present', 'no namespace labelled linnet.io/is-control-plane=true and no injected workload', 'give the output of `linnet install` or `kubectl get -A -o yaml` to --manifests'));
      return out;
    }
  }
  // A control plane that makes its own identity (linnet install's default) creates the bundle
  // ConfigMap, the issuer Secret and the webhook's caBundle on first start: not in the manifests.
  const controlArgs = (() => {
    const d = find(objs, 'Deployment', NAMES.control);
    const c = (d?.spec as Json | undefined)?.template as Json | undefined;
    const containers = ((c?.spec as Json | undefined)?.containers as Json[] | undefined) ?? [];
    return containers.flatMap((x) => (Array.isArray(x.args) ? (x.args as string[]) : []));
  })();
  const bootstraps = controlArgs.includes('--identity-store') && !controlArgs.includes('--identity-external-issuer');
  if (ns) {
    const required: [string, string][] = [
      ['ServiceAccount', NAMES.control],
      ['ServiceAccount', NAMES.injector],
      ['Deployment', NAMES.control],
      ['Deployment', NAMES.injector],
      ['Service', NAMES.destinationSvc],
      ['Service', NAMES.identitySvc],
      ['Service', NAMES.injector],
      ...(bootstraps ? [] : [['ConfigMap', NAMES.trustRoots] as [string, string]]),
      ['MutatingWebhookConfiguration', NAMES.webhookConfig],
    ];
    const missing = required.filter(([k, n]) => !find(objs, k, n)).map(([k, n]) => `${k} ${n}`);
    const issuerSource = find(objs, 'Secret', NAMES.issuerSecret) ?? find(objs, 'Certificate', NAMES.issuerSecret);
    if (!issuerSource && !bootstraps) missing.push(`Secret or cert-manager Certificate ${NAMES.issuerSecret}`);
    const roles = objs.filter((o) => o.kind === 'ClusterRole');
    const tokenReview = roles.some((r) => Array.isArray(r.rules) && r.rules.some((x) => isObject(x) && Array.isArray(x.resources) && x.resources.includes('tokenreviews')));
    if (!tokenReview) missing.push('ClusterRole allowing tokenreviews');
    out.push(
      missing.length === 0
        ? ok(CAT, 'control plane objects are present')
        : fail(CAT, 'control plane objects are present', `missing: ${missing.join(', ')}`, 'apply the full output of `linnet install`'),
    );
    if (bootstraps && !find(objs, 'ConfigMap', NAMES.trustRoots)) {
      out.push(ok('linnet-identity', 'the control plane makes its trust anchor, issuer and bundle in the cluster (no key in the manifests)'));
    }
  }

  // Identity material held in the manifests.
  const roots = find(objs, 'ConfigMap', NAMES.trustRoots);
  const anchorsPem = roots && isObject(roots.data) && typeof roots.data['ca-bundle.crt'] === 'string' ? (roots.data['ca-bundle.crt'] as string) : undefined;
  const issuerSecret = find(objs, 'Secret', NAMES.issuerSecret);
  const issuerPem = secretText(issuerSecret, 'tls.crt');
  if (anchorsPem && issuerPem) {
    out.push(...checkIdentity({ anchorsPem, issuerPem, issuerKeyPem: secretText(issuerSecret, 'tls.key'), source: 'manifests' }, now));
  } else if (anchorsPem && find(objs, 'Certificate', NAMES.issuerSecret)) {
    out.push(...checkIdentity({ anchorsPem, issuerPem: anchorsPem, source: 'manifests' }, now).filter((r) => r.name.startsWith('trust anchor')));
    out.push(ok('linnet-identity', 'issuer is made and renewed by cert-manager (Certificate linnet-identity-issuer)'));
  }

  // The webhook: Ignore on failure, and its caBundle really signs the serving certificate.
  const hook = find(objs, 'MutatingWebhookConfiguration', NAMES.webhookConfig);
  if (hook && Array.isArray(hook.webhooks)) {
    const w = hook.webhooks.find(isObject) as Json | undefined;
    if (w) {
      out.push(
        w.failurePolicy === 'Ignore'
          ? ok(CAT_WEBHOOK, 'webhook failurePolicy is Ignore')
          : warn(CAT_WEBHOOK, 'webhook failurePolicy is Ignore', `it is ${String(w.failurePolicy ?? 'Fail (the default)')}`, 'with Fail, a down injector stops every pod from starting'),
      );
      const caBundle = isObject(w.clientConfig) && typeof w.clientConfig.caBundle === 'string' ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : undefined;
      const tls = find(objs, 'Secret', NAMES.injectorTls);
      const certPem = secretText(tls, 'tls.crt');
      const injectedCa = isObject(hook.metadata) && isObject(hook.metadata.annotations) && typeof hook.metadata.annotations['cert-manager.io/inject-ca-from'] === 'string';
      if (caBundle && certPem) {
        try {
          const cert = new X509Certificate(certPem);
          const cas = parsePemCertificates(caBundle);
          const signed = cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
          const to = new Date(cert.validTo).getTime();
          out.push(signed ? ok(CAT_WEBHOOK, 'webhook caBundle signs the serving certificate') : fail(CAT_WEBHOOK, 'webhook caBundle signs the serving certificate', 'the certificate in linnet-proxy-injector-k8s-tls is not signed by the caBundle', 're-run `linnet install` and apply both objects together'));
          out.push(
            to <= now
              ? fail(CAT_WEBHOOK, 'webhook serving certificate is valid for at least 60 days', `expired at ${cert.validTo}`, 're-run `linnet install` or use --identity-external-issuer (cert-manager renews it)')
              : to - now < 60 * 86_400_000
                ? warn(CAT_WEBHOOK, 'webhook serving certificate is valid for at least 60 days', `expires at ${cert.validTo}`, 're-run `linnet install` or use --identity-external-issuer (cert-manager renews it)')
                : ok(CAT_WEBHOOK, 'webhook serving certificate is valid for at least 60 days'),
          );
        } catch (err) {
          out.push(fail(CAT_WEBHOOK, 'webhook caBundle signs the serving certificate', (err as Error).message, 're-run `linnet install`'));
        }
      } else if (!caBundle && !injectedCa && bootstraps) {
        out.push(ok(CAT_WEBHOOK, 'webhook caBundle is filled by the control plane when it makes the serving certificate'));
      } else if (!caBundle && !injectedCa) {
        out.push(fail(CAT_WEBHOOK, 'webhook has a caBundle', 'clientConfig.caBundle is empty and no cert-manager.io/inject-ca-from annotation', 'the API server cannot trust the injector; re-run `linnet install`'));
      } else if (injectedCa) {
        out.push(ok(CAT_WEBHOOK, 'webhook caBundle is injected by cert-manager'));
      }
    }
  }

  // Injected workloads: same trust root, same proxy version as this control plane.
  if (injected.length > 0) {
    const digest = anchorsPem ? trustRootDigest(anchorsPem) : undefined;
    const version = ns && isObject(ns.metadata) && isObject(ns.metadata.labels) ? (ns.metadata.labels['app.kubernetes.io/version'] as string | undefined) : undefined;
    const wrongRoot: string[] = [];
    const oldVersion: string[] = [];
    const noIdentity: string[] = [];
    for (const o of injected) {
      const tpl = podTemplateOf(o)!;
      const ann = isObject(tpl.metadata) && isObject(tpl.metadata.annotations) ? tpl.metadata.annotations : {};
      const id = `${String(o.kind).toLowerCase()}/${String((o.metadata as Json | undefined)?.name)}`;
      if (ann[IDENTITY_MODE_ANNOTATION] === 'disabled') noIdentity.push(id);
      if (digest && ann[TRUST_ROOT_ANNOTATION] !== digest) wrongRoot.push(id);
      if (version && ann[PROXY_VERSION_ANNOTATION] !== version) oldVersion.push(`${id} (${String(ann[PROXY_VERSION_ANNOTATION] ?? 'unknown')})`);
    }
    out.push(
      noIdentity.length === 0
        ? ok(CAT_DATA, `${injected.length} injected workload(s) have an identity (mTLS)`)
        : warn(CAT_DATA, 'injected workloads have an identity (mTLS)', `injected without trust anchors: ${noIdentity.join(', ')}`, 're-inject with --identity-trust-anchors-file, or let the webhook inject them'),
    );
    if (digest) {
      out.push(
        wrongRoot.length === 0
          ? ok(CAT_DATA, `${injected.length} injected workload(s) trust this control plane's anchors`)
          : fail(CAT_DATA, "injected workloads trust this control plane's anchors", `different trust root: ${wrongRoot.join(', ')}`, 'restart them (kubectl rollout restart) so the injector gives them the current anchors'),
      );
    }
    if (version) {
      out.push(
        oldVersion.length === 0
          ? ok(CAT_DATA, `injected workloads run proxy ${version}`)
          : warn(CAT_DATA, `injected workloads run proxy ${version}`, `other versions: ${oldVersion.join(', ')}`, 'restart them to pick up the current proxy'),
      );
    }
  }
  return out;
}
