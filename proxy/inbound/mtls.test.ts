import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { acceptedAlpn, inboundVerdict } from './mtls';
import type { PrefixOutcome } from '../accept/read-prefix';

const ME = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const tls = (sni?: string): PrefixOutcome => ({ kind: 'detected', detected: { kind: 'tls', sni, alpn: [] } });
const http: PrefixOutcome = { kind: 'detected', detected: { kind: 'http1', method: 'GET', target: '/', version: '1.1' } };

describe('inboundVerdict', () => {
  const none = new Set<number>();
  const req = new Set([8443]);
  it('a ClientHello for our own identity is terminated (case-insensitive SNI)', () => {
    assert.equal(inboundVerdict(tls(ME), 8080, ME, none), 'terminate');
    assert.equal(inboundVerdict(tls(ME.toUpperCase()), 8443, ME, req), 'terminate');
  });
  it('TLS for another name, or without SNI, is the app\'s own TLS: passed through unless mTLS is required', () => {
    assert.equal(inboundVerdict(tls('www.example.com'), 8080, ME, none), 'pass');
    assert.equal(inboundVerdict(tls(undefined), 8080, ME, none), 'pass');
    assert.equal(inboundVerdict(tls('www.example.com'), 8443, ME, req), 'refuse');
  });
  it('plaintext, silent clients and early FIN are accepted by default, refused on require-TLS ports', () => {
    for (const o of [http, { kind: 'timeout' }, { kind: 'eof' }] as PrefixOutcome[]) {
      assert.equal(inboundVerdict(o, 8080, ME, none), 'pass');
      assert.equal(inboundVerdict(o, 8443, ME, req), 'refuse');
    }
  });
  it('without identity nothing is terminated', () => {
    assert.equal(inboundVerdict(tls(ME), 8080, undefined, none), 'pass');
  });
});

describe('acceptedAlpn', () => {
  it('agrees on h2 only when the peer offers it, whatever else it offers and in whatever order', () => {
    assert.deepEqual(acceptedAlpn(['h2']), ['h2']);
    assert.deepEqual(acceptedAlpn(['http/1.1', 'h2']), ['h2']);
  });
  it('sets no ALPN for an offer without h2 (none, http/1.1, unknown names): the offer is ignored, never refused', () => {
    assert.equal(acceptedAlpn([]), undefined);
    assert.equal(acceptedAlpn(['http/1.1']), undefined);
    assert.equal(acceptedAlpn(['linnet-proxy', 'H2', 'h2c']), undefined);
  });
});
