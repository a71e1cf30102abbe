/**
 * Every object the control plane needs, as plain JSON: pure, given the certificates. `linnet
 * install` prints them; `linnet uninstall` prints their references for `kubectl delete -f -`;
 * `linnet check --manifests` looks for them by name.
 *
 * Two ways to the identity issuer:
 *   - generated/given: the issuer certificate and key go into the Secret `linnet-identity-issuer`;
 *   - external (`--identity-external-issuer`): cert-manager makes and renews that same Secret from
 *     the trust anchor (a CA Issuer over the Secret `linnet-trust-anchor`), so a GitOps repository
 *     holds no issuer key and no long-lived issuer. The webhook's serving certificate then comes
 *     from cert-manager as well, and its cainjector fills the webhook's caBundle.
 *   - by default neither: the control plane creates the anchor (Secret `linnet-trust-anchor`), the
 *     issuer and the bundle ConfigMap on first start, and the webhook's serving certificate
 *     (patching the webhook's caBundle), so the output holds no key and is the same every time.
 * Either way the control plane reads the issuer Secret and the bundle through the API
 * (`linnet control --identity-store kubernetes`), re-reading them to take a new issuer live.
 */
import type { DefaultPolicy } from '../../core/policy/model';
import type { IdentityCerts, WebhookCerts } from './certs';

type Json = Record<string, unknown>;

export interface InstallOptions {
  namespace: string;
  trustDomain: string;
  version: string;
  image: string; // without tag
  identity: IdentityCerts;
  externalIssuer: boolean;
  /** Absent with externalIssuer: cert-manager makes the serving certificate. */
  webhook?: WebhookCerts;
  controlReplicas: number;
  /** The injector's default sidecar form (`--native-sidecar`); auto when absent. */
  nativeSidecar?: 'auto' | 'enabled' | 'disabled';
  /** The cluster's default inbound policy (`--default-inbound-policy`): the policy service's and the injected proxies'. */
  defaultInboundPolicy?: DefaultPolicy;
}

export const NAMES = {
  control: 'linnet-control',
  injector: 'linnet-proxy-injector',
  destinationSvc: 'linnet-destination',
  policySvc: 'linnet-policy',
  identitySvc: 'linnet-identity',
  trustRoots: 'linnet-identity-trust-roots',
  issuerSecret: 'linnet-identity-issuer',
  anchorSecret: 'linnet-trust-anchor',
  injectorTls: 'linnet-proxy-injector-k8s-tls',
  webhookConfig: 'linnet-proxy-injector-webhook-config',
} as const;

export const COMPONENT_LABEL = 'linnet.io/control-plane-component';
const IDENTITY_DIR = '/var/run/linnet/identity';
const TLS_DIR = '/var/run/linnet/tls';
/** A control-plane uid distinct from the proxy's 2102, so the init rules never exempt it by accident. */
const CONTROL_UID = 2103;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function labels(o: InstallOptions, component?: string): Record<string, string> {
  const l: Record<string, string> = {
    'app.kubernetes.io/part-of': 'linnet',
    'app.kubernetes.io/version': o.version,
    'linnet.io/control-plane-ns': o.namespace,
  };
  if (component) l[COMPONENT_LABEL] = component;
  return l;
}

function meta(o: InstallOptions, name: string, component?: string, namespaced = true): Json {
  return namespaced ? { name, namespace: o.namespace, labels: labels(o, component) } : { name, labels: labels(o, component) };
}

const securityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: CONTROL_UID,
  runAsGroup: CONTROL_UID,
  seccompProfile: { type: 'RuntimeDefault' },
};

function deployment(o: InstallOptions, component: string, sa: string, container: Json, volumes: Json[]): Json {
  const sel = { [COMPONENT_LABEL]: component, 'linnet.io/control-plane-ns': o.namespace };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(o, component === 'control' ? NAMES.control : NAMES.injector, component),
    spec: {
      replicas: o.controlReplicas,
      selector: { matchLabels: sel },
      template: {
        metadata: {
          labels: { ...labels(o, component), ...sel },
          // The control plane is not meshed: it is what the proxies need to start.
          annotations: { 'linnet.io/inject': 'disabled' },
        },
        spec: {
          serviceAccountName: sa,
          automountServiceAccountToken: true,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container],
          volumes,
        },
      },
    },
  };
}

