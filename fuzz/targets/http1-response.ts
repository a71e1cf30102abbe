/**
 * Fuzz target for the HTTP/1 response side (proxy/protocol/h1: parseResponseHead, responseFraming,
 * clientResponseHead). One input is what an upstream sends back. The head the proxy writes to
 * the client is read again by the proxy's parser and by Node's llhttp: same status, same body
 * framing, no hop-by-hop field carried over, so a client can never be made to see a different
 * response boundary than the proxy did (response splitting / desync).
 */
import { isDeepStrictEqual } from 'node:util';
import { clientResponseHead } from '../../proxy/protocol/h1/forward-head';
import { DEFAULT_LIMITS, parseResponseHead, responseFraming, type HeadResult, type ResponseHead } from '../../proxy/protocol/h1/parse-head';
import { llhttpParse } from '../llhttp';
import { describeError, violations, type Fail } from '../target';

export const name = 'http1-response';
export const properties = [
  'never-throws: parseResponseHead returns on any input',
  'monotone: over growing prefixes need-more, then one answer (accepted heads identical; refusals stay refusals)',
  'reparse-agrees: the head written to the client parses to the same status, fields (minus hop-by-hop) and body framing',
  'client-agrees: llhttp reads the written head and a body of the framed length as one response with that body',
];
const fail: Fail = violations(name);

function parse(b: Buffer): HeadResult<ResponseHead> {
  try {
    return parseResponseHead(b, DEFAULT_LIMITS);
  } catch (e) {
    return fail('never-throws', `parseResponseHead threw ${describeError(e)}`, e);
  }
}

/** What a head says, as plain data (the parser builds some fields lazily, so compare these). */
function facts(h: ResponseHead): unknown {
  return {
    status: h.status, reason: h.reason, minor: h.minor, names: [...h.names], values: [...h.values], contentLength: h.contentLength,
    transferEncoding: h.transferEncoding, connection: [...h.connection], upgrade: h.upgrade, hasHopByHop: h.hasHopByHop,
  };
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade']);

export function run(input: Buffer): void {
  const whole = parse(input);
  const end = whole.kind === 'ok' ? whole.length : input.length;
  let decided: unknown;
  const step = end <= 300 ? 1 : Math.ceil(end / 64);
  for (let n = 0; n <= end; n += step) {
    const r = parse(input.subarray(0, n));
    if (r.kind === 'need-more') {
      if (decided !== undefined) fail('monotone', `need-more at ${n} bytes after an answer`);
      continue;
    }
    const a = r.kind === 'ok' ? { ok: r.length, head: facts(r.head) } : { refused: true };
    if (decided === undefined) decided = a;
    else if (!isDeepStrictEqual(a, decided)) fail('monotone', `answer changed at ${n} bytes`);
  }
  if (whole.kind !== 'ok') return;
  const h = whole.head;
  for (const method of ['GET', 'HEAD']) {
    const framing = responseFraming(h, method);
    for (const close of [false, true]) {
      const out = clientResponseHead(input, whole.length, h, { close, keepAlive10: false, upgrade: false });
      const again = parse(out);
      if (again.kind !== 'ok' || again.length !== out.length) fail('reparse-agrees', `written head ${JSON.stringify(out.toString('latin1').slice(0, 200))} reads as ${again.kind}`);
      const g = again.head;
      const kept = h.names.map((n, i) => [n.toLowerCase(), h.values[i]]).filter(([n]) => !HOP.has(n!) && !h.connection.includes(n!) || n === 'transfer-encoding' || n === 'content-length');
      const got = g.names.map((n, i) => [n.toLowerCase(), g.values[i]]).filter(([n]) => n !== 'connection');
      if (g.status !== h.status || !isDeepStrictEqual(got, kept)) fail('reparse-agrees', `status ${h.status}->${g.status}, fields ${JSON.stringify(kept).slice(0, 200)} -> ${JSON.stringify(got).slice(0, 200)}`);
      if (!isDeepStrictEqual(responseFraming(g, method), framing)) fail('reparse-agrees', `framing ${JSON.stringify(framing)} became ${JSON.stringify(responseFraming(g, method))}`);
      if (method === 'GET' && framing.kind === 'length' && framing.length <= 4096 && h.status >= 200) {
        const body = Buffer.alloc(framing.length, 0x62);
        const ll = llhttpParse(Buffer.concat([out, body]), 'response');
        const m = ll.messages[0];
        // llhttp is stricter than RFC 9110 in places (e.g. OWS after a Content-Length): a refusal
        // means the client sees an error, not a different boundary; a different body is a desync.
        if (ll.error === undefined && (!m || !m.complete || m.status !== h.status || m.body.length !== framing.length || ll.messages.length !== 1)) {
          fail('client-agrees', `llhttp read ${ll.messages.length} response(s), status ${m?.status}, body ${m?.body.length} of ${framing.length}`);
        }
      }
    }
  }
}

export const dictionary = [
  'HTTP/1.1 ', 'HTTP/1.0 ', '200 OK\r\n', '204 No Content\r\n', '304 Not Modified\r\n', '101 Switching Protocols\r\n', '100 Continue\r\n', '\r\n',
  'Content-Length: ', 'Transfer-Encoding: chunked\r\n', 'Transfer-Encoding: gzip\r\n', 'Connection: close\r\n', 'Connection: keep-alive, x-a\r\n',
  'X-A: 1\r\n', 'Keep-Alive: 5\r\n', 'Upgrade: websocket\r\n', ':', ' ', '\t', '\n', '\r', '\x00', '\x7f', '\xff', '0', '10', '99999999999999999',
];

const target = { name, properties, run, dictionary, maxInputBytes: 24 * 1024 };
export default target;
