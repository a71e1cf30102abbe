/**
 * Request and response filters on HTTP/2 header fields ([name, value, ...], names lower case):
 * header edits, and URLRewrite's hostname (`:authority`, its port kept) and path (`:path`).
 * Pseudo-headers are never removed or added by an edit. Pairs that came never-indexed stay so
 * (their indexes follow the pairs). Pure.
 */
import type { HeaderEdit } from '../../../core/route/model';

export function editH2Fields(
  fields: readonly string[],
  neverIndexed: readonly number[] | undefined,
  edit: HeaderEdit | undefined,
  rewrite: { hostname?: string; path?: string } | undefined,
): { fields: string[]; neverIndexed: number[] | undefined } {
  const drop = new Set(edit ? [...edit.remove, ...edit.set.map(([n]) => n)] : []);
  const never = neverIndexed ? new Set(neverIndexed) : undefined;
  const out: string[] = [];
  const outNever: number[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    let value = fields[i + 1]!;
    if (name[0] !== ':' && drop.has(name)) continue;
    if (name === ':path' && rewrite?.path !== undefined) value = rewrite.path;
    if (name === ':authority' && rewrite?.hostname !== undefined) {
      const port = /:(\d+)$/.exec(value)?.[1];
      value = port ? `${rewrite.hostname}:${port}` : rewrite.hostname;
    }
    if (never?.has(i / 2)) outNever.push(out.length / 2);
    out.push(name, value);
  }
  for (const [n, v] of [...(edit?.set ?? []), ...(edit?.add ?? [])]) if (n[0] !== ':') out.push(n, v);
  return { fields: out, neverIndexed: outNever.length > 0 ? outNever : undefined };
}
