/**
 * The encoder's strategy as its module documents it, read off the octets it writes: exact
 * matches indexed, credentials and short cookies never indexed, fields that rarely repeat kept
 * out of the table, Huffman only when shorter, size updates at the start of the next block (the
 * smallest first), and a result the next encode does not touch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinnetError } from '../../../../core/errors';
import { HpackDecoder } from './decoder';
import { ENCODER_TABLE_CAP, HpackEncoder, PATH_QUERY_INDEX_MAX } from './encoder';

/** The representations of a block (kind, name index or new name, H for Huffman or R for raw), read independently of the decoder. */
function kinds(wire: Buffer): string[] {
  const out: string[] = [];
  let p = 0;
  const int = (prefix: number) => {
    const max = (1 << prefix) - 1;
    let v = wire[p++]! & max;
    if (v < max) return v;
    let m = 1;
    for (;;) {
      const b = wire[p++]!;
      v += (b & 0x7f) * m;
      m *= 128;
      if (!(b & 0x80)) return v;
    }
  };
  const str = () => {
    const h = wire[p]! & 0x80 ? 'H' : 'R';
    const n = int(7);
    p += n;
    return h;
  };
  while (p < wire.length) {
    const b = wire[p]!;
    if (b & 0x80) out.push(`indexed ${int(7)}`);
    else if (b & 0x40) {
      const i = int(6);
      out.push(`incremental ${i === 0 ? 'new:' + str() : i}/${str()}`);
    } else if (b & 0x20) out.push(`update ${int(5)}`);
    else {
      const kind = b & 0x10 ? 'never' : 'without';
      const i = int(4);
      out.push(`${kind} ${i === 0 ? 'new:' + str() : i}/${str()}`);
    }
  }
  return out;
}

function pair(): { e: HpackEncoder; d: HpackDecoder; send: (f: string[], ni?: number[]) => { wire: Buffer; never: number[] | undefined } } {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  return {
    e,
    d,
    send(f, ni) {
      const wire = e.encode(f, ni);
      const r = d.decode(wire);
      assert.deepEqual(r.fields, f);
      return { wire, never: r.neverIndexed };
    },
  };
}

const GRPC_REQUEST = [
  ':method', 'POST', ':scheme', 'http', ':path', '/emojivoto.v1.EmojiService/ListAll', ':authority', 'emoji-svc.emojivoto.svc.cluster.local:8080',
  'content-type', 'application/grpc', 'te', 'trailers', 'grpc-accept-encoding', 'identity,deflate,gzip', 'user-agent', 'grpc-go/1.62.0',
];

test('a repeated request is all one-octet indexes the second time', () => {
  const { send } = pair();
  const first = send(GRPC_REQUEST).wire;
  const again = send(GRPC_REQUEST).wire;
  assert.ok(first.length > 60);
  assert.equal(again.length, GRPC_REQUEST.length / 2);
  assert.ok([...again].every((b) => b >= 0x80));
});

test('authorization and proxy-authorization are never indexed, however long; cookies only when short', () => {
  const { e, send } = pair();
  const long = 'Bearer ' + 'x'.repeat(200);
  const r = send(['authorization', long, 'proxy-authorization', 'Basic dXNlcjpwYXNz', 'cookie', 'a=1', 'cookie', 'session=0123456789abcdef']);
  assert.deepEqual(kinds(r.wire), ['never 23/H', 'never 49/H', 'never 32/H', 'incremental 32/H']);
  assert.deepEqual(r.never, [0, 1, 2]);
  // Sent again: the credentials and the short cookie are literals again; the long cookie is indexed.
  assert.deepEqual(kinds(send(['authorization', long, 'cookie', 'a=1', 'cookie', 'session=0123456789abcdef']).wire), ['never 23/H', 'never 32/H', 'indexed 62']);
  assert.equal(e.dynamicTable.length, 1);
});

test('pairs the caller marks are never indexed, even with an exact match in either table', () => {
  const { send } = pair();
  send(['x-a', 'b']);
  const r = send([':method', 'GET', 'x-a', 'b', 'x-a', 'b'], [0, 2]);
  assert.deepEqual(kinds(r.wire), ['never 2/R', 'indexed 62', 'never 62/R']);
  assert.deepEqual(r.never, [0, 2]);
});

test('fields that rarely repeat stay out of the table; date does not', () => {
  const { e, send } = pair();
  const r = send(['content-length', '1234', 'etag', '"abc"', 'set-cookie', 'id=1', 'x-request-id', 'f00d', 'date', 'Mon, 21 Oct 2013 20:13:21 GMT']);
  assert.deepEqual(kinds(r.wire), ['without 28/H', 'without 34/R', 'without 55/H', 'without new:H/H', 'incremental 33/H']);
  assert.equal(e.dynamicTable.length, 1);
  assert.deepEqual(e.dynamicTable.entry(0), ['date', 'Mon, 21 Oct 2013 20:13:21 GMT']);
});

