/**
 * Fuzz target for the HPACK decoder (proxy/protocol/h2/hpack). One input is what a peer's encoder
 * sends on one connection: header blocks for one compression context, each framed by a 2-octet
 * big-endian length (a block shorter than its length ends the input), and between them SETTINGS
 * records: the length 0xffff followed by a 2-octet SETTINGS_HEADER_TABLE_SIZE that we have had
 * acknowledged. Both contexts start at 4096. The first refused block ends the input, as a
 * COMPRESSION_ERROR ends the connection.
 *
 * Every decoded block is also re-encoded by our encoder and decoded by a second decoder kept in
 * step (same SETTINGS): what a proxy does with every request. Seeds (fuzz/corpus/hpack-decode/)
 * are real blocks of http2jp's stories framed this way (`frameInput` below), a few with their
 * table-size changes, and a few hand-made refusals.
 */
import { isDeepStrictEqual } from 'node:util';
import { HpackDecoder, type DecodedBlock } from '../../proxy/protocol/h2/hpack/decoder';
import type { TableView } from '../../proxy/protocol/h2/hpack/dynamic-table';
import { HpackEncoder } from '../../proxy/protocol/h2/hpack/encoder';
import { refusalOrValue, violations, type Fail } from '../target';

export const name = 'hpack-decode';
export const properties = [
  'typed-errors: HpackDecoder.decode returns or throws HpackError LINNET_HTTP2_COMPRESSION_ERROR, nothing else',
  'bounded-table: after every block, decoded or refused, the dynamic table holds at most its capacity (entry sizes summed as RFC 7541 §4.1), and after a decoded one the capacity is within our setting',
  'proportional: a block yields at most one field per octet, and its list size is the RFC 9113 §6.5.2 sum of its fields',
  're-encode: a decoded list (up to 256 KiB) re-encoded by our encoder decodes to the same fields with its never-indexed pairs kept, and the two tables stay equal',
];
const fail: Fail = violations(name);
const CODES = ['LINNET_HTTP2_COMPRESSION_ERROR'];

/** The length that marks a SETTINGS record instead of a block. */
export const SETTINGS_RECORD = 0xffff;
/** Lists larger than this are not re-encoded: the proxy refuses them (SETTINGS_MAX_HEADER_LIST_SIZE) before forwarding. */
const REENCODE_MAX = 256 * 1024;

/** An input from blocks and SETTINGS values (numbers), in order. */
export function frameInput(parts: readonly (Buffer | number)[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const head = Buffer.alloc(2);
    if (typeof p === 'number') {
      head.writeUInt16BE(SETTINGS_RECORD);
      const v = Buffer.alloc(2);
      v.writeUInt16BE(p);
      out.push(head, v);
    } else {
      head.writeUInt16BE(p.length);
      out.push(head, p);
    }
  }
  return Buffer.concat(out);
}

function entries(t: TableView): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < t.length; i++) out.push(t.entry(i));
  return out;
}

function checkTable(d: HpackDecoder, decoded: boolean): void {
  const t = d.dynamicTable;
  let sum = 0;
  for (let i = 0; i < t.length; i++) {
    const [n, v] = t.entry(i);
    sum += n.length + v.length + 32;
  }
  if (sum !== t.size) fail('bounded-table', `entries add up to ${sum}, the table says ${t.size}`);
  if (t.size > t.capacity) fail('bounded-table', `table holds ${t.size} octets over its capacity ${t.capacity}`);
  if (decoded && t.capacity > d.maxTableSize) fail('bounded-table', `capacity ${t.capacity} above our setting ${d.maxTableSize}`);
}

function reencode(r: DecodedBlock, enc: HpackEncoder, again: HpackDecoder): void {
  const wire = enc.encode(r.fields, r.neverIndexed);
  const back = refusalOrValue(fail, 'decoding our own block', [], () => again.decode(wire));
  if (!back.ok) return;
  if (!isDeepStrictEqual(back.value.fields, r.fields)) fail('re-encode', `${JSON.stringify(r.fields).slice(0, 200)} came back as ${JSON.stringify(back.value.fields).slice(0, 200)}`);
  for (const i of r.neverIndexed ?? []) {
    if (!back.value.neverIndexed?.includes(i)) fail('re-encode', `pair ${i} was never-indexed and came back indexable`);
  }
  if (!isDeepStrictEqual(entries(again.dynamicTable), entries(enc.dynamicTable))) fail('re-encode', 'the encoder\'s table and its peer decoder\'s differ');
}

export function run(input: Buffer): void {
  const dec = new HpackDecoder();
  const enc = new HpackEncoder();
  const again = new HpackDecoder();
  let p = 0;
  while (p + 2 <= input.length) {
    const len = input.readUInt16BE(p);
    p += 2;
    if (len === SETTINGS_RECORD) {
      if (p + 2 > input.length) break;
      const size = input.readUInt16BE(p);
      p += 2;
      dec.setMaxTableSize(size);
      enc.setMaxTableSize(size);
      again.setMaxTableSize(size);
      continue;
    }
    const block = input.subarray(p, p + len);
    p += block.length;
    const r = refusalOrValue(fail, 'HpackDecoder.decode', CODES, () => dec.decode(block));
    checkTable(dec, r.ok);
    if (!r.ok) return;
    const { fields, size } = r.value;
    if (fields.length / 2 > block.length) fail('proportional', `${fields.length / 2} fields from ${block.length} octets`);
    let sum = 0;
    for (let i = 0; i < fields.length; i++) sum += fields[i]!.length;
    sum += (fields.length / 2) * 32;
    if (sum !== size) fail('proportional', `list size ${size}, fields add up to ${sum}`);
    // The re-encoding pair is a connection of its own: skipping a block keeps it in step.
    if (size <= REENCODE_MAX) reencode(r.value, enc, again);
  }
}

const b = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
export const dictionary = [
  b('ffff 1000'), b('ffff 0000'), b('ffff 0100'), b('0010'), b('0100'),
  b('80'), b('82'), b('be'), b('bf'), b('ff'), b('20'), b('3fe11f'), b('3f45'), b('40'), b('7e'), b('00'), b('10'), b('0f2f'), b('1f08'),
  b('8cf1e3c2e5f23a6ba0ab90f4ff'), b('ffffffff'), b('ff ffffffff0f'), b('7f 8080808001'), b('01 61'), b('81 ff'), b('8f'),
];

export const known: { match: RegExp; why: string }[] = [];

const target = { name, properties, run, dictionary, known, maxInputBytes: 16 * 1024 };
export default target;
