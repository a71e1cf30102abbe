/**
 * Validates Kubernetes objects against the API schema (kubernetes-models' compiled OpenAPI
 * validators, and @kubernetes-models/cert-manager for cert-manager kinds), plus a strict
 * unknown-field check: the schemas accept any extra key, while the API server (with
 * fieldValidation=Strict, kubectl's default since 1.27) rejects them, and a misspelt field would
 * otherwise be dropped silently.
 *
 * The strict check watches which properties the compiled validator reads: it reads every property
 * its schema declares, and enumerates the keys of free-form maps (labels, annotations, data). A
 * key it never read is unknown to the schema.
 */
export interface SchemaProblem {
  path: string; // JSON pointer inside the object
  message: string;
}

type Json = Record<string, unknown>;

/**
 * Real API fields that kubernetes-models' compiled validators never read, so the strict check
 * would call them unknown: its schema generator drops every property named `description` and the
 * `x-kubernetes-*` extensions of apiextensions' JSONSchemaProps (and the description of a printer
 * column). Allowed by name anywhere inside objects of these kinds; crds.ts checks their shape.
 */
const UNREAD_FIELDS: Record<string, ReadonlySet<string>> = {
  'apiextensions.k8s.io/v1/CustomResourceDefinition': new Set([
    'description',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-embedded-resource',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    'x-kubernetes-validations',
  ]),
};

const CORE_GROUP_PACKAGES: Record<string, string> = {
  'cert-manager.io': '@kubernetes-models/cert-manager/cert-manager.io',
  'acme.cert-manager.io': '@kubernetes-models/cert-manager/acme.cert-manager.io',
};

interface ModelCtor {
  prototype: { validate(this: unknown): void };
}

function modelFor(apiVersion: string, kind: string): ModelCtor | undefined {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const base = group === '' ? 'kubernetes-models' : CORE_GROUP_PACKAGES[group] ?? `kubernetes-models/${group}`;
  const id = `${base}/${version}/${kind}`;
  if (!/^[@a-zA-Z0-9./_-]+$/.test(id)) return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(id) as Record<string, ModelCtor>;
    return mod[kind];
  } catch {
    return undefined;
  }
}

export function isKnownKind(apiVersion: string, kind: string): boolean {
  return modelFor(apiVersion, kind) !== undefined;
}

function isPlain(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pointer(parts: (string | number)[]): string {
  return parts.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** All schema problems of one object (empty when it is valid). Unknown apiVersion/kind is a problem too. */
export function validateObject(obj: unknown): SchemaProblem[] {
  if (!isPlain(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    return [{ path: '', message: 'not an object with string apiVersion and kind' }];
  }
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) return [{ path: '/kind', message: `unknown kind ${obj.kind} in ${obj.apiVersion}` }];

  const read = new Map<object, Set<PropertyKey>>();
  const enumerated = new Set<object>();
  const proxies = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const cached = proxies.get(v);
    if (cached) return cached;
    const p = new Proxy(v, {
      get(t, k, r) {
        if (!read.has(t)) read.set(t, new Set());
        read.get(t)!.add(k);
        return wrap(Reflect.get(t, k, r));
      },
      has(t, k) {
        if (!read.has(t)) read.set(t, new Set());
        read.get(t)!.add(k);
        return Reflect.has(t, k);
      },
      ownKeys(t) {
        enumerated.add(t);
        return Reflect.ownKeys(t);
      },
    });
    proxies.set(v, p);
    return p;
  };

  const problems: SchemaProblem[] = [];
  try {
    Model.prototype.validate.call(wrap(obj));
  } catch (err) {
    const errors = (err as { errors?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[] }).errors;
    if (Array.isArray(errors)) {
      for (const e of errors) {
        const extra = e.params && 'missingProperty' in e.params ? ` (${String(e.params.missingProperty)})` : '';
        problems.push({ path: e.instancePath ?? '', message: `${e.message ?? 'invalid'}${extra}` });
      }
    } else {
      problems.push({ path: '', message: (err as Error).message });
    }
  }

  const unread = UNREAD_FIELDS[`${obj.apiVersion}/${obj.kind}`] ?? new Set<string>();
  const walk = (v: unknown, path: (string | number)[]) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i]));
      return;
    }
    if (!isPlain(v)) return;
    const seen = read.get(v);
    // Not visited at all: a free-form value (RawExtension, preserve-unknown-fields); not ours to judge.
    if (!seen || enumerated.has(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (!seen.has(k) && !unread.has(k)) problems.push({ path: pointer([...path, k]), message: `unknown field "${k}"` });
      else walk(x, [...path, k]);
    }
  };
  walk(obj, []);
  return problems;
}

/** One line per problem: `Deployment "web": /spec/replica: unknown field "replica"`. */
export function describeProblems(obj: Json, problems: SchemaProblem[]): string[] {
  const meta = isPlain(obj.metadata) ? obj.metadata : {};
  const id = `${String(obj.kind)} "${String(meta.name ?? '<unnamed>')}"`;
  return problems.map((p) => `${id}: ${p.path || '/'}: ${p.message}`);
}