function controlDeployment(o: InstallOptions): Json {
  const args = ['control', '--discovery', 'kubernetes', '--identity-store', 'kubernetes', '--control-namespace', o.namespace, '--trust-domain', o.trustDomain];
  if (o.externalIssuer) args.push('--identity-external-issuer');
  if (o.defaultInboundPolicy) args.push('--default-inbound-policy', o.defaultInboundPolicy);
  return deployment(
    o,
    'control',
    NAMES.control,
    {
      name: 'control',
      image: `${o.image}:${o.version}`,
      imagePullPolicy: 'IfNotPresent',
      args,
      ports: [
        { name: 'grpc-dst', containerPort: 8086, protocol: 'TCP' },
        { name: 'grpc-identity', containerPort: 8080, protocol: 'TCP' },
        { name: 'grpc-policy', containerPort: 8090, protocol: 'TCP' },
        { name: 'admin-http', containerPort: 9990, protocol: 'TCP' },
      ],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      livenessProbe: { tcpSocket: { port: 8086 }, initialDelaySeconds: 10, periodSeconds: 10 },
      readinessProbe: { tcpSocket: { port: 8080 }, initialDelaySeconds: 2, periodSeconds: 5 },
      securityContext,
    },
    [],
  );
}

function injectorDeployment(o: InstallOptions): Json {
  const probe = (path: string, delay: number) => ({ httpGet: { path, port: 8443, scheme: 'HTTPS' }, initialDelaySeconds: delay, periodSeconds: 10 });
  return deployment(
    o,
    'proxy-injector',
    NAMES.injector,
    {
      name: 'proxy-injector',
      image: `${o.image}:${o.version}`,
      imagePullPolicy: 'IfNotPresent',
      args: [
        'inject', '--serve', '--listen', '0.0.0.0:8443',
        '--tls-cert', `${TLS_DIR}/tls.crt`, '--tls-key', `${TLS_DIR}/tls.key`,
        '--identity-trust-anchors-file', `${IDENTITY_DIR}/ca.crt`,
        '--control-plane-namespace', o.namespace, '--trust-domain', o.trustDomain,
        '--proxy-image', o.image, '--proxy-version', o.version,
        '--native-sidecar', o.nativeSidecar ?? 'auto',
        ...(o.defaultInboundPolicy ? ['--default-inbound-policy', o.defaultInboundPolicy] : []),
      ],
      ports: [{ name: 'https', containerPort: 8443, protocol: 'TCP' }],
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
      livenessProbe: probe('/live', 10),
      readinessProbe: probe('/ready', 2),
      securityContext,
      volumeMounts: [
        { name: 'tls', mountPath: TLS_DIR, readOnly: true },
        { name: 'trust-roots', mountPath: IDENTITY_DIR, readOnly: true },
      ],
    },
    [
      { name: 'tls', secret: { secretName: NAMES.injectorTls } },
      { name: 'trust-roots', configMap: { name: NAMES.trustRoots, items: [{ key: 'ca-bundle.crt', path: 'ca.crt' }] } },
    ],
  );
}

function service(o: InstallOptions, name: string, component: string, port: number, targetPort: number, portName: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(o, name, component),
    spec: {
      type: 'ClusterIP',
      selector: { [COMPONENT_LABEL]: component, 'linnet.io/control-plane-ns': o.namespace },
      ports: [{ name: portName, port, targetPort, protocol: 'TCP' }],
    },
  };
}

function rbac(o: InstallOptions, sa: string, rules: Json[]): Json[] {
  const name = `linnet-${o.namespace}-${sa.replace(/^linnet-/, '')}`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(o, sa) },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(o, name, undefined, false), rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(o, name, undefined, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: o.namespace }],
    },
  ];
}

/** The control plane's namespaced rights: the identity's Secrets and ConfigMap, the webhook's serving Secret. */
function controlRole(o: InstallOptions): Json[] {
  const name = 'linnet-control-identity';
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(o, name),
      rules: [
        // create has no resourceNames in Kubernetes RBAC; get/update are limited to our objects.
        { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: [NAMES.anchorSecret, NAMES.issuerSecret, NAMES.injectorTls, 'linnet-anchor-rotation'], verbs: ['get', 'update'] },
        { apiGroups: [''], resources: ['configmaps'], resourceNames: [NAMES.trustRoots], verbs: ['get', 'update'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(o, name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: NAMES.control, namespace: o.namespace }],
    },
  ];
}

