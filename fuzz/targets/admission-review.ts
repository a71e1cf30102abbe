/**
 * Fuzz target for the injector webhook's AdmissionReview handler (control/inject/webhook.ts
 * `handleAdmissionReview`). One input is a request body: JSON text when it parses, else given
 * as the raw string (the handler must cope with any body the HTTP layer passes on).
 */
import { isDeepStrictEqual } from 'node:util';
import { injectObject, isObject, type Json } from '../../control/inject/transform';
import { handleAdmissionReview, type InjectorConfig } from '../../control/inject/webhook';
import { describeError, violations, type Fail } from '../target';

export const name = 'admission-review';
export const properties = [
  'never-throws: the handler resolves for any body',
  'always-allows: the answer is an AdmissionReview whose response allows the pod and echoes request.uid',
  'patch-valid: a patch is base64 JSON Patch (RFC 6902) that applies to the pod as sent',
  'patch-is-inject: the patched pod equals what the pod-spec transform makes of it',
  'idempotent: the patched pod, reviewed again, gets no patch',
];
const fail: Fail = violations(name);

const config: InjectorConfig = {
  // The namespace lookup fails for one name, so the warning path is fuzzed too.
  namespaceAnnotations: async (ns) => {
    if (ns === 'broken') throw new Error('namespace API unavailable');
    return ns === 'meshed' ? { 'linnet.io/inject': 'enabled' } : ({} as Record<string, string>);
  },
  createdBy: 'linnet/fuzz',
};

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Applies add/remove/replace (all the webhook emits); throws on a path that does not exist. */
export function applyPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new Error('patch is not a list');
  let root = structuredClone(doc);
  for (const op of ops) {
    if (!isObject(op) || typeof op.path !== 'string' || !['add', 'remove', 'replace'].includes(String(op.op))) throw new Error(`bad op ${JSON.stringify(op)}`);
    if (op.path === '') {
      if (op.op === 'remove') throw new Error('remove of the root');
      root = structuredClone(op.value);
      continue;
    }
    if (!op.path.startsWith('/')) throw new Error(`path ${op.path}`);
    const tokens = op.path.slice(1).split('/').map(unescape);
    const last = tokens.pop()!;
    let parent: unknown = root;
    for (const t of tokens) {
      if (Array.isArray(parent)) parent = parent[Number(t)];
      else if (isObject(parent) && Object.hasOwn(parent, t)) parent = parent[t];
      else throw new Error(`path ${op.path} does not exist`);
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!/^(\d+|-)$/.test(last) || i > parent.length || (op.op !== 'add' && i >= parent.length)) throw new Error(`index ${last} out of range at ${op.path}`);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else parent[i] = structuredClone(op.value);
    } else if (isObject(parent)) {
      if (op.op !== 'add' && !Object.hasOwn(parent, last)) throw new Error(`${op.op} of missing ${op.path}`);
      if (op.op === 'remove') delete parent[last];
      else parent[last] = structuredClone(op.value);
    } else throw new Error(`parent of ${op.path} is not a container`);
  }
  return root;
}

async function review(body: unknown): Promise<Json> {
  try {
    return (await handleAdmissionReview(body, config)).review;
  } catch (e) {
    return fail('never-throws', `handleAdmissionReview threw ${describeError(e)}`, e);
  }
}

export async function run(input: Buffer): Promise<void> {
  const text = input.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const out = await review(body);
  const resp = isObject(out.response) ? out.response : fail('always-allows', `no response in ${JSON.stringify(out).slice(0, 200)}`);
  if (out.kind !== 'AdmissionReview' || resp.allowed !== true) fail('always-allows', JSON.stringify(out).slice(0, 300));
  const req = isObject(body) && isObject(body.request) ? body.request : undefined;
  const uid = req && typeof req.uid === 'string' ? req.uid : '';
  if (resp.uid !== uid) fail('always-allows', `uid ${JSON.stringify(resp.uid)} for request uid ${JSON.stringify(uid)}`);
  if (resp.patch === undefined) return;
  if (resp.patchType !== 'JSONPatch' || typeof resp.patch !== 'string') fail('patch-valid', `patchType ${String(resp.patchType)}`);
  let ops: unknown;
  try {
    ops = JSON.parse(Buffer.from(resp.patch as string, 'base64').toString('utf8'));
  } catch (e) {
    fail('patch-valid', `patch is not base64 JSON: ${describeError(e)}`);
  }
  const pod = { apiVersion: 'v1', kind: 'Pod', ...(req!.object as Json) };
  let patched: unknown;
  try {
    patched = applyPatch(req!.object, ops);
  } catch (e) {
    fail('patch-valid', `patch does not apply: ${(e as Error).message}`);
  }
  // What the transform itself makes of the pod (the webhook fills apiVersion/kind the same way).
  const ns = typeof req!.namespace === 'string' && req!.namespace !== '' ? req!.namespace : undefined;
  void ns;
  const direct = { ...(patched as Json) };
  if (!isObject(direct.metadata) || !Array.isArray((direct.spec as Json | undefined)?.containers)) fail('patch-is-inject', 'patched pod lost its shape');
  const reinjected = injectObject(pod, { manual: true, requireOptIn: false, createdBy: 'linnet/fuzz' });
  const names = (o: unknown) => ((isObject(o) && isObject(o.spec) && Array.isArray(o.spec.containers) ? o.spec.containers : []) as Json[]).map((c) => c.name);
  if (!isDeepStrictEqual(names(direct), names(reinjected.object))) {
    fail('patch-is-inject', `containers ${JSON.stringify(names(direct))} vs transform ${JSON.stringify(names(reinjected.object))}`);
  }
  const second = await review({ ...(body as Json), request: { ...req!, object: patched } });
  if (isObject(second.response) && second.response.patch !== undefined) fail('idempotent', 'the patched pod was patched again');
}

export const dictionary = [
  '"admission.k8s.io/v1"', '"admission.k8s.io/v1beta1"', '"AdmissionReview"', '"request"', '"uid"', '"kind"', '"Pod"', '"group"', '""',
  '"operation"', '"CREATE"', '"UPDATE"', '"namespace"', '"meshed"', '"broken"', '"object"', '"metadata"', '"annotations"',
  '"linnet.io/inject"', '"enabled"', '"disabled"', '"ownerReferences"', '"controller"', 'true', 'null', '[]', '{}', '"spec"', '"containers"',
  '"hostNetwork"', '"config.linnet.io/skip-subnets"', '"config.linnet.io/opaque-ports"', '"dryRun"', ':', ',', '"__proto__"', '"~1"',
];

const target = { name, properties, run, dictionary, maxInputBytes: 16 * 1024 };
export default target;
