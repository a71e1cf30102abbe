/**
 * HPACK encoder (RFC 7541) for the header blocks this side sends on one connection.
 *
 * Strategy, field by field (names arrive lower case):
 *   1. Never indexed (§6.2.3, literal, name by index when either table has it): pairs the caller
 *      marks (a proxy forwards what it received never-indexed the same way, §7.1.3); every
 *      `authorization` and `proxy-authorization` value; `cookie` values shorter than 20 octets.
 *      As nghttp2 does: a short secret in the table could be guessed by an attacker who shares
 *      the connection and watches how well its own guesses compress (CRIME, §7.1). A proxy's
 *      upstream connection is shared by many clients, so credentials are never indexed at all.
 *   2. An exact match in the static table, then in the dynamic table: indexed (§6.1).
 *   3. Names whose values rarely repeat (NO_INDEX_NAMES: lengths, validators, locations,
 *      set-cookie, request and trace ids, grpc-timeout), a `:path` whose query is longer than
 *      PATH_QUERY_INDEX_MAX, and an entry larger than 3/4 of the table: literal without indexing
 *      (§6.2.2), so they do not push out entries that would be reused. `date` and `expires` are
 *      indexed: on a busy connection every response within the same second repeats them, and
 *      an insert costs no more octets than a literal without indexing. Over the http2jp
 *      corpus's raw-data stories, keeping them out of the table made the blocks 18% larger
 *      (425 kB against 359 kB; nghttp2's encoder: 360 kB).
 *   4. Anything else: literal with incremental indexing (§6.2.1), name by index when known.
 * A name by index prefers the static table. A string is Huffman-coded only when that is shorter.
 *
 * Table size: the peer's SETTINGS_HEADER_TABLE_SIZE bounds the table; this encoder uses at most
 * ENCODER_TABLE_CAP of it (as nghttp2 and Go's x/net/http2 do: a peer may allow a large table,
 * but past a few KiB it saves little and costs memory per connection). Any change is announced
 * by size updates at the start of the next block (§4.2): the smallest size reached since the
 * last block, then the final one when it differs.
 *
 * Allocation: the block is written into a scratch buffer kept by the encoder, grown as needed
 * (and dropped after a block larger than SCRATCH_KEEP), and the result is a copy of the used
 * part (small ones come from Node's shared Buffer pool): the caller may hold or queue it while
 * the next block is encoded. The copy is the one allocation per block besides table entries; no
 * per-field objects, closures or strings.
 */
import { DynamicTable, ENTRY_OVERHEAD, type TableView } from './dynamic-table';
import { huffmanEncode, huffmanLength } from './huffman';
import { writeInteger } from './integer';
import { STATIC_BY_NAME, STATIC_LENGTH } from './static-table';
import { checkTableSize, DEFAULT_TABLE_SIZE } from './table-size';
import { LinnetError } from '../../../../core/errors';

/** The most of the peer's table this encoder uses. */
export const ENCODER_TABLE_CAP = 4096;
/** A `:path` whose query (from the '?') is longer than this is sent without indexing: it likely carries an id. */
export const PATH_QUERY_INDEX_MAX = 24;
/** Cookie values shorter than this are never indexed (nghttp2's bound). */
const SHORT_COOKIE = 20;
const INITIAL_SCRATCH = 1024;
const SCRATCH_KEEP = 64 * 1024;

const INDEX = 0;
const NEVER_INDEX = 1;
const NEVER_INDEX_SHORT = 2;
const NO_INDEX = 3;
const PATH = 4;

export const NEVER_INDEX_NAMES: readonly string[] = ['authorization', 'proxy-authorization'];
export const NO_INDEX_NAMES: readonly string[] = [
  'age', 'content-length', 'etag', 'if-modified-since', 'if-none-match', 'if-unmodified-since',
  'last-modified', 'location', 'set-cookie', 'retry-after', 'content-range', 'range',
  'x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'traceparent', 'grpc-timeout',
];

/** What the encoder knows of a name before looking at the dynamic table: one Map read per field. */
interface NameInfo {
  /** First static index with this name, 0 when none. */
  readonly index: number;
  /**
   * Static index of each value, for the few names with more than an empty value there (the
   * pseudo-headers, accept-encoding); undefined when the name's one static value is '' (its
   * exact match is then `index`), which spares most fields a Map read.
   */
  readonly values: ReadonlyMap<string, number> | undefined;
  readonly policy: number;
}