function tlsSecret(o: InstallOptions, name: string, cert: string, key: string, extra: Record<string, string> = {}): Json {
  const data: Record<string, string> = { 'tls.crt': b64(cert), 'tls.key': b64(key) };
  for (const [k, v] of Object.entries(extra)) data[k] = b64(v);
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: meta(o, name), data };
}

/** cert-manager objects: the anchor as a CA Issuer, the identity issuer and the webhook certificate. */
function certManager(o: InstallOptions): Json[] {
  const cm = 'cert-manager.io/v1';
  const injectorDns = [`${NAMES.injector}.${o.namespace}.svc`, `${NAMES.injector}.${o.namespace}.svc.cluster.local`];
  const out: Json[] = [];
  if (o.identity.anchorKeyPem && o.identity.anchorsPem) out.push(tlsSecret(o, NAMES.anchorSecret, o.identity.anchorsPem, o.identity.anchorKeyPem));
  out.push(
    { apiVersion: cm, kind: 'Issuer', metadata: meta(o, NAMES.anchorSecret), spec: { ca: { secretName: NAMES.anchorSecret } } },
    {
      apiVersion: cm,
      kind: 'Certificate',
      metadata: meta(o, NAMES.issuerSecret),
      spec: {
        secretName: NAMES.issuerSecret,
        commonName: `identity.${o.namespace}.${o.trustDomain}`,
        isCA: true,
        // One year, renewed 61 days before the end: `linnet check` warns inside 60 days, so a
        // healthy cert-manager never trips it, and a stuck one does, with two months to act.
        duration: '8760h0m0s',
        renewBefore: '1464h0m0s',
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        usages: ['cert sign', 'crl sign', 'server auth', 'client auth'],
        issuerRef: { name: NAMES.anchorSecret, kind: 'Issuer', group: 'cert-manager.io' },
      },
    },
    { apiVersion: cm, kind: 'Issuer', metadata: meta(o, 'linnet-webhook-selfsigned'), spec: { selfSigned: {} } },
    {
      apiVersion: cm,
      kind: 'Certificate',
      metadata: meta(o, 'linnet-webhook-ca'),
      spec: {
        secretName: 'linnet-webhook-ca',
        commonName: 'linnet-webhook-ca',
        isCA: true,
        duration: '87600h0m0s',
        privateKey: { algorithm: 'ECDSA', size: 256 },
        issuerRef: { name: 'linnet-webhook-selfsigned', kind: 'Issuer', group: 'cert-manager.io' },
      },
    },
    { apiVersion: cm, kind: 'Issuer', metadata: meta(o, 'linnet-webhook-ca'), spec: { ca: { secretName: 'linnet-webhook-ca' } } },
    {
      apiVersion: cm,
      kind: 'Certificate',
      metadata: meta(o, NAMES.injector),
      spec: {
        secretName: NAMES.injectorTls,
        dnsNames: injectorDns,
        duration: '8760h0m0s',
        renewBefore: '1464h0m0s',
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        usages: ['server auth'],
        issuerRef: { name: 'linnet-webhook-ca', kind: 'Issuer', group: 'cert-manager.io' },
      },
    },
  );
  return out;
}

