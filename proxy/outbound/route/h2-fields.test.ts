import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editH2Fields } from './h2-fields';

describe('editH2Fields', () => {
  it('edits headers, rewrites :path and :authority (port kept), never touches other pseudo-headers', () => {
    const f = [':method', 'GET', ':authority', 'web:8080', ':path', '/api/x', 'authorization', 'secret', 'x-drop', '1', 'x-set', 'old'];
    const r = editH2Fields(f, [3], { set: [['x-set', 'new']], add: [['x-add', 'a'], [':method', 'POST']], remove: ['x-drop', ':path'] }, { hostname: 'other', path: '/x' });
    assert.deepEqual(r.fields, [':method', 'GET', ':authority', 'other:8080', ':path', '/x', 'authorization', 'secret', 'x-set', 'new', 'x-add', 'a']);
    assert.deepEqual(r.neverIndexed, [3], 'authorization is still sent never-indexed');
  });
  it('keeps never-indexed marks on the pairs they belonged to when earlier pairs are removed', () => {
    const r = editH2Fields([':path', '/', 'x-drop', '1', 'cookie', 'c'], [2], { set: [], add: [], remove: ['x-drop'] }, undefined);
    assert.deepEqual(r.fields, [':path', '/', 'cookie', 'c']);
    assert.deepEqual(r.neverIndexed, [1]);
  });
});
