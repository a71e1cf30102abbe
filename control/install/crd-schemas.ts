/**
 * The OpenAPI v3 schemas of Linkerd's policy.linkerd.io kinds, field for field as Linkerd's
 * published CRDs (charts/linkerd-crds/templates/policy/*.yaml), written as small builders so each
 * shared piece (a reference, a label selector, a header filter) has one definition. Where
 * Linkerd's schema accepts a value its own controller would reject and Linnet's reader rejects
 * too, the schema says so here (proxyProtocol and accessPolicy enums, string label values), so
 * the API server refuses it at `kubectl apply` instead of the control plane at runtime. Pure.
 */
export type Schema = Record<string, unknown>;

const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const GROUP = { type: 'string', maxLength: 253, pattern: `^$|${DNS_SUBDOMAIN}` };
const KIND = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$' };
const NAME = { type: 'string', minLength: 1, maxLength: 253 };
const NAMESPACE = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' };
const HEADER_NAME = { type: 'string', minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$" };
const HOSTNAME = { type: 'string', minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN };
const PORT = { type: 'integer', format: 'int32', minimum: 1, maximum: 65535 };

const obj = (properties: Record<string, Schema>, required?: string[], extra: Schema = {}): Schema => ({
  type: 'object',
  ...(required && required.length > 0 ? { required } : {}),
  properties,
  ...extra,
});
const arr = (items: Schema, extra: Schema = {}): Schema => ({ type: 'array', items, ...extra });
const described = (description: string, s: Schema): Schema => ({ description, ...s });

/** `status` is written by controllers, never read by Linnet: kept as it comes. */
export const STATUS: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

/** Server.spec.proxyProtocol: what replaces protocol detection on the port. */
export const PROXY_PROTOCOLS = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'];
/** Server.spec.accessPolicy (v1beta3): the same names as the default inbound policy. */
export const ACCESS_POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'deny', 'audit'];

/** metav1.LabelSelector, as Linkerd spells it (matchLabels values are strings here). */
function labelSelector(description: string, v1alpha1 = false): Schema {
  return obj(
    {
      matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
      matchExpressions: arr(
        obj(
          {
            key: { type: 'string' },
            operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
            values: arr({ type: 'string' }),
          },
          ['key', 'operator'],
        ),
      ),
    },
    undefined,
    // v1alpha1 required one of the two; later versions select every pod when both are empty.
    { description, ...(v1alpha1 ? { oneOf: [{ required: ['matchExpressions'] }, { required: ['matchLabels'] }] } : {}) },
  );
}

export function serverSpec(version: 'v1alpha1' | 'v1beta1' | 'v1beta2' | 'v1beta3'): Schema {
  const pods = labelSelector('Selects pods in the same namespace. The result of matchLabels and matchExpressions are ANDed. Selects all if empty.', version === 'v1alpha1');
  const properties: Record<string, Schema> = {
    podSelector: pods,
    port: {
      description: 'A port name or number. Must exist in a pod spec.',
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    },
    proxyProtocol: {
      description: 'Configures protocol discovery for inbound connections. Supersedes the config.linkerd.io/opaque-ports annotation.',
      type: 'string',
      default: 'unknown',
      enum: PROXY_PROTOCOLS,
    },
  };
  if (version === 'v1alpha1' || version === 'v1beta1') return obj(properties, ['podSelector', 'port']);
  properties.externalWorkloadSelector = labelSelector('Selects ExternalWorkloads in the same namespace. The result of matchLabels and matchExpressions are ANDed. Selects all if empty.');
  if (version === 'v1beta3') {
    properties.accessPolicy = {
      description: "Default access policy to apply when the traffic doesn't match any of the policy rules.",
      type: 'string',
      default: 'deny',
      enum: ACCESS_POLICIES,
    };
  }
  return obj(properties, ['port'], { oneOf: [{ required: ['podSelector'] }, { required: ['externalWorkloadSelector'] }] });
}

/** A reference by group, kind and name (Gateway API's LocalPolicyTargetReference shape). */
const targetRef = (description: string): Schema => described(description, obj({ group: GROUP, kind: KIND, name: NAME }, ['kind', 'name']));