test(':path is indexed unless its query is longer than PATH_QUERY_INDEX_MAX', () => {
  const { e, send } = pair();
  const short = '/items?page=2';
  const long = '/items?' + 'q'.repeat(PATH_QUERY_INDEX_MAX);
  assert.deepEqual(kinds(send([':path', short, ':path', long, ':path', '/']).wire), ['incremental 4/H', 'without 4/H', 'indexed 4']);
  assert.equal(e.dynamicTable.length, 1);
});

test('an entry larger than 3/4 of the table is sent without indexing', () => {
  const e = new HpackEncoder({ maxTableSize: 256 });
  const d = new HpackDecoder({ maxTableSize: 256 });
  const fits = 'v'.repeat(156); // with 'x-ab' and 32: an entry of 192, 3/4 of 256
  const wire = e.encode(['x-ab', fits + 'v', 'x-ab', fits]);
  assert.deepEqual(d.decode(wire).fields, ['x-ab', fits + 'v', 'x-ab', fits]);
  assert.deepEqual(kinds(wire), ['without new:H/H', 'incremental new:H/H']);
  assert.equal(e.dynamicTable.size, 192);
});

test('Huffman only when it is shorter', () => {
  const e = new HpackEncoder();
  assert.deepEqual(kinds(e.encode(['x-bin', '\xff\xfe\x80\x81', 'x-text', 'hello world'])), ['incremental new:H/R', 'incremental new:H/H']);
  // Same length either way (x-e: 7 + 6 + 5 bits; &: 8 bits): raw.
  assert.deepEqual(kinds(new HpackEncoder().encode(['x-e', '&'])), ['incremental new:R/R']);
});

test('a new table size is announced at the start of the next block, once', () => {
  const { e, d, send } = pair();
  send(['x-a', 'b']);
  e.setMaxTableSize(100);
  d.setMaxTableSize(100);
  assert.deepEqual(kinds(send([':method', 'GET']).wire), ['update 100', 'indexed 2']);
  assert.deepEqual(kinds(send([':method', 'GET']).wire), ['indexed 2']);
  assert.equal(d.dynamicTable.capacity, 100);
});

test('down and up again between blocks: the smallest, then the final size', () => {
  const { e, d, send } = pair();
  send(['x-a', 'b']);
  e.setMaxTableSize(0);
  d.setMaxTableSize(0);
  e.setMaxTableSize(2048);
  e.setMaxTableSize(4096);
  d.setMaxTableSize(4096);
  assert.deepEqual(kinds(send(['x-a', 'b']).wire), ['update 0', 'update 4096', 'incremental new:R/R']);
  assert.equal(e.dynamicTable.length, 1);
});

test('down and back to the same size still empties the table first', () => {
  const { e, send } = pair();
  send(['x-a', 'b']);
  e.setMaxTableSize(2048);
  e.setMaxTableSize(4096);
  assert.deepEqual(kinds(send([]).wire), ['update 2048', 'update 4096']);
  // No entry was evicted by 2048, so x-a is still there.
  assert.deepEqual(kinds(send(['x-a', 'b']).wire), ['indexed 62']);
});

test('the same setting again, or one above the cap, asks for no update', () => {
  const e = new HpackEncoder();
  e.setMaxTableSize(4096);
  assert.equal(e.encode([]).length, 0);
  e.setMaxTableSize(1 << 20);
  assert.equal(e.encode([]).length, 0);
  assert.equal(e.dynamicTable.capacity, ENCODER_TABLE_CAP);
});

test('a peer setting above the cap from the start: the first block shrinks the table to the cap', () => {
  const e = new HpackEncoder({ maxTableSize: 65536 });
  const d = new HpackDecoder({ maxTableSize: 65536 });
  const wire = e.encode([':method', 'GET']);
  assert.deepEqual(kinds(wire), [`update ${ENCODER_TABLE_CAP}`, 'indexed 2']);
  d.decode(wire);
  assert.equal(d.dynamicTable.capacity, ENCODER_TABLE_CAP);
});

test('a table of size 0: everything is a literal without indexing', () => {
  const e = new HpackEncoder({ maxTableSize: 0 });
  assert.deepEqual(kinds(e.encode(['x-a', 'b', ':authority', 'a.example'])), ['without new:R/R', 'without 1/H']);
  assert.equal(e.dynamicTable.length, 0);
});

test('the result is the caller\'s: the next block does not overwrite it', () => {
  const e = new HpackEncoder();
  const a = e.encode(GRPC_REQUEST);
  const copy = Buffer.from(a);
  e.encode(['x-other', 'z'.repeat(3000)]);
  e.encode(['x-more', 'y']);
  assert.deepEqual(a, copy);
});

test('a block far larger than the scratch buffer, then a small one', () => {
  const { send } = pair();
  const big = Array.from({ length: 200 }, (_, i) => ['x-h' + i, String(i).repeat(400)]).flat();
  send(big);
  send(GRPC_REQUEST);
});

test('an odd number of strings is the caller\'s bug', () => {
  assert.throws(() => new HpackEncoder().encode(['a']), (e: unknown) => e instanceof LinnetError && e.code === 'LINNET_HTTP2_HPACK_MISUSE');
});
