/**
 * Every llhttp strict-mode request fixture through the proxy's reading of a request stream: what
 * llhttp refuses the proxy refuses (and forwards nothing of the refused message); what llhttp
 * accepts reaches the upstream with the same method, target, fields and body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLlhttpCases } from '../support/llhttp-corpus';
import { scanRequests } from '../../proxy/protocol/h1/scan-requests';

/** llhttp "errors" that are not refusals: pauses before a tunnel (CONNECT/Upgrade, PRI). */
const PAUSES = new Set([22, 23]);
/** llhttp refuses data after `Connection: close`; the proxy stops reading there (nothing forwarded). */
const DATA_AFTER_CLOSE = 5;

/**
 * Where the proxy is deliberately stricter than llhttp, with the reason. Every entry must still
 * be refused (not silently mangled).
 */
const STRICTER: Record<string, string> = {
  'PRI request HTTP2': 'HTTP/2 prior knowledge is detected before HTTP/1 and never reaches this parser',
  'SOURCE request with ICE': 'ICE/1.0 is not HTTP/1.x',
  'OPTIONS request with RTSP': 'RTSP/1.0 is not HTTP/1.x',
  'ANNOUNCE request with RTSP': 'RTSP/1.0 is not HTTP/1.x',
  'No HTTP version': 'HTTP/0.9 request lines are not HTTP/1.x (detection forwards them as opaque TCP)',
  // This corpus's llhttp takes `Content-Length: 42\t`; Node 20's llhttp refuses it: upstreams
  // disagree, and the head is forwarded byte for byte, so the proxy refuses it (parse-head.ts).
  'Spaces in `Content-Length` (surrounding)': 'whitespace after a request Content-Length value is refused: upstreams read it differently',
  'Tabs in `Content-Length` (surrounding)': 'whitespace after a request Content-Length value is refused: upstreams read it differently',
};

const cases = loadLlhttpCases().filter((c) => (c.type === 'request' || c.type === 'request-finish') && !c.skipBody);

test('the corpus is present and large', () => {
  assert.ok(cases.length > 120, `only ${cases.length} cases`);
});

for (const c of cases) {
  test(`llhttp ${c.file}: ${c.title}`, () => {
    const r = scanRequests(c.input);
    const stricter = Object.keys(STRICTER).find((k) => c.title.startsWith(k));
    if (stricter) {
      assert.ok(r.error, `expected a refusal (${STRICTER[stricter]})`);
      return;
    }
    const refused = c.error !== undefined && !PAUSES.has(c.error.code) && c.error.code !== DATA_AFTER_CLOSE;
    const expected = c.messages.filter((m) => m.complete || (c.error && PAUSES.has(c.error.code)));
    if (refused) {
      assert.ok(r.error, `llhttp refused (${c.error!.reason}); the proxy accepted ${JSON.stringify(r.requests.map((q) => q.method + ' ' + q.target))}`);
      // Messages llhttp completed before the refusal were forwarded, and nothing else.
      assert.equal(r.requests.length, c.messages.filter((m) => m.complete).length, 'messages forwarded before the refusal');
    } else {
      assert.equal(r.error, undefined, `llhttp accepted; the proxy refused: ${r.error?.detail}`);
    }
    for (let i = 0; i < Math.min(expected.length, r.requests.length); i++) {
      const want = expected[i]!;
      const got = r.requests[i]!;
      assert.equal(got.method, want.method);
      assert.equal(got.target, want.url);
      // llhttp reports chunked trailers as more fields; they travel in the (passed-through) body.
      assert.deepEqual(got.fields, want.fields.slice(0, got.fields.length));
      for (const [n, v] of want.fields.slice(got.fields.length)) assert.ok(got.rawBody.toString('latin1').includes(`${n}: ${v}`), `trailer ${n}`);
      if (want.complete) assert.equal(got.body.toString('latin1'), want.body);
    }
    if (!refused) assert.equal(r.requests.length, expected.length, 'messages forwarded');
    if (c.error && PAUSES.has(c.error.code)) assert.ok(r.requests.at(-1)?.tunnel, 'a CONNECT/Upgrade request becomes a tunnel');
  });
}
