/**
 * What makes an HTTP/2 header section well-formed (RFC 9113 §8.1-8.3), pure: field names lower
 * case and made of token characters, values without NUL, CR or LF and without surrounding
 * whitespace, pseudo-header fields first, known, once each, the right ones for a request or a
 * response, none in trailers, no connection-specific field, `te` only as `trailers`, and one
 * content-length that the body must then match. A malformed message is a stream error
 * (PROTOCOL_ERROR): it is never forwarded (a smuggling vector otherwise).
 */

/** Fields as the HPACK decoder gives them: [name, value, name, value, ...]. */
export type Fields = string[];

export type Section = 'request' | 'response' | 'trailers';

export interface Checked {
  /** Why the section is malformed; undefined when it is well-formed. */
  error?: string;
  /** The content-length it declares, or -1. */
  contentLength: number;
  /** A request's :method, a response's :status (as text). */
  method?: string;
  status?: number;
}

// RFC 9110 §5.6.2 tchar, lower case only (RFC 9113 §8.2.1: upper case is malformed).
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

// Pseudo-header fields as bits: which ones a section had, with no Set made per header block.
const METHOD = 1;
const SCHEME = 2;
const AUTHORITY = 4;
const PATH = 8;
const PROTOCOL = 16;
const STATUS = 32;

function pseudoBit(name: string): number {
  switch (name) {
    case ':method':
      return METHOD;
    case ':scheme':
      return SCHEME;
    case ':authority':
      return AUTHORITY;
    case ':path':
      return PATH;
    case ':protocol':
      return PROTOCOL;
    case ':status':
      return STATUS;
    default:
      return 0;
  }
}

/** A :status value: three digits, the first 1-9. */
function statusOf(v: string): number {
  if (v.length !== 3) return -1;
  const a = v.charCodeAt(0) - 0x30;
  const b = v.charCodeAt(1) - 0x30;
  const c = v.charCodeAt(2) - 0x30;
  if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  return a * 100 + b * 10 + c;
}

function badName(n: string): boolean {
  if (n.length === 0) return true;
  for (let i = n.charCodeAt(0) === 0x3a ? 1 : 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] !== 1) return true;
  }
  return n === ':';
}

function badValue(v: string): boolean {
  const last = v.length - 1;
  if (last >= 0) {
    const a = v.charCodeAt(0);
    const z = v.charCodeAt(last);
    if (a === 0x20 || a === 0x09 || z === 0x20 || z === 0x09) return true;
  }
  for (let i = 0; i <= last; i++) {
    const c = v.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return true;
  }
  return false;
}

/** One content-length value (a list of equal values is refused, as nghttp2 does). */
function contentLengthOf(v: string): number {
  if (v.length === 0 || v.length > 15) return -2;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -2;
  }
  return Number(v);
}

/** The section as read so far, with why it is malformed (no copy: `out` is the caller's only). */
function malformed(out: Checked, error: string): Checked {
  out.error = error;
  return out;
}

export function checkSection(fields: Fields, section: Section): Checked {
  const out: Checked = { contentLength: -1 };
  let regularSeen = false;
  let seen = 0;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (badName(name)) return malformed(out, `invalid field name ${JSON.stringify(name)}`);
    if (badValue(value)) return malformed(out, `invalid value for ${name}`);
    if (name.charCodeAt(0) === 0x3a) {
      if (section === 'trailers') return malformed(out, `pseudo-header ${name} in trailers`);
      if (regularSeen) return malformed(out, `pseudo-header ${name} after a regular field`);
      const bit = pseudoBit(name);
      if (section === 'request') {
        if (bit === 0 || bit === STATUS) return malformed(out, `unknown request pseudo-header ${name}`);
        if ((seen & bit) !== 0) return malformed(out, `duplicate ${name}`);
        if (bit === METHOD) out.method = value;
      } else {
        if (bit !== STATUS) return malformed(out, `unknown response pseudo-header ${name}`);
        if ((seen & bit) !== 0) return malformed(out, `duplicate ${name}`);
        const status = statusOf(value);
        if (status < 0) return malformed(out, `invalid :status ${JSON.stringify(value)}`);
        out.status = status;
      }
      seen |= bit;
      continue;
    }
    regularSeen = true;
    if (CONNECTION_SPECIFIC.has(name)) return malformed(out, `connection-specific field ${name}`);
    if (name === 'te' && value !== 'trailers') return malformed(out, `te: ${value} (only "trailers" is allowed)`);
    if (name === 'content-length') {
      const n = contentLengthOf(value);
      if (n < 0) return malformed(out, `invalid content-length ${JSON.stringify(value)}`);
      if (out.contentLength !== -1 && out.contentLength !== n) return malformed(out, 'content-length fields that disagree');
      out.contentLength = n;
    }
  }
  if (section === 'request') {
    if (out.method === undefined) return malformed(out, 'no :method');
    if (out.method === 'CONNECT') {
      if ((seen & AUTHORITY) === 0 || ((seen & (SCHEME | PATH)) !== 0 && (seen & PROTOCOL) === 0)) return malformed(out, 'malformed CONNECT');
    } else if ((seen & SCHEME) === 0 || (seen & PATH) === 0) return malformed(out, 'no :scheme or :path');
  } else if (section === 'response' && out.status === undefined) return malformed(out, 'no :status');
  return out;
}
