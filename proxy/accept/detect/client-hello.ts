/**
 * A TLS ClientHello parser for protocol detection (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).
 *
 * It reads the first flight of a client: one or more handshake records (content type 22) that
 * carry one ClientHello message, reassembled when a client fragments it over several records.
 * It extracts what routing needs (SNI host name, ALPN list) plus a few cheap facts (offered
 * versions, cipher suites, extension order) for logs and fingerprints. It never decrypts and
 * never answers the client; the TLS stack that terminates the connection parses the hello again.
 *
 * Hostile input: every read is checked against two limits, the *declared* end of the enclosing
 * structure (exceeding it is malformed, decided at once) and the *available* end of the bytes
 * seen so far (exceeding it means "need more"). So a partial hello that is already wrong is
 * rejected as early as possible, a valid prefix always asks for more, and nothing is ever read
 * past either end. parseClientHello never throws: malformed input comes back as a result with a
 * stable problem code; parseClientHelloBody (for a message already cut out) throws the typed
 * ClientHelloError instead.
 */
import { LinnetError } from '../../../core/errors';

/** Largest TLS record payload (RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14). */
export const TLS_MAX_RECORD_PAYLOAD = 1 << 14;
export const TLS_RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;
const CONTENT_TYPE_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;

export interface ClientHello {
  /** legacy_version of the hello body: 0x0303 for TLS 1.2 and 1.3 clients. */
  legacyVersion: number;
  /** The SNI host_name (RFC 6066 §3), ASCII, lower-cased (host names compare case-insensitively). */
  sni?: string;
  /** ALPN protocol names (RFC 7301) in the client's order, each byte as one latin1 character. */
  alpn: string[];
  /** supported_versions (RFC 8446 §4.2.1), empty when absent (a TLS ≤ 1.2 client). */
  supportedVersions: number[];
  cipherSuites: number[];
  /** Extension types in the order sent. */
  extensionTypes: number[];
  /** How many bytes of the stream the hello occupied, record headers included. */
  streamBytes: number;
}

/** Why a byte string is not a usable ClientHello; stable codes for logs and metrics. */
export type ClientHelloProblem =
  | 'not-handshake-record' // content type or record version is not TLS
  | 'bad-record-length' // zero or above 2^14
  | 'not-client-hello' // handshake message type is not client_hello
  | 'too-large' // the hello does not fit in the caller's byte budget
  | 'malformed'; // a field breaks the ClientHello grammar

export type ClientHelloResult =
  | { status: 'need-more' }
  | { status: 'ok'; hello: ClientHello }
  | { status: 'invalid'; problem: ClientHelloProblem; detail: string };

/** Thrown only by parseClientHelloBody (and caught inside parseClientHello). */
export class ClientHelloError extends LinnetError {
  readonly problem: ClientHelloProblem;
  constructor(problem: ClientHelloProblem, detail: string) {
    super('LINNET_DETECT_BAD_CLIENT_HELLO', `not a valid TLS ClientHello: ${detail}`, {
      hint: 'the peer is not speaking TLS, or sent a corrupt or oversized ClientHello; it is handled as opaque TCP',
    });
    this.name = 'ClientHelloError';
    this.problem = problem;
  }
}

const NEED_MORE: ClientHelloResult = Object.freeze({ status: 'need-more' });

/** Scratch for the duplicate-extension check; all zero between calls (parsing is synchronous). */
const SEEN_EXTENSION = new Uint8Array(1 << 16);

/** Signals that a read needs bytes not yet seen; never escapes this module. */
class Truncated {
  static readonly instance = new Truncated();
}

/**
 * A cursor with a declared limit (`end`) and an available limit (`avail`). Nested vectors get a
 * child reader whose `end` is the vector's declared end; `avail` is shared.
 */
class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly avail: number,
  ) {}

  /** Claim the next n bytes: malformed past the declared end, need-more past the available end. */
  take(n: number, what: string): number {
    const at = this.pos;
    if (at + n > this.end) throw new ClientHelloError('malformed', `${what} runs past its enclosing length`);
    if (at + n > this.avail) throw Truncated.instance;
    this.pos = at + n;
    return at;
  }

  u8(what: string): number {
    return this.buf[this.take(1, what)];
  }

  u16(what: string): number {
    const at = this.take(2, what);
    return (this.buf[at] << 8) | this.buf[at + 1];
  }

  skip(n: number, what: string): void {
    this.take(n, what);
  }

  /** A child reader over the next `len` bytes; its declared end is checked now, before any wait. */
  vector(len: number, what: string): Reader {
    if (this.pos + len > this.end) throw new ClientHelloError('malformed', `${what} length ${len} runs past its enclosing length`);
    const child = new Reader(this.buf, this.pos, this.pos + len, this.avail);
    this.pos += len;
    return child;
  }

  /** Bytes [pos, pos+n) as latin1, after checking them. */
  latin1(n: number, what: string): string {
    const at = this.take(n, what);
    return this.buf.toString('latin1', at, at + n);
  }

  bytesAt(at: number): number {
    return this.buf[at];
  }

  get done(): boolean {
    return this.pos === this.end;
  }
}

