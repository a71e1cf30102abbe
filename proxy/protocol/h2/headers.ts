/**
 * Header fields between HTTP/2 hops, as the engine carries them: a flat [name, value, ...] array
 * in wire order (repeated fields stay separate, as they were sent). The connection already
 * refused what may not cross (connection-specific fields, `te` other than `trailers`, pseudo-
 * headers in trailers: semantics.ts), so a section is forwarded as it came.
 */
import type { Fields } from './semantics';

/** The first value of `name` (lower case), or undefined. */
export function fieldValue(fields: Fields, name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** The authority a request names, for the `authority` label: :authority, else Host, lower-cased. */
export function authorityOf(fields: Fields): string {
  const a = fieldValue(fields, ':authority') ?? fieldValue(fields, 'host');
  return a === undefined ? '' : a.toLowerCase();
}

/** The fields as an object (repeated names joined as Node joins them), for logs and tests. */
export function fieldsObject(fields: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i]!;
    const v = fields[i + 1]!;
    out[n] = out[n] === undefined ? v : `${out[n]}, ${v}`;
  }
  return out;
}
