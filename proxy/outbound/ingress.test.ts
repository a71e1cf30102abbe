import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { logicalDestination } from './ingress';

describe('logicalDestination', () => {
  it('prefers l5d-dst-override, then the authority; port from it or the default', () => {
    assert.deepEqual(logicalDestination('web.demo.svc.cluster.local:8080', 'example.com'), { host: 'web.demo.svc.cluster.local', port: 8080 });
    assert.deepEqual(logicalDestination(undefined, 'Web.Demo.svc.cluster.local.'), { host: 'web.demo.svc.cluster.local', port: 80 });
    assert.deepEqual(logicalDestination(undefined, 'api:9000', 443), { host: 'api', port: 9000 });
    assert.deepEqual(logicalDestination(undefined, '10.1.2.3:8080'), { host: '10.1.2.3', port: 8080 });
    assert.deepEqual(logicalDestination(undefined, '[fd00::1]:8080'), { host: 'fd00::1', port: 8080 });
  });
  it('skips what is not an authority (and falls back to the next source)', () => {
    for (const bad of ['', 'a b', 'user@host', 'host/path', 'host:0', 'host:65536', 'host:x', '-bad-', '[fd00::1', '[::1]x', 'a..b']) {
      assert.equal(logicalDestination(bad, undefined), undefined, bad);
      assert.deepEqual(logicalDestination(bad, 'web:81'), { host: 'web', port: 81 }, bad);
    }
    assert.equal(logicalDestination(undefined, undefined), undefined);
  });
  it('never throws, and what it returns is a lower-case name or IP with a valid port', () => {
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: undefined }), fc.option(fc.string(), { nil: undefined }), (o, a) => {
        const d = logicalDestination(o, a);
        if (d) {
          assert.ok(d.port >= 1 && d.port <= 65535);
          assert.equal(d.host, d.host.toLowerCase());
          assert.ok(!/[\s/@]/.test(d.host));
        }
      }),
    );
  });
});
