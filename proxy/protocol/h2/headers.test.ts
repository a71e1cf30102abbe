import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorityOf, fieldsObject, fieldValue } from './headers';

test('a field by name: the first of its values', () => {
  const f = [':method', 'GET', 'x-a', '1', 'x-a', '2'];
  assert.equal(fieldValue(f, 'x-a'), '1');
  assert.equal(fieldValue(f, 'x-b'), undefined);
  assert.deepEqual(fieldsObject(f), { ':method': 'GET', 'x-a': '1, 2' });
});

test('authority from :authority, else Host, lower-cased', () => {
  assert.equal(authorityOf([':authority', 'Web.Demo:8080', 'host', 'other']), 'web.demo:8080');
  assert.equal(authorityOf(['host', 'H']), 'h');
  assert.equal(authorityOf([]), '');
});
