import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointSetState } from './endpoint-set';
import { createDiscoveryClient, DiscoveryError } from './client';

describe('EndpointSetState', () => {
  const add = (ips: string[], labels: Record<string, string> = {}) => ({
    update: 'add' as const,
    add: {
      metric_labels: labels,
      addrs: ips.map((ip) => ({
        addr: { ip, port: 80 },
        weight: 10000,
        metric_labels: { pod: ip },
        tls_identity: { dns_like_identity: { name: 'id' } },
        protocol_hint: { protocol: 'h2' as const, h2: {}, opaque_transport: null },
      })),
    },
  });
  const remove = (ips: string[]) => ({ update: 'remove' as const, remove: { addrs: ips.map((ip) => ({ ip, port: 80 })) } });
  const none = (exists: boolean) => ({ update: 'no_endpoints' as const, no_endpoints: { exists } });

  it('applies add, remove and no_endpoints', () => {
    const s = new EndpointSetState();
    assert.equal(s.exists, undefined);
    assert.equal(s.apply(add(['1.1.1.1', '2.2.2.2'], { ns: 'x' })), true);
    assert.deepEqual(s.endpoints()[0], { address: '1.1.1.1:80', ip: '1.1.1.1', port: 80, weight: 10000, labels: { ns: 'x', pod: '1.1.1.1' }, identity: 'id', hint: 'h2' });
    assert.equal(s.apply(add(['1.1.1.1'], { ns: 'x' })), false, 'a redundant add is no change');
    assert.equal(s.apply(remove(['1.1.1.1'])), true);
    assert.deepEqual(s.endpoints().map((e) => e.address), ['2.2.2.2:80']);
    assert.equal(s.apply(remove(['9.9.9.9'])), false);
    assert.equal(s.apply(none(false)), true);
    assert.deepEqual(s.endpoints(), []);
    assert.equal(s.exists, false);
  });

  it('after a reconnect keeps stale endpoints until the first message, which replaces them', () => {
    const s = new EndpointSetState();
    s.apply(add(['1.1.1.1', '2.2.2.2']));
    s.markStale();
    assert.equal(s.endpoints().length, 2);
    s.apply(add(['3.3.3.3']));
    assert.deepEqual(s.endpoints().map((e) => e.address), ['3.3.3.3:80']);
    s.apply(add(['4.4.4.4']));
    assert.equal(s.endpoints().length, 2, 'later adds are incremental again');
  });

  it('IPv6 addresses are bracketed', () => {
    const s = new EndpointSetState();
    s.apply(add(['fd00::1']));
    assert.equal(s.endpoints()[0]!.address, '[fd00::1]:80');
  });
});

describe('createDiscoveryClient targets', () => {
  it('refuses targets it cannot ask for', () => {
    const c = createDiscoveryClient({ addr: '127.0.0.1:1' });
    try {
      assert.throws(() => c.resolve({ port: 80 }), DiscoveryError);
      assert.throws(() => c.resolve({ ip: 'nope', port: 80 }), DiscoveryError);
      assert.throws(() => c.resolve({ authority: 'a', port: 0 }), DiscoveryError);
    } finally {
      c.close();
    }
  });
});
