/**
 * HPACK decoder (RFC 7541) for the header blocks one peer sends on one connection. It keeps that
 * peer's dynamic table in step with the peer's encoder: every block must be decoded, in order,
 * whole, or the connection closed (an HpackError is a COMPRESSION_ERROR).
 *
 * Allocation: one string per literal (a latin1 slice of the block, or of a reused scratch buffer
 * for Huffman-coded ones), none for indexed fields (the table's strings are shared), the fields
 * array and the result. A hostile block cannot make it hold more than the block implies: Huffman
 * output is at most 8/5 of its input, every string must fit in the bytes left, integers stop at
 * 2^31-1 and five continuation octets, and the table holds at most its capacity, which only a
 * size update within our SETTINGS_HEADER_TABLE_SIZE can raise.
 */
import { DynamicTable, ENTRY_OVERHEAD, type TableView } from './dynamic-table';
import { HpackError } from './errors';
import { HUFFMAN_EOS, huffmanDecode, huffmanDecodedMax } from './huffman';
import { INTEGER_TRUNCATED, readInteger, type Cursor } from './integer';
import { STATIC_LENGTH, STATIC_NAMES, STATIC_VALUES } from './static-table';
import { checkTableSize, DEFAULT_TABLE_SIZE } from './table-size';

export interface DecodedBlock {
  /** [name, value, name, value, ...] in order; names as sent (the caller checks lower case), values as latin1 strings (octets kept). */
  fields: string[];
  /** Sum over fields of name octets + value octets + 32: RFC 9113 §6.5.2's header list size. */
  size: number;
  /** Pair indexes (0-based, into fields/2) of fields sent "never indexed", so a proxy forwards them the same way (RFC 7541 §7.1.3); undefined when none. */
  neverIndexed: number[] | undefined;
}

/** Buffer's own latin1 slicer: what toString('latin1', ...) ends in, without the encoding dispatch. */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/** Huffman output up to this size reuses the decoder's scratch buffer; a larger one is not kept. */
const SCRATCH_KEEP = 16 * 1024;

export class HpackDecoder {
  private readonly table: DynamicTable;
  /** Our SETTINGS_HEADER_TABLE_SIZE as acknowledged: no size update may exceed it. */
  private limit: number;
  /**
   * Set when our setting went below the table's capacity: the next block must start with a size
   * update (RFC 7541 §4.2), one of them no larger than the smallest setting since (`lowest`).
   */
  private mustUpdate = false;
  private lowest: number;
  private readonly cur: Cursor = { p: 0 };
  private scratch: Buffer = Buffer.allocUnsafe(256);

  /**
   * `maxTableSize`: our SETTINGS_HEADER_TABLE_SIZE, and the table's capacity until the peer's
   * first size update. A connection starts at HTTP/2's 4096 (the default) whatever it is about to
   * announce: the peer may send blocks before it sees our SETTINGS; call setMaxTableSize on the ACK.
   */
  constructor(opts: { maxTableSize?: number } = {}) {
    this.limit = checkTableSize(opts.maxTableSize ?? DEFAULT_TABLE_SIZE, 'HpackDecoder');
    this.lowest = this.limit;
    this.table = new DynamicTable(this.limit);
  }

  /** Our SETTINGS_HEADER_TABLE_SIZE after the peer acknowledged it: the bound for the peer's size updates. */
  setMaxTableSize(n: number): void {
    checkTableSize(n, 'HpackDecoder.setMaxTableSize');
    if (n < this.table.capacity) {
      this.lowest = this.mustUpdate ? Math.min(this.lowest, n) : n;
      this.mustUpdate = true;
    }
    this.limit = n;
  }

  /** The bound for the peer's size updates (the last setMaxTableSize). */
  get maxTableSize(): number {
    return this.limit;
  }

  /** The peer's dynamic table as this side holds it (tests, fuzzing, debugging). */
  get dynamicTable(): TableView {
    return this.table;
  }