function webhookConfig(o: InstallOptions): Json {
  const webhook: Json = {
    name: `proxy-injector.${o.namespace}.linnet.io`,
    clientConfig: { service: { name: NAMES.injector, namespace: o.namespace, path: '/inject', port: 443 } },
    // A broken injector must not stop pods from starting: they start unmeshed, and check says so.
    failurePolicy: 'Ignore',
    admissionReviewVersions: ['v1', 'v1beta1'],
    sideEffects: 'None',
    timeoutSeconds: 10,
    reinvocationPolicy: 'IfNeeded',
    namespaceSelector: {
      matchExpressions: [
        { key: 'config.linnet.io/admission-webhooks', operator: 'NotIn', values: ['disabled'] },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', o.namespace] },
      ],
    },
    objectSelector: { matchExpressions: [{ key: COMPONENT_LABEL, operator: 'DoesNotExist' }] },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
  };
  const metadata = meta(o, NAMES.webhookConfig, undefined, false);
  if (o.webhook) {
    (webhook.clientConfig as Json).caBundle = b64(o.webhook.caPem);
  } else if (o.externalIssuer) {
    metadata.annotations = { 'cert-manager.io/inject-ca-from': `${o.namespace}/${NAMES.injector}` };
  }
  // Otherwise the control plane fills caBundle when it makes the serving certificate; a GitOps
  // diff ignores it, as the field is not in the rendered object.
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata, webhooks: [webhook] };
}

export function installManifests(o: InstallOptions): Json[] {
  const out: Json[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: o.namespace,
        labels: { ...labels(o), 'linnet.io/is-control-plane': 'true', 'config.linnet.io/admission-webhooks': 'disabled' },
        annotations: { 'linnet.io/inject': 'disabled' },
      },
    },
    ...rbac(o, NAMES.control, [
      // TokenReview: the identity service checks each proxy's projected service-account token.
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: [''], resources: ['pods', 'services', 'endpoints', 'namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      // The inbound policy service reads Linkerd's policy resources and Gateway API routes.
      {
        apiGroups: ['policy.linkerd.io'],
        resources: ['servers', 'authorizationpolicies', 'meshtlsauthentications', 'networkauthentications', 'httplocalratelimitpolicies', 'httproutes'],
        verbs: ['get', 'list', 'watch'],
      },
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes', 'grpcroutes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      // The webhook's caBundle, filled in when the control plane made the serving certificate.
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [NAMES.webhookConfig], verbs: ['get', 'patch'] },
    ]),
    ...controlRole(o),
    ...rbac(o, NAMES.injector, [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]),
  ];
  // Given anchors go into the bundle ConfigMap; without them the control plane creates it.
  if (o.identity.anchorsPem !== undefined) {
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(o, NAMES.trustRoots), data: { 'ca-bundle.crt': o.identity.anchorsPem } });
  }
  if (o.externalIssuer) {
    out.push(...certManager(o));
  } else if (o.identity.issuerPem !== undefined && o.identity.issuerKeyPem !== undefined) {
    out.push(tlsSecret(o, NAMES.issuerSecret, o.identity.issuerPem, o.identity.issuerKeyPem, { 'ca.crt': o.identity.anchorsPem ?? '' }));
  }
  if (o.webhook) out.push(tlsSecret(o, NAMES.injectorTls, o.webhook.certPem, o.webhook.keyPem, { 'ca.crt': o.webhook.caPem }));
  out.push(
    controlDeployment(o),
    injectorDeployment(o),
    service(o, NAMES.destinationSvc, 'control', 8086, 8086, 'grpc'),
    service(o, NAMES.identitySvc, 'control', 8080, 8080, 'grpc'),
    service(o, NAMES.policySvc, 'control', 8090, 8090, 'grpc'),
    service(o, NAMES.injector, 'proxy-injector', 443, 8443, 'https'),
    webhookConfig(o),
  );
  return out;
}

/** What `linnet uninstall` prints: the webhook first (so no pod waits on a vanishing injector), then cluster objects, then the namespace. */
export function uninstallReferences(namespace: string): Json[] {
  const ref = (apiVersion: string, kind: string, name: string): Json => ({ apiVersion, kind, metadata: { name } });
  // A binding without roleRef is not a valid object, even in a delete list.
  const binding = (name: string): Json => ({ ...ref('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', name), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name } });
  return [
    ref('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', NAMES.webhookConfig),
    binding(`linnet-${namespace}-control`),
    ref('rbac.authorization.k8s.io/v1', 'ClusterRole', `linnet-${namespace}-control`),
    binding(`linnet-${namespace}-proxy-injector`),
    ref('rbac.authorization.k8s.io/v1', 'ClusterRole', `linnet-${namespace}-proxy-injector`),
    // Everything else (Deployments, Services, Secrets, cert-manager objects) lives in the namespace.
    ref('v1', 'Namespace', namespace),
  ];
}
