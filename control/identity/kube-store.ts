/**
 * The identity's material in Kubernetes, in the control namespace:
 *   Secret    linnet-trust-anchor          tls.crt, tls.key   the anchor that signs issuers (optional:
 *                                                             without it the root stays offline)
 *   Secret    linnet-identity-issuer       tls.crt, tls.key, ca.crt
 *   ConfigMap linnet-identity-trust-roots  ca-bundle.crt      the bundle proxies and the injector use
 * `bootstrap()` makes what is missing on first start, create-if-absent: a create answered 409
 * (another replica was first) adopts the other's object, so two replicas starting at once end
 * with one anchor. Writes afterwards are replaces carrying the resourceVersion read, so a
 * concurrent writer makes ours fail with 409 and we re-read instead of overwriting.
 */
import { createAnchor, createIssuer } from './ca';
import { IdentityError } from './errors';
import { unexpected, type KubeResponse, type KubeRest } from './kube-rest';
import type { MaterialNames, MaterialText } from './material';
import type { IdentityStore, StoreSnapshot } from './store';
import type { RotationRecord } from './anchor-plan';

export const IDENTITY_OBJECTS = {
  anchorSecret: 'linnet-trust-anchor',
  issuerSecret: 'linnet-identity-issuer',
  bundleConfigMap: 'linnet-identity-trust-roots',
  bundleKey: 'ca-bundle.crt',
  /** rotate-anchor's record (holds the new anchor's key until it becomes the signing key). */
  rotationSecret: 'linnet-anchor-rotation',
} as const;

export interface KubeStoreOptions {
  rest: KubeRest;
  namespace: string;
  trustDomain: string;
  controlNamespace: string;
}

export interface BootstrapOptions {
  anchorLifetimeMs: number;
  issuerLifetimeMs: number;
  log: (level: 'info' | 'warn', message: string) => void;
}

export interface KubeStore extends IdentityStore {
  /** Creates the anchor, issuer and bundle when absent; returns what this call created. */
  bootstrap(o: BootstrapOptions): Promise<{ created: string[]; adopted: string[] }>;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown) => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : undefined);
type Obj = KubeResponse['body'] & { data?: Record<string, string> };