/**
 * Parse the body of a handshake message of type client_hello. `msg` holds the 4-byte handshake
 * header followed by at most `declaredLength` body bytes (fewer when still arriving).
 * Throws ClientHelloError when malformed, or the internal Truncated marker when more is needed.
 */
function parseBody(msg: Buffer, declaredLength: number, streamBytes: number): ClientHello {
  const r = new Reader(msg, HANDSHAKE_HEADER_BYTES, HANDSHAKE_HEADER_BYTES + declaredLength, msg.length);
  const legacyVersion = r.u16('legacy_version');
  if (legacyVersion >> 8 !== 3) throw new ClientHelloError('malformed', `legacy_version 0x${legacyVersion.toString(16)} is not 3.x`);
  r.skip(32, 'random');
  const sessionIdLength = r.u8('legacy_session_id length');
  if (sessionIdLength > 32) throw new ClientHelloError('malformed', `legacy_session_id length ${sessionIdLength} exceeds 32`);
  r.skip(sessionIdLength, 'legacy_session_id');

  const suitesLength = r.u16('cipher_suites length');
  if (suitesLength < 2 || suitesLength % 2 !== 0) throw new ClientHelloError('malformed', `cipher_suites length ${suitesLength} is not a positive even number`);
  // Any 16-bit values are valid suites, so nothing inside can be wrong: wait for all, then copy.
  const suitesAt = r.take(suitesLength, 'cipher_suites');
  const cipherSuites: number[] = new Array(suitesLength >> 1);
  for (let k = 0; k < suitesLength; k += 2) cipherSuites[k >> 1] = (msg[suitesAt + k] << 8) | msg[suitesAt + k + 1];

  const compressionLength = r.u8('legacy_compression_methods length');
  if (compressionLength < 1) throw new ClientHelloError('malformed', 'legacy_compression_methods is empty');
  r.skip(compressionLength, 'legacy_compression_methods');

  const hello: ClientHello = { legacyVersion, alpn: [], supportedVersions: [], cipherSuites, extensionTypes: [], streamBytes };
  // A hello may end here (SSL 3.0 / TLS 1.0 style, no extensions at all).
  if (r.done) return hello;

  const extensionsLength = r.u16('extensions length');
  if (r.pos + extensionsLength !== r.end) {
    throw new ClientHelloError('malformed', `extensions length ${extensionsLength} does not match the ${r.end - r.pos} bytes left in the hello`);
  }
  const exts = r.vector(extensionsLength, 'extensions');
  // Duplicate check through a shared bitmap, cleared again on the way out: a hostile 16 KiB
  // hello holds ~4000 empty extensions and detect() re-parses the prefix whenever bytes arrive,
  // so this loop must stay a few ns per extension (Array.includes was 4.8 ms per parse).
  const { buf, avail } = exts;
  let p = exts.pos;
  try {
    while (p < exts.end) {
      if (p + 4 > exts.end) throw new ClientHelloError('malformed', 'extension header runs past the extensions block');
      if (p + 4 > avail) throw Truncated.instance;
      const type = (buf[p] << 8) | buf[p + 1];
      const len = (buf[p + 2] << 8) | buf[p + 3];
      p += 4;
      // RFC 8446 §4.2: no more than one extension of the same type.
      if (SEEN_EXTENSION[type] === 1) throw new ClientHelloError('malformed', `extension ${type} appears twice`);
      SEEN_EXTENSION[type] = 1;
      hello.extensionTypes.push(type);
      if (p + len > exts.end) throw new ClientHelloError('malformed', `extension ${type} length ${len} runs past the extensions block`);
      // Other extensions are not read, so not waited for either (see readClientHello).
      if (type === EXT_SERVER_NAME) hello.sni = parseServerName(new Reader(buf, p, p + len, avail));
      else if (type === EXT_ALPN) hello.alpn = parseAlpn(new Reader(buf, p, p + len, avail));
      else if (type === EXT_SUPPORTED_VERSIONS) hello.supportedVersions = parseSupportedVersions(new Reader(buf, p, p + len, avail));
      p += len;
    }
  } finally {
    for (const t of hello.extensionTypes) SEEN_EXTENSION[t] = 0;
  }
  return hello;
}