export function authorizationPolicySpec(): Schema {
  return described(
    'Authorizes clients to communicate with Linkerd-proxied server resources.',
    obj(
      {
        targetRef: targetRef('TargetRef references a resource to which the authorization policy applies.'),
        requiredAuthenticationRefs: described(
          'All authentications must be satisfied for the authorization to apply. If any of the referred objects cannot be found, the authorization will be ignored.',
          arr(obj({ group: GROUP, kind: KIND, name: NAME, namespace: { type: 'string', maxLength: 253 } }, ['kind', 'name'])),
        ),
      },
      ['targetRef', 'requiredAuthenticationRefs'],
    ),
  );
}

export function meshTlsAuthenticationSpec(): Schema {
  return described(
    'Authenticated client identities for AuthorizationPolicy: a connection whose mTLS identity matches any of them is authenticated.',
    obj(
      {
        identities: described('Proxy identity strings; `*` matches every authenticated client, a `*.` prefix every identity in a domain.', arr({ type: 'string' }, { minItems: 1 })),
        identityRefs: arr(
          obj(
            {
              group: GROUP,
              kind: KIND,
              name: described('When unspecified, every resource of the group and kind in the namespace.', NAME),
              namespace: { type: 'string', maxLength: 253 },
            },
            ['kind'],
          ),
          { minItems: 1 },
        ),
      },
      undefined,
      { oneOf: [{ required: ['identities'] }, { required: ['identityRefs'] }] },
    ),
  );
}

export function networkAuthenticationSpec(): Schema {
  return described(
    'Authenticated client networks for AuthorizationPolicy: a connection from any of them is authenticated.',
    obj(
      {
        networks: arr(
          obj(
            {
              cidr: described('The CIDR of the network to be authorized.', { type: 'string' }),
              except: described('IP networks or addresses not to be included in the cidr.', arr({ type: 'string' })),
            },
            ['cidr'],
          ),
        ),
      },
      ['networks'],
    ),
  );
}

export function httpLocalRateLimitPolicySpec(): Schema {
  const rps = obj({ requestsPerSecond: { type: 'integer', format: 'int64' } }, ['requestsPerSecond']);
  return obj(
    {
      targetRef: targetRef('TargetRef references a resource to which the rate limit policy applies. Only Server is allowed.'),
      total: described('Overall rate-limit, which all traffic coming to this target should abide. If unset no overall limit is applied.', rps),
      identity: described('Fairness for individual identities; each separate client, grouped by identity, will have this rate-limit.', rps),
      overrides: described(
        'Overrides for traffic from a specific client.',
        arr(
          obj(
            {
              requestsPerSecond: { type: 'integer', format: 'int64' },
              clientRefs: arr(obj({ group: GROUP, kind: KIND, namespace: NAMESPACE, name: NAME }, ['kind', 'name'])),
            },
            ['requestsPerSecond', 'clientRefs'],
          ),
        ),
      ),
    },
    ['targetRef'],
  );
}

// ---- HTTPRoute (policy.linkerd.io), Gateway API's HTTPRoute of its time as Linkerd serves it ----

const headerList = (value: Schema): Schema =>
  arr(obj({ name: HEADER_NAME, value }, ['name', 'value']), { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });

const headerModifier = (): Schema =>
  obj({
    set: headerList({ type: 'string', minLength: 1, maxLength: 4096 }),
    add: headerList({ type: 'string', minLength: 1, maxLength: 4096 }),
    remove: arr({ type: 'string' }, { maxItems: 16 }),
  });

const requestRedirect = (): Schema =>
  obj({
    scheme: { type: 'string', enum: ['http', 'https'] },
    hostname: HOSTNAME,
    path: obj(
      {
        type: { type: 'string', enum: ['ReplaceFullPath', 'ReplacePrefixMatch'] },
        replaceFullPath: { type: 'string', maxLength: 1024 },
        replacePrefixMatch: { type: 'string', maxLength: 1024 },
      },
      ['type'],
    ),
    port: PORT,
    statusCode: { type: 'integer', default: 302, enum: [301, 302] },
  });

