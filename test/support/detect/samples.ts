/**
 * Test support: first bytes of real protocols with the answer detect() must give. Shared by the
 * unit tests and the seed-corpus writer, so the corpus and the expectations never drift apart.
 */
import type { Detected } from '../../../proxy/accept/detect/detect';

export interface Sample {
  /** Corpus file name (without extension). */
  name: string;
  bytes: Buffer;
  expect: Detected;
}

const b = (s: string) => Buffer.from(s, 'latin1');
const http1 = (method: string, target: string, version: '1.0' | '1.1'): Detected => ({ kind: 'http1', method, target, version });
const opaque = (reason: string) => ({ kind: 'opaque', reason }) as Detected;

/** An empty HTTP/2 SETTINGS frame, what clients send right after the preface. */
const H2_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

export const SAMPLES: Sample[] = [
  { name: 'h2-preface', bytes: Buffer.concat([b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), H2_SETTINGS]), expect: { kind: 'h2' } },
  { name: 'http11-get', bytes: b('GET /index.html?q=1 HTTP/1.1\r\nHost: web.demo\r\nUser-Agent: curl/7.88.1\r\n\r\n'), expect: http1('GET', '/index.html?q=1', '1.1') },
  { name: 'http10-get', bytes: b('GET / HTTP/1.0\r\n\r\n'), expect: http1('GET', '/', '1.0') },
  { name: 'http11-post-body', bytes: b('POST /api/v1/items HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}'), expect: http1('POST', '/api/v1/items', '1.1') },
  { name: 'http11-connect', bytes: b('CONNECT db.example.test:5432 HTTP/1.1\r\nHost: db.example.test:5432\r\n\r\n'), expect: http1('CONNECT', 'db.example.test:5432', '1.1') },
  { name: 'http11-connect-ipv6', bytes: b('CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n'), expect: http1('CONNECT', '[2001:db8::1]:443', '1.1') },
  { name: 'http11-options-star', bytes: b('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'), expect: http1('OPTIONS', '*', '1.1') },
  { name: 'http11-absolute', bytes: b('GET http://web.demo.svc.cluster.local:8080/x?y=%20z HTTP/1.1\r\n\r\n'), expect: http1('GET', 'http://web.demo.svc.cluster.local:8080/x?y=%20z', '1.1') },
  { name: 'http11-extension-method', bytes: b('PROPFIND /dav/ HTTP/1.1\r\nDepth: 1\r\n\r\n'), expect: http1('PROPFIND', '/dav/', '1.1') },
  { name: 'http11-pri-not-h2', bytes: b('PRI /x HTTP/1.1\r\n\r\n'), expect: http1('PRI', '/x', '1.1') },
  { name: 'http2-request-line', bytes: b('GET / HTTP/2.0\r\n\r\n'), expect: opaque('http1-bad-version') },
  { name: 'http12', bytes: b('GET / HTTP/1.2\r\n\r\n'), expect: opaque('http1-bad-version') },
  { name: 'http11-bare-lf', bytes: b('GET / HTTP/1.1\n\n'), expect: opaque('http1-bad-version') },
  { name: 'http11-double-space', bytes: b('GET  / HTTP/1.1\r\n\r\n'), expect: opaque('http1-bad-target') },
  { name: 'http11-star-not-options', bytes: b('GET * HTTP/1.1\r\n\r\n'), expect: opaque('http1-bad-target') },
  { name: 'http11-connect-no-port', bytes: b('CONNECT db.example.test HTTP/1.1\r\n\r\n'), expect: opaque('http1-bad-target') },
  { name: 'http11-target-non-ascii', bytes: Buffer.concat([b('GET /caf'), Buffer.from([0xc3, 0xa9]), b(' HTTP/1.1\r\n\r\n')]), expect: opaque('http1-bad-target') },
  { name: 'h2-preface-wrong', bytes: b('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), expect: opaque('http1-bad-target') },
  // Protocols where the client speaks first but is not HTTP or TLS.
  { name: 'smtp-ehlo', bytes: b('EHLO client.example.test\r\n'), expect: opaque('http1-bad-target') },
  { name: 'smtp-helo-with-domain-slash', bytes: b('HELO /x\r\n'), expect: opaque('http1-bad-target') },
  { name: 'smtp-banner', bytes: b('220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n'), expect: opaque('http1-bad-target') },
  { name: 'redis-resp', bytes: b('*1\r\n$4\r\nPING\r\n'), expect: opaque('http1-bad-method') },
  { name: 'redis-inline', bytes: b('PING\r\n'), expect: opaque('http1-bad-method') },
  { name: 'memcached-get', bytes: b('get some-key\r\n'), expect: opaque('http1-bad-target') },
  { name: 'ssh-ident', bytes: b('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'), expect: opaque('http1-bad-target') },
  // MySQL HandshakeResponse41: 3-byte little-endian length, sequence id 1, capability flags...
  { name: 'mysql-handshake-response', bytes: Buffer.from('5500000185a6ff0100000001210000000000000000000000000000000000000000000000726f6f7400', 'hex'), expect: opaque('http1-bad-method') },
  // PostgreSQL SSLRequest: length 8, code 80877103.
  { name: 'postgres-sslrequest', bytes: Buffer.from('0000000804d2162f', 'hex'), expect: opaque('unknown-protocol') },
  { name: 'binary-junk', bytes: Buffer.from('ff00de7ac0fe13370a0d', 'hex'), expect: opaque('unknown-protocol') },
  // TLS-looking but not a ClientHello.
  { name: 'tls-alert', bytes: Buffer.from('15030300020228', 'hex'), expect: opaque('unknown-protocol') },
  { name: 'tls-server-hello-type', bytes: Buffer.from('160303002a020000260303', 'hex'), expect: opaque('tls-not-client-hello') },
  { name: 'tls-record-too-long', bytes: Buffer.from('1603014001', 'hex'), expect: opaque('tls-bad-record-length') },
  { name: 'sslv2-hello', bytes: Buffer.from('802e0100020015', 'hex'), expect: opaque('unknown-protocol') },
];
