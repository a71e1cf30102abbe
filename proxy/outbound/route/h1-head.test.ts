import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editRequestHead } from './h1-head';
import { parseRequestHead, type RequestHead } from '../../protocol/h1/parse-head';
import { h2RequestHeaders } from '../../protocol/orig-proto/convert';

function head(text: string): RequestHead {
  const r = parseRequestHead(Buffer.from(text, 'latin1'), { maxHeaderBytes: 16384, maxHeaders: 100 });
  assert.equal(r.kind, 'ok');
  return (r as { head: RequestHead }).head;
}

test('an edited head keeps all three field lists in step, and orig-proto sends the edited fields', () => {
  const h = head('GET /a HTTP/1.1\r\nHost: web:80\r\nX-Secret: s\r\nX-Route: client\r\nAccept: */*\r\n\r\n');
  const e = editRequestHead(h, { set: [['x-route', 'filtered']], add: [['x-added', '1']], remove: ['x-secret'] }, { path: '/b' });
  assert.equal(e.names.length, e.values.length);
  assert.deepEqual(e.lowerNames, e.names.map((n) => n.toLowerCase()));
  const fields = h2RequestHeaders(e, 'fallback');
  const pairs = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) pairs.set(fields[i]!, fields[i + 1]!);
  assert.equal(pairs.get(':path'), '/b');
  assert.equal(pairs.get('x-route'), 'filtered');
  assert.equal(pairs.get('x-added'), '1');
  assert.equal(pairs.has('x-secret'), false);
  assert.equal(pairs.get('accept'), '*/*');
  // The parsed head itself is untouched.
  assert.deepEqual(h.lowerNames, ['host', 'x-secret', 'x-route', 'accept']);
});
