/**
 * The HPACK codec against http2jp's interoperability stories (../shared/corpus/hpack beside the
 * repository; a vendored subset in test/fixtures/hpack). A story is a series of header blocks
 * sharing one compression context: every case of every encoder's folder must decode to exactly
 * its header list, with `header_table_size` applied as our acknowledged SETTINGS before the case;
 * and our encoder's blocks for each `raw-data` story must decode back to its lists, in sequence
 * with one context, at the default table size, after SETTINGS of 0, 256 and 4096 before the
 * first block, and with the size changing every few blocks.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HpackDecoder, HpackEncoder } from '../../proxy/protocol/h2/hpack';

/** The folder holding dist/. */
const REPO_ROOT = join(__dirname, '..', '..', '..');
const SHARED = join(REPO_ROOT, '..', 'shared', 'corpus', 'hpack');
const VENDORED = join(REPO_ROOT, 'test', 'fixtures', 'hpack');
const ENCODERS = ['nghttp2', 'nghttp2-change-table-size', 'go-hpack', 'python-hpack', 'swift-nio-hpack-huffman'];

interface Case {
  wire?: string;
  headers: Record<string, string>[];
  header_table_size?: number | null;
}

function stories(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^story_\d+\.json$/.test(f)).sort();
}

function cases(file: string): Case[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { cases: Case[] }).cases;
}

/** A case's list as [name, value, ...]: JSON holds text, the wire octets; latin1 of its UTF-8 is the octets. */
function fieldsOf(c: Case): string[] {
  const out: string[] = [];
  for (const h of c.headers) for (const [n, v] of Object.entries(h)) out.push(Buffer.from(n, 'utf8').toString('latin1'), Buffer.from(v, 'utf8').toString('latin1'));
  return out;
}

function decodeStory(file: string): number {
  const d = new HpackDecoder();
  const all = cases(file);
  for (const [i, c] of all.entries()) {
    if (typeof c.header_table_size === 'number') d.setMaxTableSize(c.header_table_size);
    const r = d.decode(Buffer.from(c.wire!, 'hex'));
    assert.deepEqual(r.fields, fieldsOf(c), `case ${i}`);
    assert.ok(d.dynamicTable.size <= d.dynamicTable.capacity && d.dynamicTable.capacity <= d.maxTableSize, `case ${i}: table within bounds`);
  }
  return all.length;
}

/** `settings(i)`: the SETTINGS_HEADER_TABLE_SIZE both ends apply before block i, if any. */
function roundTripStory(file: string, settings: (i: number) => number | undefined): number {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  const all = cases(file);
  for (const [i, c] of all.entries()) {
    const size = settings(i);
    if (size !== undefined) {
      e.setMaxTableSize(size);
      d.setMaxTableSize(size);
    }
    const fields = fieldsOf(c);
    assert.deepEqual(d.decode(e.encode(fields)).fields, fields, `case ${i}`);
    assert.equal(d.dynamicTable.size, e.dynamicTable.size, `case ${i}: tables in step`);
  }
  return all.length;
}

const CHANGING = [undefined, 256, undefined, 0, 4096, undefined, 1024, 8192];
const SETTINGS: Record<string, (i: number) => number | undefined> = {
  'the default 4096': () => undefined,
  'SETTINGS 0 first': (i) => (i === 0 ? 0 : undefined),
  'SETTINGS 256 first': (i) => (i === 0 ? 256 : undefined),
  'SETTINGS 4096 first': (i) => (i === 0 ? 4096 : undefined),
  'a size changing every few blocks': (i) => CHANGING[i % CHANGING.length],
};

function checkCorpus(root: string, only: 'all' | 'vendored'): void {
  for (const dir of ENCODERS) {
    describe(`${only} ${dir}: every case decodes to its headers`, () => {
      for (const f of stories(join(root, dir))) it(f, () => assert.ok(decodeStory(join(root, dir, f)) > 0));
    });
  }
  describe(`${only} raw-data: our encoder's blocks round-trip`, () => {
    for (const f of stories(join(root, 'raw-data'))) {
      for (const [label, settings] of Object.entries(SETTINGS)) it(`${f}, ${label}`, () => assert.ok(roundTripStory(join(root, 'raw-data', f), settings) > 0));
    }
  });
}

test('the vendored subset has every folder, two stories each, with the licence and commit', () => {
  for (const dir of [...ENCODERS, 'raw-data']) assert.equal(stories(join(VENDORED, dir)).length, 2, dir);
  assert.match(readFileSync(join(VENDORED, 'LICENSE'), 'utf8'), /Permission is hereby granted/);
  assert.match(readFileSync(join(VENDORED, 'COMMIT'), 'utf8'), /^[0-9a-f]{40}\s*$/);
});

checkCorpus(VENDORED, 'vendored');

if (existsSync(SHARED)) {
  test('the vendored stories are unchanged copies of the shared corpus', () => {
    assert.equal(readFileSync(join(VENDORED, 'COMMIT'), 'utf8'), readFileSync(join(SHARED, 'COMMIT'), 'utf8'));
    for (const dir of [...ENCODERS, 'raw-data']) {
      for (const f of stories(join(VENDORED, dir))) assert.ok(readFileSync(join(VENDORED, dir, f)).equals(readFileSync(join(SHARED, dir, f))), `${dir}/${f}`);
    }
  });
  checkCorpus(SHARED, 'all');
} else {
  test('the full http2jp corpus', { skip: `not found at ${SHARED}: put the shared corpus (shared/corpus/hpack) beside the repository, as CI does, to run every story` }, () => {});
}
