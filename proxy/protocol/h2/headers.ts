/**
 * Header blocks between the two HTTP/2 hops. Connection-specific headers (RFC 9113 §8.2.2) belong
 * to one connection only and are dropped; everything else, pseudo-headers included, is carried
 * as the peer sent it. Node adds a symbol key (sensitive headers) that must not be copied blindly.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

/** The headers to send on the other hop; `te` is kept only as `trailers` (the one value HTTP/2 allows). */
export function forwardHeaders(h: IncomingHttpHeaders | Record<string, unknown>, drop: ReadonlySet<string> = EMPTY): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  // Names listed in a Connection header are connection-specific too (an h1 hop may have set them).
  const named = typeof h.connection === 'string' ? new Set(h.connection.toLowerCase().split(',').map((s) => s.trim())) : EMPTY;
  for (const k of Object.keys(h)) {
    if (CONNECTION_SPECIFIC.has(k) || named.has(k) || drop.has(k)) continue;
    const v = (h as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (k === 'te') {
      if (typeof v === 'string' && v.toLowerCase().split(',').some((t) => t.trim() === 'trailers')) out.te = 'trailers';
      continue;
    }
    out[k] = v as string | string[];
  }
  return out;
}

const EMPTY: ReadonlySet<string> = new Set();

/** Response pseudo-headers other than :status are not allowed; trailers carry none at all. */
export function forwardTrailers(h: IncomingHttpHeaders | Record<string, unknown> | undefined): OutgoingHttpHeaders {
  if (!h) return {};
  const out = forwardHeaders(h);
  for (const k of Object.keys(out)) if (k.startsWith(':')) delete out[k];
  return out;
}

/** The authority a request names, for the `authority` label: :authority, else Host, lower-cased. */
export function authorityOf(h: IncomingHttpHeaders): string {
  const a = h[':authority'] ?? h.host;
  return typeof a === 'string' ? a.toLowerCase() : '';
}
