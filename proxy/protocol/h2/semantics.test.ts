import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkSection } from './semantics';

const req = (...extra: string[]) => [':method', 'POST', ':scheme', 'http', ':path', '/x', ':authority', 'a.b', ...extra];

test('a well-formed request, response and trailers pass, with their length and method or status', () => {
  assert.deepEqual(checkSection(req('content-length', '5', 'te', 'trailers'), 'request'), { contentLength: 5, method: 'POST' });
  assert.deepEqual(checkSection([':status', '204', 'x-a', ''], 'response'), { contentLength: -1, status: 204 });
  assert.deepEqual(checkSection(['grpc-status', '0'], 'trailers'), { contentLength: -1 });
  assert.equal(checkSection([':method', 'CONNECT', ':authority', 'h:443'], 'request').error, undefined);
  assert.equal(checkSection([':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', '/c', ':authority', 'h'], 'request').error, undefined);
  assert.equal(checkSection(req('content-length', '5', 'content-length', '5'), 'request').error, undefined);
});

test('what RFC 9113 §8 calls malformed is refused, each with its reason', () => {
  const bad: [string[], 'request' | 'response' | 'trailers', RegExp][] = [
    [req('connection', 'keep-alive'), 'request', /connection-specific/],
    [req('keep-alive', '5'), 'request', /connection-specific/],
    [req('proxy-connection', 'x'), 'request', /connection-specific/],
    [req('transfer-encoding', 'chunked'), 'request', /connection-specific/],
    [req('upgrade', 'h2c'), 'request', /connection-specific/],
    [req('te', 'gzip'), 'request', /only "trailers"/],
    [req('te', 'trailers, gzip'), 'request', /only "trailers"/],
    [req('content-length', 'abc'), 'request', /content-length/],
    [req('content-length', '-1'), 'request', /content-length/],
    [req('content-length', '5, 5'), 'request', /content-length/],
    [req('content-length', '5', 'content-length', '6'), 'request', /disagree/],
    [req('Content-Length', '5'), 'request', /field name/],
    [req('x a', 'b'), 'request', /field name/],
    [req('x-a', 'b\r\nx: y'), 'request', /invalid value/],
    [req('x-a', 'b\x00c'), 'request', /invalid value/],
    [req('x-a', ' lead'), 'request', /invalid value/],
    [req(':bogus', 'x'), 'request', /pseudo-header :bogus after|unknown/],
    [[':method', 'GET', 'x', 'y', ':path', '/'], 'request', /after a regular field/],
    [[':method', 'GET', ':method', 'GET', ':scheme', 'http', ':path', '/'], 'request', /duplicate/],
    [[':method', 'GET', ':scheme', 'http'], 'request', /no :scheme or :path/],
    [[':scheme', 'http', ':path', '/'], 'request', /no :method/],
    [[':method', 'CONNECT', ':authority', 'h', ':path', '/'], 'request', /CONNECT/],
    [req(':status', '200'), 'request', /unknown request pseudo-header/],
    [[':status', '20'], 'response', /:status/],
    [[':status', '200', ':path', '/'], 'response', /unknown response pseudo-header/],
    [['x', 'y'], 'response', /no :status/],
    [[':status', '200'], 'trailers', /pseudo-header/],
  ];
  for (const [fields, section, why] of bad) assert.match(checkSection(fields, section).error ?? '(accepted)', why, JSON.stringify(fields));
});

test('fuzz: pseudo-header rules agree with a plain reading of RFC 9113 §8.3 for any order, repeat and section', () => {
  // The reference: the rules as the RFC states them, with a Set and a regular expression.
  const reference = (fields: string[], section: 'request' | 'response'): string | undefined => {
    const seen = new Set<string>();
    let regular = false;
    let method: string | undefined;
    let status: string | undefined;
    for (let i = 0; i < fields.length; i += 2) {
      const n = fields[i]!;
      if (!n.startsWith(':')) {
        regular = true;
        continue;
      }
      if (regular) return 'pseudo after regular';
      const known = section === 'request' ? [':method', ':scheme', ':authority', ':path', ':protocol'] : [':status'];
      if (!known.includes(n)) return 'unknown';
      if (seen.has(n)) return 'duplicate';
      seen.add(n);
      if (n === ':method') method = fields[i + 1];
      if (n === ':status') {
        status = fields[i + 1];
        if (!/^[1-9]\d\d$/.test(status!)) return 'bad status';
      }
    }
    if (section === 'response') return status === undefined ? 'no status' : undefined;
    if (method === undefined) return 'no method';
    if (method === 'CONNECT') return !seen.has(':authority') || ((seen.has(':scheme') || seen.has(':path')) && !seen.has(':protocol')) ? 'bad connect' : undefined;
    return !seen.has(':scheme') || !seen.has(':path') ? 'no scheme or path' : undefined;
  };
  const name = fc.constantFrom(':method', ':scheme', ':authority', ':path', ':protocol', ':status', ':other', 'x-a', 'accept');
  const value = fc.constantFrom('GET', 'CONNECT', 'http', '/', 'h', '200', '099', '20', '2000', '1x0', '999', 'v');
  fc.assert(
    fc.property(fc.array(fc.tuple(name, value), { maxLength: 8 }), fc.constantFrom('request' as const, 'response' as const), (pairs, section) => {
      const fields = pairs.flat();
      const got = checkSection(fields, section);
      const want = reference(fields, section);
      assert.equal(got.error === undefined, want === undefined, `${JSON.stringify(fields)} ${section}: ${got.error} vs ${want}`);
      if (want === undefined && section === 'response') assert.equal(got.status, Number(fields[fields.indexOf(':status') + 1]));
    }),
    { numRuns: 20_000 },
  );
});