export function kubeStore(o: KubeStoreOptions): KubeStore {
  const ns = o.namespace;
  const secretPath = (name?: string) => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ''}`;
  const cmPath = (name?: string) => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;
  const names: MaterialNames = {
    bundle: `ConfigMap ${ns}/${IDENTITY_OBJECTS.bundleConfigMap} (${IDENTITY_OBJECTS.bundleKey})`,
    issuer: `Secret ${ns}/${IDENTITY_OBJECTS.issuerSecret} (tls.crt)`,
    issuerKey: `Secret ${ns}/${IDENTITY_OBJECTS.issuerSecret} (tls.key)`,
    anchorKey: `Secret ${ns}/${IDENTITY_OBJECTS.anchorSecret} (tls.key)`,
  };
  const get = async (path: string, what: string): Promise<Obj | undefined> => {
    const r = await o.rest.call('GET', path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw unexpected(`reading ${what}`, r);
    return r.body as Obj;
  };
  const secret = (name: string, data: Record<string, string>, rv?: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/part-of': 'linnet', 'linnet.io/control-plane-ns': ns }, ...(rv ? { resourceVersion: rv } : {}) },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });
  const configMap = (bundle: string, rv?: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: IDENTITY_OBJECTS.bundleConfigMap, namespace: ns, labels: { 'app.kubernetes.io/part-of': 'linnet', 'linnet.io/control-plane-ns': ns }, ...(rv ? { resourceVersion: rv } : {}) },
    data: { [IDENTITY_OBJECTS.bundleKey]: bundle },
  });
  /** POST; on 409 read the winner's object. Returns [object, created]. */
  const createOrAdopt = async (path: string, getPath: string, body: unknown, what: string): Promise<[Obj, boolean]> => {
    const r = await o.rest.call('POST', path, body);
    if (r.status === 201 || r.status === 200) return [r.body as Obj, true];
    if (r.status !== 409) throw unexpected(`creating ${what}`, r);
    const existing = await get(getPath, what);
    if (!existing) throw new IdentityError('LINNET_IDENTITY_STORE_FAILED', `creating ${what}: 409 but it cannot be read`, { hint: 'retry; check RBAC' });
    return [existing, false];
  };
  let rvs = { anchor: '', issuer: '', bundle: '' };

  const store: KubeStore = {
    kind: 'kubernetes',
    names,
    async read(): Promise<StoreSnapshot> {
      const [anchor, issuer, cm] = await Promise.all([
        get(secretPath(IDENTITY_OBJECTS.anchorSecret), names.anchorKey!),
        get(secretPath(IDENTITY_OBJECTS.issuerSecret), names.issuer),
        get(cmPath(IDENTITY_OBJECTS.bundleConfigMap), names.bundle),
      ]);
      if (!issuer) throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `${names.issuer} does not exist`, { hint: 'let linnet control create it (no --identity-external-issuer), give it to linnet install, or check cert-manager' });
      if (!cm) throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `${names.bundle} does not exist`, { hint: 'linnet install renders it, or linnet control creates it on first start' });
      const text: MaterialText = {
        bundlePem: (cm.data?.[IDENTITY_OBJECTS.bundleKey] as string | undefined) ?? '',
        issuerPem: unb64(issuer.data?.['tls.crt']) ?? '',
        issuerKeyPem: unb64(issuer.data?.['tls.key']) ?? '',
      };
      const anchorKey = unb64(anchor?.data?.['tls.key']);
      if (anchorKey) text.anchorKeyPem = anchorKey;
      rvs = { anchor: anchor?.metadata?.resourceVersion ?? '', issuer: issuer.metadata?.resourceVersion ?? '', bundle: cm.metadata?.resourceVersion ?? '' };
      return { text, version: `${rvs.bundle}/${rvs.issuer}/${rvs.anchor}` };
    },
    async writeIssuer(issuerPem, issuerKeyPem, version) {
      const [, issuerRv] = version.split('/');
      const current = await get(secretPath(IDENTITY_OBJECTS.issuerSecret), names.issuer);
      const bundle = current?.data?.['ca.crt'] ? unb64(current.data['ca.crt'])! : '';
      const put = await o.rest.call('PUT', secretPath(IDENTITY_OBJECTS.issuerSecret), secret(IDENTITY_OBJECTS.issuerSecret, { 'tls.crt': issuerPem, 'tls.key': issuerKeyPem, ...(bundle ? { 'ca.crt': bundle } : {}) }, issuerRv));
      if (put.status === 409) return false;
      if (put.status !== 200) throw unexpected(`replacing ${names.issuer}`, put);
      return true;
    },
    async readRotation() {
      const obj = await get(secretPath(IDENTITY_OBJECTS.rotationSecret), `Secret ${ns}/${IDENTITY_OBJECTS.rotationSecret}`);
      const text = unb64(obj?.data?.['rotation.json']);
      return text ? (JSON.parse(text) as RotationRecord) : undefined;
    },
    async writeRotation(rec) {
      const path = secretPath(IDENTITY_OBJECTS.rotationSecret);
      const existing = await get(path, `Secret ${ns}/${IDENTITY_OBJECTS.rotationSecret}`);
      const body = { ...secret(IDENTITY_OBJECTS.rotationSecret, rec ? { 'rotation.json': JSON.stringify(rec) } : {}, existing?.metadata?.resourceVersion), type: 'Opaque' };
      const r = existing ? await o.rest.call('PUT', path, body) : await o.rest.call('POST', secretPath(), body);
      if (r.status !== 200 && r.status !== 201) throw unexpected(`writing Secret ${ns}/${IDENTITY_OBJECTS.rotationSecret}`, r);
    },
    async writeBundle(bundlePem, anchor, version) {
      const [bundleRv, , anchorRv] = version.split('/');
      if (anchor) {
        const body = secret(IDENTITY_OBJECTS.anchorSecret, { 'tls.crt': anchor.certPem, 'tls.key': anchor.keyPem }, anchorRv || undefined);
        const r = anchorRv ? await o.rest.call('PUT', secretPath(IDENTITY_OBJECTS.anchorSecret), body) : await o.rest.call('POST', secretPath(), body);
        if (r.status === 409) return false;
        if (r.status !== 200 && r.status !== 201) throw unexpected(`writing ${names.anchorKey}`, r);
      }
      const r = await o.rest.call('PUT', cmPath(IDENTITY_OBJECTS.bundleConfigMap), configMap(bundlePem, bundleRv));
      if (r.status === 409) return false;
      if (r.status !== 200) throw unexpected(`replacing ${names.bundle}`, r);
      return true;
    },
    async bootstrap(b) {
      const created: string[] = [];
      const adopted: string[] = [];
      let issuer = await get(secretPath(IDENTITY_OBJECTS.issuerSecret), names.issuer);
      let anchorPem: string | undefined;
      if (!issuer) {
        // No issuer: this control plane owns its PKI. The anchor first, create-if-absent, so that
        // of two replicas racing here exactly one anchor survives and both sign under it.
        let anchor = await get(secretPath(IDENTITY_OBJECTS.anchorSecret), names.anchorKey!);
        if (!anchor) {
          const made = await createAnchor({ trustDomain: o.trustDomain, controlNamespace: o.controlNamespace, anchorLifetimeMs: b.anchorLifetimeMs });
          const [obj, mine] = await createOrAdopt(secretPath(), secretPath(IDENTITY_OBJECTS.anchorSecret), secret(IDENTITY_OBJECTS.anchorSecret, { 'tls.crt': made.anchorPem, 'tls.key': made.anchorKeyPem }), names.anchorKey!);
          anchor = obj;
          (mine ? created : adopted).push(`Secret ${ns}/${IDENTITY_OBJECTS.anchorSecret}`);
        }
        anchorPem = unb64(anchor.data?.['tls.crt']);
        const anchorKeyPem = unb64(anchor.data?.['tls.key']);
        if (!anchorPem || !anchorKeyPem) throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `${names.anchorKey}: tls.crt or tls.key is empty`, { hint: 'delete the Secret to let the control plane make a new anchor, or fill it' });
        const made = await createIssuer(anchorPem, anchorKeyPem, { trustDomain: o.trustDomain, controlNamespace: o.controlNamespace, issuerLifetimeMs: b.issuerLifetimeMs });
        const [obj, mine] = await createOrAdopt(secretPath(), secretPath(IDENTITY_OBJECTS.issuerSecret), secret(IDENTITY_OBJECTS.issuerSecret, { 'tls.crt': made.issuerPem, 'tls.key': made.issuerKeyPem, 'ca.crt': anchorPem }), names.issuer);
        issuer = obj;
        (mine ? created : adopted).push(`Secret ${ns}/${IDENTITY_OBJECTS.issuerSecret}`);
      }
      const cm = await get(cmPath(IDENTITY_OBJECTS.bundleConfigMap), names.bundle);
      if (!cm) {
        const bundle = anchorPem ?? unb64(issuer.data?.['ca.crt']);
        if (!bundle) throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', `${names.bundle} does not exist and ${names.issuer} has no ca.crt to make it from`, { hint: 'give the trust anchors to linnet install (--identity-trust-anchors-file)' });
        const [, mine] = await createOrAdopt(cmPath(), cmPath(IDENTITY_OBJECTS.bundleConfigMap), configMap(bundle), names.bundle);
        (mine ? created : adopted).push(`ConfigMap ${ns}/${IDENTITY_OBJECTS.bundleConfigMap}`);
      }
      if (created.length) b.log('info', `bootstrapped the identity: created ${created.join(', ')}`);
      if (adopted.length) b.log('info', `another replica created ${adopted.join(', ')} first; using those`);
      return { created, adopted };
    },
  };
  return store;
}
