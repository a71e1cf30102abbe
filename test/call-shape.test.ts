/**
 * A request's call object is a plain class instance: fast properties, one hidden class for all.
 * An object literal with an accessor, built per request, is made by V8's runtime in dictionary
 * mode, its accessor pair allocated in old space; the pair's getter closure then held the whole
 * request (head, read buffer, call) through every young-generation collection until the next
 * full one: a tenth of all the proxy allocated was promoted, and the heap grew 20 MB between full
 * collections. This asks V8 itself (%HasFastProperties, %HaveSameMap) about the calls the stacks
 * hand the protocol servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { loopbackProxy } from './support/stacks';
import { parseRequestHead, requestFraming } from '../proxy/protocol/h1/parse-head';
import type { Fields } from '../proxy/protocol/h2/semantics';

setFlagsFromString('--allow-natives-syntax');
// Parsed after the flag: a function that asks V8 whether two objects have the same map.
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
const hasFastProperties = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean;

const lp = loopbackProxy();
const conn = lp.conn('outbound', 8080);

function h1Request(path: string) {
  const r = parseRequestHead(Buffer.from(`GET ${path} HTTP/1.1\r\nhost: web:8080\r\n\r\n`));
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') throw new Error('unreachable');
  return { head: r.head, framing: requestFraming(r.head), tunnel: false };
}

test('the check tells an accessor literal from a class instance', () => {
  const literal = (n: number) => ({ get n() { return n; } });
  assert.equal(hasFastProperties(literal(1)), false, 'an accessor literal is a dictionary-mode object in this V8');
  class Plain {
    constructor(readonly n: number) {}
  }
  assert.equal(hasFastProperties(new Plain(1)), true);
});

function assertPlain(a: object, b: object): void {
  assert.equal(hasFastProperties(a), true, 'fast properties');
  assert.equal(haveSameMap(a, b), true, 'one hidden class');
}

test('outbound HTTP/1 calls share one hidden class', () => {
  const call = Reflect.get(lp.outbound, 'h1Call') as (c: typeof conn, req: ReturnType<typeof h1Request>) => object;
  const a = call.call(lp.outbound, conn, h1Request('/a'));
  const b = call.call(lp.outbound, conn, h1Request('/b'));
  assertPlain(a, b);
});

test('outbound HTTP/2 calls share one hidden class', () => {
  const call = Reflect.get(lp.outbound, 'h2Call') as (c: typeof conn, f: Fields) => object;
  const fields = (path: string): Fields => [[':method', 'GET'], [':scheme', 'http'], [':authority', 'web:8080'], [':path', path]] as unknown as Fields;
  const a = call.call(lp.outbound, conn, fields('/a'));
  const b = call.call(lp.outbound, conn, fields('/b'));
  assertPlain(a, b);
});

test.after(() => lp.close());

test('inbound HTTP/1 and HTTP/2 calls are class instances sharing one hidden class', () => {
  const inConn = lp.conn('inbound', 8080);
  const h1 = Reflect.get(lp.inbound, 'h1Call') as (c: typeof inConn, req: ReturnType<typeof h1Request>) => object;
  const a = h1.call(lp.inbound, inConn, h1Request('/a'));
  const b = h1.call(lp.inbound, inConn, h1Request('/b'));
  assertPlain(a, b);
  assert.notEqual(Object.getPrototypeOf(a), Object.prototype, 'a class instance, not a literal of closures');
  const h2 = Reflect.get(lp.inbound, 'h2Call') as (c: typeof inConn, f: Fields) => object;
  const fields = (path: string): Fields => [[':method', 'GET'], [':scheme', 'http'], [':authority', 'web:8080'], [':path', path]] as unknown as Fields;
  const c = h2.call(lp.inbound, inConn, fields('/a'));
  const d = h2.call(lp.inbound, inConn, fields('/b'));
  assertPlain(c, d);
  assert.notEqual(Object.getPrototypeOf(c), Object.prototype);
});
