import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../core/errors';
import { parseDiscoveryEnv } from './discovery';

describe('parseDiscoveryEnv', () => {
  it('accepts names, IPv4 and bracketed IPv6; unset means no discovery', () => {
    assert.equal(parseDiscoveryEnv({}).destinationAddr, undefined);
    assert.equal(parseDiscoveryEnv({ LINNET_PROXY_DESTINATION_SVC_ADDR: ' ' }).destinationAddr, undefined);
    for (const ok of ['linnet-dst.linnet.svc.cluster.local:8086', '10.0.0.2:8086', '[fd00::2]:8086', 'localhost:1']) {
      assert.equal(parseDiscoveryEnv({ LINNET_PROXY_DESTINATION_SVC_ADDR: ok }).destinationAddr, ok);
    }
  });
  it('throws ConfigError naming the variable', () => {
    for (const bad of ['linnet-dst', 'host:0', 'host:70000', '999.1.1.1:80', 'fd00::2:8086', '[nothex]:80', 'a b:80', 'http://x:80']) {
      assert.throws(
        () => parseDiscoveryEnv({ LINNET_PROXY_DESTINATION_SVC_ADDR: bad }),
        (e: unknown) => e instanceof ConfigError && e.variable === 'LINNET_PROXY_DESTINATION_SVC_ADDR' && e.message.includes('HOST:PORT'),
        bad,
      );
    }
  });
});
