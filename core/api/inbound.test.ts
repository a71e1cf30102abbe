import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromPbServer, inboundServiceDefinition, PolicyMessageError, toPbServer, type PbServer } from './inbound';
import { defaultPolicy, DEFAULT_CLUSTER, type InboundPolicy } from '../policy/model';
import { parseNet } from '../policy/net';

/** Through the real protobuf encoding, as a stream message travels. */
function wire(p: InboundPolicy): InboundPolicy {
  const def = inboundServiceDefinition()['WatchPort']!;
  return fromPbServer(def.responseDeserialize(def.responseSerialize(toPbServer(p))) as PbServer);
}

describe('inbound policy messages', () => {
  it('a policy with every feature survives the wire unchanged', () => {
    const p: InboundPolicy = {
      protocol: 'grpc',
      server: { kind: 'server', name: 'web' },
      authorizations: [
        { kind: 'authorizationpolicy', name: 'a', networks: [{ net: parseNet('10.0.0.0/8'), except: [parseNet('10.1.0.0/16')] }, { net: parseNet('fd00::/8'), except: [] }], authn: { kind: 'meshTLS', identities: ['x.y'], suffixes: [['y'], []] } },
      ],
      routes: [
        {
          kind: 'HTTPRoute',
          name: 'r',
          hosts: ['*.example.com'],
          http: [{ path: { kind: 'prefix', value: '/api' }, method: 'POST', headers: [{ name: 'x-a', kind: 'regex', value: 'a+' }], query: [{ name: 'q', kind: 'exact', value: '1' }] }],
          grpc: [],
          authorizations: [{ kind: 'default', name: 'all-unauthenticated', networks: [{ net: parseNet('0.0.0.0/0'), except: [] }], authn: { kind: 'unauthenticated' } }],
        },
        { kind: 'GRPCRoute', name: 'g', hosts: [], http: [], grpc: [{ kind: 'regex', service: 'pkg\\..*', method: 'Get', headers: [] }], authorizations: [] },
        { kind: 'default', name: 'default', hosts: [], http: [], grpc: [], authorizations: [] },
      ],
      rateLimit: { name: 'rl', total: 100, identity: 10, overrides: [{ requestsPerSecond: 50, identities: ['x.y'] }] },
    };
    assert.deepEqual(wire(p), p);
  });
  it('every default policy and protocol', () => {
    for (const protocol of ['detect', 'http1', 'http2', 'opaque', 'tls'] as const) {
      const p = defaultPolicy('cluster-authenticated', DEFAULT_CLUSTER, protocol, ['/healthz']);
      const back = wire(p);
      assert.equal(back.protocol, protocol);
      assert.deepEqual(back.authorizations, p.authorizations);
      if (protocol !== 'opaque' && protocol !== 'tls') assert.deepEqual(back.routes, p.routes);
    }
  });
  it('a message with a bad network is refused with a typed error', () => {
    const pb = toPbServer(defaultPolicy('all-unauthenticated', DEFAULT_CLUSTER));
    pb.authorizations[0]!.networks[0]!.net = '10.0.0.0/99';
    assert.throws(() => fromPbServer(pb), (e: unknown) => e instanceof PolicyMessageError && e.code === 'LINNET_POLICY_MESSAGE_INVALID' && /authorizations\[0\]\.networks\[0\]/.test(e.message));
  });
});