  /** One complete header block (HEADERS + CONTINUATION payloads joined). Throws HpackError on anything malformed. Always decodes the whole block, even when `size` is over a limit, so the dynamic table stays in step; the caller decides what to answer. */
  decode(block: Buffer): DecodedBlock {
    const end = block.length;
    const cur = this.cur;
    const table = this.table;
    cur.p = 0;
    const fields: string[] = [];
    let size = 0;
    let neverIndexed: number[] | undefined;
    let updates = 0;
    let smallestUpdate = Infinity;
    while (cur.p < end) {
      const at = cur.p;
      const first = block[at]!;
      let name: string;
      let value: string;
      if (first >= 0x80) {
        // Indexed header field (§6.1).
        const index = this.integer(block, end, 7, at);
        if (index === 0) throw new HpackError('indexed field with index 0', at);
        if (index <= STATIC_LENGTH) {
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          const i = index - STATIC_LENGTH - 1;
          if (i >= table.length) throw this.pastTables(index, at);
          name = table.name(i);
          value = table.value(i);
        }
      } else if (first >= 0x40) {
        // Literal with incremental indexing (§6.2.1).
        name = this.literalName(block, end, 6, at);
        value = this.string(block, end);
        table.add(name, value);
      } else if (first >= 0x20) {
        // Dynamic table size update (§6.3): only before the first field (§4.2).
        if (fields.length > 0) throw new HpackError('dynamic table size update after a header field', at);
        if (++updates > 2) throw new HpackError('more than two dynamic table size updates', at);
        const n = this.integer(block, end, 5, at);
        if (n > this.limit) throw new HpackError(`dynamic table size update to ${n}, above our SETTINGS_HEADER_TABLE_SIZE ${this.limit}`, at);
        if (n < smallestUpdate) smallestUpdate = n;
        table.setCapacity(n);
        continue;
      } else {
        // Literal without indexing (0000xxxx, §6.2.2) or never indexed (0001xxxx, §6.2.3).
        name = this.literalName(block, end, 4, at);
        value = this.string(block, end);
        if (first >= 0x10) (neverIndexed ??= []).push(fields.length >> 1);
      }
      fields.push(name, value);
      size += name.length + value.length + ENTRY_OVERHEAD;
    }
    if (this.mustUpdate) {
      if (smallestUpdate > this.lowest) {
        throw new HpackError(
          updates === 0
            ? `no dynamic table size update at the start of the first block after our SETTINGS_HEADER_TABLE_SIZE went down to ${this.lowest}`
            : `the dynamic table size updates never went down to ${this.lowest}, our SETTINGS_HEADER_TABLE_SIZE since the last block`,
          0,
        );
      }
      this.mustUpdate = false;
    }
    return { fields, size, neverIndexed };
  }

  private integer(block: Buffer, end: number, prefixBits: number, at: number): number {
    const v = readInteger(block, end, prefixBits, this.cur);
    if (v < 0) throw new HpackError(v === INTEGER_TRUNCATED ? 'integer cut off by the end of the block' : 'integer above 2^31-1 or longer than 5 continuation octets', at);
    return v;
  }

  /** The name of a literal representation: an index into the tables, or (index 0) a string literal. */
  private literalName(block: Buffer, end: number, prefixBits: number, at: number): string {
    const index = this.integer(block, end, prefixBits, at);
    if (index === 0) return this.string(block, end);
    if (index <= STATIC_LENGTH) return STATIC_NAMES[index]!;
    const i = index - STATIC_LENGTH - 1;
    if (i >= this.table.length) throw this.pastTables(index, at);
    return this.table.name(i);
  }

  private pastTables(index: number, at: number): HpackError {
    return new HpackError(`index ${index} past the static table and the ${this.table.length} dynamic entries`, at);
  }

  /** A string literal (§5.2) at the cursor. */
  private string(block: Buffer, end: number): string {
    const cur = this.cur;
    const at = cur.p;
    if (at >= end) throw new HpackError('block ends where a string literal should start', at);
    const huffman = block[at]! >= 0x80;
    const length = this.integer(block, end, 7, at);
    const start = cur.p;
    if (length > end - start) throw new HpackError(`string literal of ${length} octets with ${end - start} left in the block`, at);
    cur.p = start + length;
    if (!huffman) return (block as unknown as Latin1Slicer).latin1Slice(start, start + length);
    const max = huffmanDecodedMax(length);
    let out = this.scratch;
    if (out.length < max) {
      out = Buffer.allocUnsafe(max <= SCRATCH_KEEP ? Math.min(SCRATCH_KEEP, Math.max(max, out.length * 2)) : max);
      if (max <= SCRATCH_KEEP) this.scratch = out;
    }
    const n = huffmanDecode(block, start, start + length, out);
    if (n < 0) throw new HpackError(n === HUFFMAN_EOS ? 'EOS symbol inside a Huffman-coded string' : 'Huffman padding longer than 7 bits or not all ones', at);
    return (out as unknown as Latin1Slicer).latin1Slice(0, n);
  }
}