function parseServerName(body: Reader): string | undefined {
  const listLength = body.u16('server_name_list length');
  if (listLength < 1 || body.pos + listLength !== body.end) throw new ClientHelloError('malformed', 'server_name_list length does not fill the extension');
  const list = body.vector(listLength, 'server_name_list');
  let host: string | undefined;
  while (!list.done) {
    const nameType = list.u8('server name type');
    const nameLength = list.u16('server name length');
    if (nameType !== 0) {
      list.skip(nameLength, 'server name'); // unknown name types are skipped (RFC 6066 §3)
      continue;
    }
    if (host !== undefined) throw new ClientHelloError('malformed', 'more than one host_name in server_name');
    if (nameLength < 1) throw new ClientHelloError('malformed', 'empty host_name');
    const start = list.pos;
    const name = list.latin1(nameLength, 'host_name');
    for (let i = 0; i < nameLength; i++) {
      const c = list.bytesAt(start + i);
      // Printable ASCII without space: DNS names, plus what lenient clients put there (IP literals).
      if (c < 0x21 || c > 0x7e) throw new ClientHelloError('malformed', `host_name byte 0x${c.toString(16)} is not printable ASCII`);
    }
    host = name.toLowerCase();
  }
  return host;
}

function parseAlpn(body: Reader): string[] {
  const listLength = body.u16('protocol_name_list length');
  if (listLength < 2 || body.pos + listLength !== body.end) throw new ClientHelloError('malformed', 'protocol_name_list length does not fill the extension');
  // Validate the whole list first without allocating, and make the strings only once it is all
  // here: detect() re-parses partial hellos as bytes trickle in, and names are 2 bytes at least.
  const { buf, avail } = body;
  const start = body.pos;
  const end = start + listLength;
  let p = start;
  while (p < end) {
    if (p >= avail) throw Truncated.instance;
    const len = buf[p];
    if (len < 1) throw new ClientHelloError('malformed', 'empty ALPN protocol name');
    if (p + 1 + len > end) throw new ClientHelloError('malformed', 'protocol name runs past its enclosing length');
    p += 1 + len;
  }
  if (end > avail) throw Truncated.instance;
  const names: string[] = [];
  for (p = start; p < end; p += 1 + buf[p]) names.push(buf.toString('latin1', p + 1, p + 1 + buf[p]));
  body.pos = end;
  return names;
}

function parseSupportedVersions(body: Reader): number[] {
  const len = body.u8('supported_versions length');
  if (len < 2 || len % 2 !== 0 || body.pos + len !== body.end) throw new ClientHelloError('malformed', 'supported_versions length is not a positive even number filling the extension');
  const versions: number[] = [];
  while (!body.done) versions.push(body.u16('supported version'));
  return versions;
}

/**
 * Parse a complete ClientHello handshake message (4-byte header + body), e.g. one that a TLS
 * library handed over. Throws ClientHelloError when it is not one.
 */
export function parseClientHelloBody(msg: Buffer): ClientHello {
  if (msg.length < HANDSHAKE_HEADER_BYTES) throw new ClientHelloError('malformed', 'shorter than a handshake header');
  if (msg[0] !== HANDSHAKE_CLIENT_HELLO) throw new ClientHelloError('not-client-hello', `handshake type ${msg[0]}`);
  const len = (msg[1] << 16) | (msg[2] << 8) | msg[3];
  if (msg.length !== HANDSHAKE_HEADER_BYTES + len) throw new ClientHelloError('malformed', `handshake length ${len} does not match ${msg.length - HANDSHAKE_HEADER_BYTES} body bytes`);
  try {
    return parseBody(msg, len, msg.length);
  } catch (e) {
    if (e === Truncated.instance) throw new ClientHelloError('malformed', 'truncated'); // unreachable: avail == end
    throw e;
  }
}

function invalid(problem: ClientHelloProblem, detail: string): ClientHelloResult {
  return { status: 'invalid', problem, detail };
}

/**
 * Read a ClientHello from the start of a byte stream: `stream` is everything received so far.
 * Only the first `maxBytes` bytes are looked at; a hello that cannot complete within them is
 * 'too-large'. Bytes after the hello are ignored. Never throws.
 */
export function parseClientHello(stream: Buffer, maxBytes: number = TLS_RECORD_HEADER_BYTES + TLS_MAX_RECORD_PAYLOAD): ClientHelloResult {
  const n = stream.length < maxBytes ? stream.length : maxBytes;
  const r = readClientHello(stream, n, maxBytes);
  if (r.status === 'need-more' && n >= maxBytes) return invalid('too-large', `no complete ClientHello within the first ${maxBytes} bytes`);
  return r;
}

