/**
 * The CustomResourceDefinitions of the policy.linkerd.io kinds Linnet reads (`linnet install
 * --crds`), as Linkerd's `linkerd install --crds` prints them: every version Linnet reads served,
 * the newest the storage version, conversion None (the versions differ only by added fields),
 * `status` kept as it comes. Gateway API's own CRDs (gateway.networking.k8s.io) are not ours:
 * users install them from the Gateway API's standard-install release. Pure.
 */
import { KINDS, POLICY_GROUP, servedVersions } from '../policy/resources';
import {
  STATUS,
  authorizationPolicySpec,
  httpLocalRateLimitPolicySpec,
  httpRouteSpec,
  meshTlsAuthenticationSpec,
  networkAuthenticationSpec,
  serverSpec,
  type Schema,
} from './crd-schemas';

type Json = Record<string, unknown>;

/** The policy.linkerd.io versions of each kind, oldest first (the reader's list, less other groups' versions). */
function policyVersions(kind: keyof typeof KINDS): string[] {
  const order = ['v1alpha1', 'v1alpha2', 'v1beta1', 'v1beta2', 'v1beta3', 'v1'];
  return [...servedVersions(kind, POLICY_GROUP)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

interface KindDef {
  kind: keyof typeof KINDS;
  plural: string;
  shortNames?: string[];
  spec(version: string): Schema;
  /** A status subresource, as Linkerd's CRD declares it. */
  statusSubresource?: boolean;
  columns?(version: string): Json[];
  deprecated?: Record<string, string>;
}

const col = (name: string, type: string, jsonPath: string, description?: string): Json => ({ name, type, jsonPath, ...(description ? { description } : {}) });

const DEFS: KindDef[] = [
  {
    kind: 'Server',
    plural: 'servers',
    shortNames: ['srv'],
    spec: (v) => serverSpec(v as 'v1beta3'),
    columns: (v) =>
      v === 'v1alpha1'
        ? []
        : [
            col('Port', 'string', '.spec.port', 'The port the server is listening on'),
            col('Protocol', 'string', '.spec.proxyProtocol', 'The protocol of the server'),
            ...(v === 'v1beta3' ? [col('Access Policy', 'string', '.spec.accessPolicy', "The default access policy applied when the traffic doesn't match any of the policy rules")] : []),
          ],
    deprecated: {
      v1alpha1: 'policy.linkerd.io/v1alpha1 Server is deprecated; use policy.linkerd.io/v1beta3 Server',
      v1beta1: 'policy.linkerd.io/v1beta1 Server is deprecated; use policy.linkerd.io/v1beta3 Server',
    },
  },
  { kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', shortNames: ['authzpolicy'], spec: authorizationPolicySpec },
  { kind: 'MeshTLSAuthentication', plural: 'meshtlsauthentications', shortNames: ['meshtlsauthn'], spec: meshTlsAuthenticationSpec },
  { kind: 'NetworkAuthentication', plural: 'networkauthentications', shortNames: ['netauthn', 'networkauthn'], spec: networkAuthenticationSpec },
  {
    kind: 'HTTPLocalRateLimitPolicy',
    plural: 'httplocalratelimitpolicies',
    spec: httpLocalRateLimitPolicySpec,
    statusSubresource: true,
    columns: () => [
      col('Target_kind', 'string', '.spec.targetRef.kind', 'The resource kind to which the rate-limit applies'),
      col('Target_name', 'string', '.spec.targetRef.name', 'The resource name to which the rate-limit applies'),
      { ...col('Total_RPS', 'integer', '.spec.total.requestsPerSecond', 'The overall rate-limit'), format: 'int32' },
      { ...col('Identity_RPS', 'integer', '.spec.identity.requestsPerSecond', 'The rate-limit per identity'), format: 'int32' },
    ],
  },
  {
    kind: 'HTTPRoute',
    plural: 'httproutes',
    spec: (v) => httpRouteSpec(v as 'v1beta3'),
    statusSubresource: true,
    columns: () => [col('Hostnames', 'string', '.spec.hostnames'), col('Age', 'date', '.metadata.creationTimestamp')],
  },
];

export const CRD_LABELS = { 'app.kubernetes.io/part-of': 'linnet', 'linnet.io/crds': 'policy' } as const;

function crd(def: KindDef): Json {
  const versions = policyVersions(def.kind);
  const storage = versions[versions.length - 1];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${POLICY_GROUP}`, labels: { ...CRD_LABELS } },
    spec: {
      group: POLICY_GROUP,
      names: { kind: def.kind, listKind: `${def.kind}List`, plural: def.plural, singular: def.kind.toLowerCase(), ...(def.shortNames ? { shortNames: def.shortNames } : {}) },
      scope: 'Namespaced',
      conversion: { strategy: 'None' },
      versions: versions.map((name) => {
        const columns = def.columns?.(name) ?? [];
        const warning = def.deprecated?.[name];
        return {
          name,
          served: true,
          storage: name === storage,
          ...(warning ? { deprecated: true, deprecationWarning: warning } : {}),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: def.spec(name), status: STATUS },
            },
          },
          ...(def.statusSubresource ? { subresources: { status: {} } } : {}),
          ...(columns.length > 0 ? { additionalPrinterColumns: columns } : {}),
        };
      }),
    },
  };
}

/** Every policy CRD, in a stable order (the same bytes every render). */
export function policyCrds(): Json[] {
  // Fresh objects throughout: the builders share enum lists, and shared nodes would print as YAML anchors.
  return DEFS.map((d) => JSON.parse(JSON.stringify(crd(d))) as Json);
}

/** The openAPIV3Schema of one kind and version among `crds`, or undefined when not served. */
export function crdSchema(crds: Json[], group: string, kind: string, version: string): Schema | undefined {
  for (const c of crds) {
    const spec = c.spec as { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[] };
    if (spec.group !== group || spec.names.kind !== kind) continue;
    const v = spec.versions.find((x) => x.name === version && x.served);
    return v?.schema.openAPIV3Schema;
  }
  return undefined;
}

// ---- structural schema rules (apiextensions.k8s.io/v1 refuses a CRD that breaks them) ----

const VALUE_FORBIDDEN = ['type', 'description', 'default', 'additionalProperties', 'nullable'];
const isObj = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const INT_OR_STRING_ANYOF = JSON.stringify([{ type: 'integer' }, { type: 'string' }]);

/**
 * Where a schema is not structural, one line per problem (empty when it is): every field has a
 * type (unless int-or-string or preserve-unknown-fields), properties and additionalProperties
 * never together, items one schema, value validations (oneOf, anyOf, allOf, not) without type,
 * description, default, additionalProperties or nullable, and naming only properties declared
 * beside them; every `required` name is declared (a misspelt one would make the kind unusable).
 */
export function structuralProblems(schema: Schema, path = ''): string[] {
  const out: string[] = [];
  const at = path || '/';
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (intOrString) {
    if (schema.type !== undefined) out.push(`${at}: x-kubernetes-int-or-string with a type`);
  } else if (typeof schema.type !== 'string' || schema.type === '') {
    if (!preserve) out.push(`${at}: no type`);
  }
  // kubernetes-models' validator never reads these (validate.ts), so their shape is checked here.
  for (const k of ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string']) if (schema[k] !== undefined && typeof schema[k] !== 'boolean') out.push(`${at}: ${k} is not a boolean`);
  if (schema.description !== undefined && typeof schema.description !== 'string') out.push(`${at}: description is not a string`);
  const listType = schema['x-kubernetes-list-type'];
  if (listType !== undefined && (schema.type !== 'array' || !['atomic', 'set', 'map'].includes(String(listType)))) out.push(`${at}: x-kubernetes-list-type ${String(listType)} on a ${String(schema.type)}`);
  const mapKeys = schema['x-kubernetes-list-map-keys'];
  if ((listType === 'map') !== (mapKeys !== undefined)) out.push(`${at}: x-kubernetes-list-map-keys goes with x-kubernetes-list-type map, and only with it`);
  if (Array.isArray(mapKeys)) {
    const item = isObj(schema.items) ? schema.items : {};
    const req = Array.isArray(item.required) ? item.required : [];
    for (const key of mapKeys) if (!req.includes(key)) out.push(`${at}: list-map key "${String(key)}" is not required in the items`);
  }
  const props = isObj(schema.properties) ? schema.properties : undefined;
  if (props && schema.additionalProperties !== undefined) out.push(`${at}: both properties and additionalProperties`);
  if (schema.items !== undefined && !isObj(schema.items)) out.push(`${at}: items is not one schema`);
  if (Array.isArray(schema.required)) for (const r of schema.required) if (!props || !(String(r) in props)) out.push(`${at}: required "${String(r)}" is not a declared property`);
  for (const k of ['oneOf', 'anyOf', 'allOf']) {
    const alts = schema[k];
    if (alts === undefined) continue;
    if (!Array.isArray(alts)) {
      out.push(`${at}: ${k} is not a list`);
      continue;
    }
    if (k === 'anyOf' && intOrString && JSON.stringify(alts) === INT_OR_STRING_ANYOF) continue;
    alts.forEach((a, i) => out.push(...valueValidationProblems(a, `${at}/${k}/${i}`, props)));
  }
  if (schema.not !== undefined) out.push(...valueValidationProblems(schema.not, `${at}/not`, props));
  if (props) for (const [k, v] of Object.entries(props)) out.push(...(isObj(v) ? structuralProblems(v, `${path}/properties/${k}`) : [`${path}/properties/${k}: not a schema`]));
  if (isObj(schema.items)) out.push(...structuralProblems(schema.items, `${path}/items`));
  if (isObj(schema.additionalProperties)) out.push(...structuralProblems(schema.additionalProperties, `${path}/additionalProperties`));
  return out;
}

function valueValidationProblems(v: unknown, path: string, declared: Schema | undefined): string[] {
  if (!isObj(v)) return [`${path}: not a schema`];
  const out: string[] = [];
  for (const k of VALUE_FORBIDDEN) if (v[k] !== undefined) out.push(`${path}: ${k} inside a value validation`);
  if (Array.isArray(v.required)) for (const r of v.required) if (!declared || !(String(r) in declared)) out.push(`${path}: required "${String(r)}" is not declared beside it`);
  if (isObj(v.properties)) for (const k of Object.keys(v.properties)) if (!declared || !(k in declared)) out.push(`${path}: property "${k}" is not declared beside it`);
  return out;
}

/** Structural problems of every version of a CRD object, prefixed by its name and version. */
export function crdProblems(c: Json): string[] {
  const spec = c.spec as { versions?: { name: string; schema?: { openAPIV3Schema?: Schema } }[] } | undefined;
  const name = String((c.metadata as Json | undefined)?.name ?? '?');
  const out: string[] = [];
  const versions = spec?.versions ?? [];
  if (versions.filter((v) => (v as { storage?: boolean }).storage === true).length !== 1) out.push(`${name}: not exactly one storage version`);
  for (const v of versions) {
    const s = v.schema?.openAPIV3Schema;
    if (!s) out.push(`${name} ${v.name}: no openAPIV3Schema`);
    else {
      if (s.type !== 'object') out.push(`${name} ${v.name}: the root is not type object`);
      out.push(...structuralProblems(s).map((p) => `${name} ${v.name}: ${p}`));
    }
  }
  return out;
}
