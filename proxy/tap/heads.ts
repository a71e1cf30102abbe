/**
 * What tap reads of a request's head, taken only when a tap is open: the stacks hand the call the
 * head itself (an HTTP/1 head or HTTP/2 fields), so a request with no tap open builds nothing.
 */
import type { RequestHead } from '../protocol/h1/parse-head';
import { fieldValue } from '../protocol/h2/headers';
import type { Fields } from '../protocol/h2/semantics';

export interface TapHead {
  method: string;
  scheme: string;
  /** The request target as sent: path and query (origin-form). */
  target: string;
  /** The path alone, what a path match reads. */
  path: string;
}

/** A request's head as the stacks have it: HTTP/1's parsed head, HTTP/2's fields, or none. */
export type TapHeadSource = RequestHead | Fields | undefined;

function split(target: string): { target: string; path: string } {
  let t = target;
  // absolute-form (a proxy request): the part after the authority.
  if (t.charCodeAt(0) !== 0x2f && t !== '*') {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*(.*)$/.exec(t);
    if (m) t = m[1] || '/';
  }
  const q = t.indexOf('?');
  return { target: t, path: q < 0 ? t : t.slice(0, q) };
}

export function h1TapHead(head: RequestHead | undefined, scheme: string): TapHead {
  if (!head) return { method: 'GET', scheme, target: '', path: '' };
  return { method: head.method, scheme, ...split(head.target) };
}

export function h2TapHead(fields: Fields): TapHead {
  return { method: fieldValue(fields, ':method') ?? 'GET', scheme: fieldValue(fields, ':scheme') ?? 'http', ...split(fieldValue(fields, ':path') ?? '') };
}

/** The tap view of whichever head a request has (HTTP/1 is always `http` here: TLS ends below). */
export function tapHeadOf(src: TapHeadSource): TapHead {
  return Array.isArray(src) ? h2TapHead(src) : h1TapHead(src, 'http');
}