function readClientHello(stream: Buffer, n: number, maxBytes: number): ClientHelloResult {
  // Gather handshake bytes from consecutive handshake records. The common case is one record,
  // which needs no copy; fragments of several records are concatenated.
  const fragments: Buffer[] = [];
  let gathered = 0;
  let wanted = -1; // 4 + handshake length, once known
  let helloEnd = -1; // offset in the stream just past the hello's last byte
  let pos = 0;
  // A fault in a later record header does not answer at once: the gathered hello bytes before it
  // are parsed first, so that whichever fault comes first in the stream decides, the same way
  // for every prefix that shows both (detection must not depend on how the bytes arrived).
  let recordFault: ClientHelloResult | undefined;
  while (helloEnd < 0 && pos < n) {
    recordFault = recordHeaderFault(stream, pos, n);
    if (recordFault !== undefined || pos + 4 >= n) break;
    const recordLength = (stream[pos + 3] << 8) | stream[pos + 4];
    const start = pos + TLS_RECORD_HEADER_BYTES;
    const stop = Math.min(start + recordLength, n);
    if (stop > start) {
      fragments.push(stream.subarray(start, stop));
      gathered += stop - start;
    }
    if (fragments.length > 0 && fragments[0][0] !== HANDSHAKE_CLIENT_HELLO) {
      return invalid('not-client-hello', `handshake type ${fragments[0][0]}, expected 1 (client_hello)`);
    }
    if (wanted < 0 && gathered >= HANDSHAKE_HEADER_BYTES) {
      const len = (gatheredByte(fragments, 1) << 16) | (gatheredByte(fragments, 2) << 8) | gatheredByte(fragments, 3);
      wanted = HANDSHAKE_HEADER_BYTES + len;
      // Even in a single record the hello needs a record header plus itself.
      if (TLS_RECORD_HEADER_BYTES + wanted > maxBytes) {
        return invalid('too-large', `ClientHello of ${len} bytes exceeds the ${maxBytes}-byte detection buffer`);
      }
    }
    if (wanted >= 0 && gathered >= wanted) helloEnd = stop - (gathered - wanted);
    pos = start + recordLength;
  }
  if (wanted < 0) return recordFault ?? NEED_MORE; // fewer than 4 handshake bytes so far
  const joined = fragments.length === 1 ? fragments[0] : Buffer.concat(fragments, gathered);
  const msg = joined.length > wanted ? joined.subarray(0, wanted) : joined;
  try {
    const hello = parseBody(msg, wanted - HANDSHAKE_HEADER_BYTES, helloEnd);
    // The body parse skips unknown extensions without reading them, so it can finish before
    // their bytes arrive; the answer is only final once the whole message is here.
    return helloEnd < 0 ? (recordFault ?? NEED_MORE) : { status: 'ok', hello };
  } catch (e) {
    if (e === Truncated.instance) return recordFault ?? NEED_MORE;
    if (e instanceof ClientHelloError) return invalid(e.problem, e.message.replace(/^not a valid TLS ClientHello: /, ''));
    throw e; // a bug, not hostile input: let the tests see it
  }
}

/** What is wrong with the (possibly partial) record header at `pos`, checked byte by byte. */
function recordHeaderFault(stream: Buffer, pos: number, n: number): ClientHelloResult | undefined {
  if (stream[pos] !== CONTENT_TYPE_HANDSHAKE) {
    return invalid('not-handshake-record', `record content type ${stream[pos]} at byte ${pos}, expected 22 (handshake)`);
  }
  if (pos + 1 >= n) return undefined;
  if (stream[pos + 1] !== 3) return invalid('not-handshake-record', `record version major ${stream[pos + 1]}, expected 3`);
  if (pos + 2 >= n) return undefined;
  if (stream[pos + 2] > 4) return invalid('not-handshake-record', `record version 3.${stream[pos + 2]} is unknown`);
  if (pos + 4 >= n) return undefined;
  const recordLength = (stream[pos + 3] << 8) | stream[pos + 4];
  if (recordLength === 0 || recordLength > TLS_MAX_RECORD_PAYLOAD) return invalid('bad-record-length', `record length ${recordLength}`);
  return undefined;
}

/** Byte k of the concatenation of `fragments` (k is known to be in range). */
function gatheredByte(fragments: Buffer[], k: number): number {
  for (const f of fragments) {
    if (k < f.length) return f[k];
    k -= f.length;
  }
  return 0;
}