/** A rule's filters; a backend's filters may modify response headers too (as Linkerd's CRD). */
function filters(backend: boolean): Schema {
  const properties: Record<string, Schema> = {
    type: { type: 'string', enum: backend ? ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect'] : ['RequestHeaderModifier', 'RequestRedirect'] },
    requestHeaderModifier: headerModifier(),
    ...(backend ? { responseHeaderModifier: headerModifier() } : {}),
    requestRedirect: requestRedirect(),
  };
  return arr(obj(properties, ['type']), { maxItems: 16 });
}

const matchValue = (maxLength: number): Schema => ({ type: 'string', minLength: 1, maxLength });

function matches(): Schema {
  const prefixAll = { type: 'PathPrefix', value: '/' };
  return arr(
    obj({
      path: obj(
        {
          type: { type: 'string', enum: ['Exact', 'PathPrefix', 'RegularExpression'], default: 'PathPrefix' },
          value: { type: 'string', maxLength: 1024, default: '/' },
        },
        undefined,
        { default: prefixAll },
      ),
      headers: arr(obj({ type: { type: 'string', enum: ['Exact', 'RegularExpression'], default: 'Exact' }, name: HEADER_NAME, value: matchValue(4096) }, ['name', 'value']), {
        maxItems: 16,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
      queryParams: arr(obj({ type: { type: 'string', enum: ['Exact', 'RegularExpression'], default: 'Exact' }, name: { type: 'string', minLength: 1, maxLength: 256 }, value: matchValue(1024) }, ['name', 'value']), {
        maxItems: 16,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
      method: { type: 'string', enum: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] },
    }),
    { maxItems: 8, default: [{ path: prefixAll }] },
  );
}

/** v1alpha1 and v1beta1 carry Linkerd's first backendRefs (name, port, namespace); v1beta2 on, Gateway API's with group, kind and weight. */
function backendRefs(version: string): Schema {
  const early = version === 'v1alpha1' || version === 'v1beta1';
  const item = early
    ? obj({ name: { type: 'string' }, port: { type: 'integer' }, namespace: { type: 'string', default: 'default' }, filters: filters(true) })
    : obj(
        {
          group: { ...GROUP, default: '' },
          kind: { ...KIND, default: 'Service' },
          name: NAME,
          namespace: NAMESPACE,
          port: PORT,
          weight: { type: 'integer', format: 'int32', default: 1, minimum: 0, maximum: 1000000 },
          filters: filters(true),
        },
        ['name'],
      );
  return arr(item, early ? {} : { maxItems: 16 });
}

/** Go durations, as Gateway API's `format: duration` (e.g. 10s, 1m30s, 500ms). */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(h|m|s|ms|us|µs|ns))+$';

export function httpRouteSpec(version: 'v1alpha1' | 'v1beta1' | 'v1beta2' | 'v1beta3'): Schema {
  const rule: Record<string, Schema> = { matches: matches(), filters: filters(false), backendRefs: backendRefs(version) };
  if (version === 'v1beta3') {
    rule.timeouts = obj({
      request: described('Timeout for responding to client HTTP requests; disabled by default.', { type: 'string', format: 'duration' }),
      backendRequest: described('Timeout for one request from the proxy to a backend; defaults to the request timeout.', { type: 'string', format: 'duration' }),
    });
  }
  return obj({
    parentRefs: arr(
      obj(
        {
          group: { ...GROUP, default: 'policy.linkerd.io' },
          kind: { ...KIND, default: 'Gateway' },
          namespace: NAMESPACE,
          name: NAME,
          sectionName: { type: 'string', minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN },
          port: version === 'v1alpha1' || version === 'v1beta1' ? { type: 'integer' } : PORT,
        },
        ['name'],
      ),
      { maxItems: 32 },
    ),
    hostnames: arr({ ...HOSTNAME, pattern: `^(\\*\\.)?${DNS_SUBDOMAIN.slice(1)}` }, { maxItems: 16 }),
    rules: arr(obj(rule), { maxItems: 16, default: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] }),
  });
}