const NAMES: ReadonlyMap<string, NameInfo> = (() => {
  const m = new Map<string, NameInfo>();
  const policyOf = (n: string) =>
    NEVER_INDEX_NAMES.includes(n) ? NEVER_INDEX : n === 'cookie' ? NEVER_INDEX_SHORT : NO_INDEX_NAMES.includes(n) ? NO_INDEX : n === ':path' ? PATH : INDEX;
  for (const [name, s] of STATIC_BY_NAME) {
    const onlyEmpty = s.values.size === 1 && s.values.has('');
    m.set(name, { index: s.index, values: onlyEmpty ? undefined : s.values, policy: policyOf(name) });
  }
  for (const name of [...NEVER_INDEX_NAMES, ...NO_INDEX_NAMES]) if (!m.has(name)) m.set(name, { index: 0, values: undefined, policy: policyOf(name) });
  return m;
})();

/** Per name in the dynamic table: the newest entry's sequence number, and each value's. */
interface DynamicName {
  seq: number;
  readonly values: Map<string, number>;
}

/** The encoder's copy of the table, with lookups kept in step with adds and evictions. */
class EncoderTable extends DynamicTable {
  readonly byName = new Map<string, DynamicName>();

  /** HPACK index of the entry with sequence number `seq`. */
  indexOf(seq: number): number {
    return STATIC_LENGTH + this.added - seq;
  }

  insert(name: string, value: string): void {
    const before = this.added;
    this.add(name, value);
    if (this.added === before) return; // too large: the table was emptied instead
    const seq = before;
    const e = this.byName.get(name);
    if (e === undefined) {
      const values = new Map<string, number>();
      values.set(value, seq);
      this.byName.set(name, { seq, values });
    } else {
      e.seq = seq;
      e.values.set(value, seq);
    }
  }

  protected override evicted(name: string, value: string, seq: number): void {
    const e = this.byName.get(name);
    if (e === undefined) return;
    // Oldest leave first: when the newest entry of a name leaves, it was the last of that name.
    if (e.seq === seq) this.byName.delete(name);
    else if (e.values.get(value) === seq) e.values.delete(value);
  }
}

