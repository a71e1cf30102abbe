/**
 * Fuzz target for the TLS ClientHello parser (proxy/accept/detect/client-hello.ts). One input is one
 * handshake message (type, 3-byte length, body), so mutations land in the hello's grammar rather
 * than in record framing; the target then frames it itself in several ways.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ClientHelloError, parseClientHello, parseClientHelloBody, TLS_MAX_RECORD_PAYLOAD, type ClientHelloResult } from '../../proxy/accept/detect/client-hello';
import { describeError, violations, type Fail } from '../target';

export const name = 'client-hello';
export const properties = [
  'typed-errors: parseClientHelloBody returns or throws ClientHelloError; parseClientHello never throws',
  'one-record-agrees: the message in one TLS record parses to the same hello (or the same problem) as the bare message',
  'split-agrees: split over several records at any boundaries, the answer is the same as in one record',
  'prefix-need-more: every proper prefix of a record-framed valid hello is need-more',
  'fields-in-range: SNI is printable, ALPN names are 1-255 bytes, numbers are integers',
];
const fail: Fail = violations(name);

function record(payload: Buffer): Buffer {
  const h = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
  h.writeUInt16BE(payload.length, 3);
  return Buffer.concat([h, payload]);
}

/** Split points derived from the input (deterministic, so a replay fails the same way). */
function splits(msg: Buffer): number[] {
  const d = createHash('sha1').update(msg).digest();
  const cuts = new Set<number>();
  for (let i = 0; i < 4; i++) if (msg.length > 1) cuts.add(1 + (d.readUInt16BE(i * 2) % (msg.length - 1)));
  return [...cuts].sort((a, b) => a - b);
}

function simplify(r: ClientHelloResult): unknown {
  if (r.status === 'ok') {
    const { streamBytes: _s, ...rest } = r.hello;
    void _s;
    return { status: 'ok', hello: rest };
  }
  if (r.status === 'invalid') return { status: 'invalid', problem: r.problem };
  return r;
}

export function run(msg: Buffer): void {
  let body: unknown;
  try {
    const h = parseClientHelloBody(msg);
    body = simplify({ status: 'ok', hello: h });
    if (h.sni !== undefined && !/^[\x21-\x7e]+$/.test(h.sni)) fail('fields-in-range', `sni ${JSON.stringify(h.sni)}`);
    if (h.alpn.some((p) => p.length === 0 || p.length > 255)) fail('fields-in-range', `alpn ${JSON.stringify(h.alpn)}`);
  } catch (e) {
    if (!(e instanceof ClientHelloError)) fail('typed-errors', `parseClientHelloBody threw ${describeError(e)}`, e);
    body = { status: 'invalid', problem: (e as ClientHelloError).problem };
  }
  if (msg.length === 0 || msg.length > TLS_MAX_RECORD_PAYLOAD) return;
  const parse = (b: Buffer): ClientHelloResult => {
    try {
      return parseClientHello(b);
    } catch (e) {
      return fail('typed-errors', `parseClientHello threw ${describeError(e)}`, e);
    }
  };
  const one = parse(record(msg));
  const oneS = simplify(one);
  // The body parser sees the declared length checked against the whole message; the stream
  // parser waits for the declared length. They agree when the message is complete and valid.
  const declared = msg.length >= 4 ? ((msg[1]! << 16) | (msg[2]! << 8) | msg[3]!) + 4 : -1;
  if (declared === msg.length) {
    if (!isDeepStrictEqual(oneS, body) && !((body as { status: string }).status === 'invalid' && one.status === 'invalid')) {
      fail('one-record-agrees', `bare ${JSON.stringify(body)} vs one record ${JSON.stringify(oneS)}`);
    }
    if (one.status === 'ok') {
      const framed = record(msg);
      for (const cut of splits(framed)) {
        if (cut >= framed.length) continue;
        const p = parse(framed.subarray(0, cut));
        if (p.status !== 'need-more') fail('prefix-need-more', `prefix of ${cut}/${framed.length} bytes gave ${JSON.stringify(simplify(p))}`);
      }
    }
  }
  // Several records: fragments at the derived cut points (small enough that 5 record headers
  // still fit the detection budget, else 'too-large' would rightly differ).
  if (msg.length > TLS_MAX_RECORD_PAYLOAD - 32) return;
  const cuts = [0, ...splits(msg), msg.length];
  const frags: Buffer[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) if (cuts[i + 1]! > cuts[i]!) frags.push(record(msg.subarray(cuts[i], cuts[i + 1])));
  const many = parse(Buffer.concat(frags));
  if (!isDeepStrictEqual(simplify(many), oneS)) {
    fail('split-agrees', `one record ${JSON.stringify(oneS)} vs ${frags.length} records ${JSON.stringify(simplify(many))}`);
  }
}

export const dictionary = [
  Buffer.from([0x00, 0x00]), Buffer.from([0x00, 0x10]), Buffer.from([0x00, 0x2b]), Buffer.from([0x03, 0x03]), Buffer.from([0x03, 0x04]),
  Buffer.from([0xff, 0xff]), Buffer.from([0x13, 0x01]), Buffer.from([0x00, 0x0d]), Buffer.from([0x00, 0x33]), 'h2', 'http/1.1', 'example.com',
];

const target = { name, properties, run, dictionary, maxInputBytes: 20 * 1024 };
export default target;
