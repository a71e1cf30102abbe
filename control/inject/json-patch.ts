/**
 * RFC 6902 JSON Patch from two JSON values, as the admission webhook returns it. Pure. Lists that
 * only grew at the front or the back get `add` operations (so the patch says "prepend the proxy",
 * not "replace all containers"); any other list change replaces the list.
 */
export type PatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: unknown };

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function createPatch(before: unknown, after: unknown, path = ''): PatchOp[] {
  if (same(before, after)) return [];
  if (isPlain(before) && isPlain(after)) {
    const ops: PatchOp[] = [];
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) ops.push({ op: 'remove', path: `${path}/${escapePointer(key)}` });
    for (const [key, value] of Object.entries(after)) {
      const p = `${path}/${escapePointer(key)}`;
      if (!Object.hasOwn(before, key)) ops.push({ op: 'add', path: p, value });
      else ops.push(...createPatch(before[key], value, p));
    }
    return ops;
  }
  if (Array.isArray(before) && Array.isArray(after) && after.length > before.length) {
    const extra = after.length - before.length;
    if (before.every((v, i) => same(v, after[i + extra]))) {
      // Prepended: add each at its final index, in order, so index i is right when it is applied.
      return after.slice(0, extra).map((value, i) => ({ op: 'add', path: `${path}/${i}`, value }));
    }
    if (before.every((v, i) => same(v, after[i]))) {
      return after.slice(before.length).map((value) => ({ op: 'add', path: `${path}/-`, value }));
    }
  }
  return [{ op: 'replace', path, value: after }];
}

/** Applies a patch made by createPatch (enough of RFC 6902 to test it against real payloads). */
export function applyPatch(doc: unknown, ops: PatchOp[]): unknown {
  const root = { v: structuredClone(doc) } as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path === '' ? [] : op.path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let parent: Record<string, unknown> | unknown[] = root;
    let key: string = 'v';
    for (const part of parts) {
      parent = (parent as Record<string, unknown>)[key] as Record<string, unknown> | unknown[];
      key = part;
    }
    if (Array.isArray(parent)) {
      const idx = key === '-' ? parent.length : Number(key);
      if (op.op === 'add') parent.splice(idx, 0, op.value);
      else if (op.op === 'remove') parent.splice(idx, 1);
      else parent[idx] = op.value;
    } else if (op.op === 'remove') {
      delete parent[key];
    } else {
      parent[key] = op.value;
    }
  }
  return root.v;
}