export class HpackEncoder {
  private readonly table: EncoderTable;
  /** The capacity to use: the peer's setting, at most ENCODER_TABLE_CAP. */
  private target: number;
  /** The smallest target since the last block (§4.2 asks for it to be signalled first). */
  private lowest: number;
  private pending: boolean;
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_SCRATCH);

  /** `maxTableSize`: the peer's SETTINGS_HEADER_TABLE_SIZE both ends start from (HTTP/2's initial 4096). */
  constructor(opts: { maxTableSize?: number } = {}) {
    const setting = checkTableSize(opts.maxTableSize ?? DEFAULT_TABLE_SIZE, 'HpackEncoder');
    // The peer's decoder starts with the full setting; a smaller cap is announced in the first block.
    this.table = new EncoderTable(setting);
    this.target = this.lowest = Math.min(setting, ENCODER_TABLE_CAP);
    this.pending = this.target !== setting;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: the encoder uses at most this and emits a dynamic table size update at the start of the next block (RFC 7541 §4.2, §6.3), including the smaller-then-final pair when the size went down and up again. */
  setMaxTableSize(n: number): void {
    checkTableSize(n, 'HpackEncoder.setMaxTableSize');
    this.target = Math.min(n, ENCODER_TABLE_CAP);
    if (this.target < this.lowest) this.lowest = this.target;
    this.pending = this.target !== this.table.capacity || this.lowest < this.table.capacity;
  }

  /** This side's copy of the dynamic table (tests, fuzzing, debugging). */
  get dynamicTable(): TableView {
    return this.table;
  }

  /** One header block from [name, value, ...] (names lower case). `neverIndexed`: pair indexes to encode as never-indexed literals. */
  encode(fields: readonly string[], neverIndexed?: readonly number[]): Buffer {
    const n = fields.length;
    if ((n & 1) !== 0) {
      throw new LinnetError('LINNET_HTTP2_HPACK_MISUSE', `HpackEncoder.encode: ${n} strings is not a list of name, value pairs`, {
        hint: 'a bug in the HTTP/2 code: pass [name, value, name, value, ...]',
      });
    }
    const table = this.table;
    const never = neverIndexed !== undefined && neverIndexed.length > 0 ? neverIndexed : undefined;
    let buf = this.buf;
    let pos = 0;
    if (this.pending) {
      // Two updates at most, 6 octets each: the scratch buffer is never smaller than that.
      if (this.lowest < this.target) {
        pos = writeInteger(buf, pos, this.lowest, 5, 0x20);
        table.setCapacity(this.lowest);
      }
      pos = writeInteger(buf, pos, this.target, 5, 0x20);
      table.setCapacity(this.target);
      this.lowest = this.target;
      this.pending = false;
    }
    for (let i = 0; i < n; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      // Worst case: a 6-octet first integer, then each string's 6-octet length and raw octets.
      const room = pos + 18 + name.length + value.length;
      if (room > buf.length) buf = this.grow(pos, room);
      const info = NAMES.get(name);
      let policy = info === undefined ? INDEX : info.policy;
      if (policy === NEVER_INDEX_SHORT) policy = value.length < SHORT_COOKIE ? NEVER_INDEX : INDEX;
      if (never !== undefined && never.includes(i >> 1)) policy = NEVER_INDEX;
      if (policy !== NEVER_INDEX && info !== undefined) {
        const s = info.values !== undefined ? (info.values.get(value) ?? 0) : value === '' ? info.index : 0;
        if (s !== 0) {
          pos = writeInteger(buf, pos, s, 7, 0x80);
          continue;
        }
      }
      const dyn = table.length === 0 ? undefined : table.byName.get(name);
      if (policy !== NEVER_INDEX && dyn !== undefined) {
        const d = dyn.values.get(value);
        if (d !== undefined) {
          pos = writeInteger(buf, pos, table.indexOf(d), 7, 0x80);
          continue;
        }
      }
      if (policy === PATH) {
        const q = value.indexOf('?');
        policy = q >= 0 && value.length - q > PATH_QUERY_INDEX_MAX ? NO_INDEX : INDEX;
      }
      const nameIndex = info !== undefined && info.index !== 0 ? info.index : dyn !== undefined ? table.indexOf(dyn.seq) : 0;
      if (policy === INDEX && (name.length + value.length + ENTRY_OVERHEAD) * 4 <= table.capacity * 3) {
        pos = writeInteger(buf, pos, nameIndex, 6, 0x40);
        if (nameIndex === 0) pos = writeString(buf, pos, name);
        pos = writeString(buf, pos, value);
        table.insert(name, value);
      } else {
        pos = writeInteger(buf, pos, nameIndex, 4, policy === NEVER_INDEX ? 0x10 : 0x00);
        if (nameIndex === 0) pos = writeString(buf, pos, name);
        pos = writeString(buf, pos, value);
      }
    }
    // Buffer.allocUnsafe takes small blocks from Node's shared pool. Copying a few dozen octets
    // by hand beats buf.copy's native call, which costs more than the whole of a warm block.
    const out = Buffer.allocUnsafe(pos);
    if (pos <= 64) for (let i = 0; i < pos; i++) out[i] = buf[i]!;
    else out.set(buf.subarray(0, pos));
    if (buf.length > SCRATCH_KEEP) this.buf = Buffer.allocUnsafe(INITIAL_SCRATCH);
    return out;
  }

  private grow(pos: number, room: number): Buffer {
    const b = Buffer.allocUnsafe(Math.max(room, this.buf.length * 2));
    this.buf.copy(b, 0, 0, pos);
    return (this.buf = b);
  }
}

interface Latin1Writer {
  latin1Write(s: string, offset: number, length: number): number;
}

/** A string literal (§5.2): Huffman-coded when that is shorter, else the latin1 octets. */
function writeString(buf: Buffer, pos: number, s: string): number {
  const len = s.length;
  if (len > 0) {
    const h = huffmanLength(s);
    if (h < len) {
      pos = writeInteger(buf, pos, h, 7, 0x80);
      return huffmanEncode(s, buf, pos);
    }
  }
  pos = writeInteger(buf, pos, len, 7, 0);
  return pos + (buf as unknown as Latin1Writer).latin1Write(s, pos, len);
}
