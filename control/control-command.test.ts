import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LinnetError } from '../core/errors';
import { parseControlArgs } from './control-command';
import { DEFAULT_CLUSTER_NETWORKS, parseNetList } from '../core/policy/net';

describe('parseControlArgs', () => {
  it('defaults as DESIGN.md: destination :8086, identity :8080, file discovery', () => {
    assert.deepEqual(parseControlArgs(['--discovery-file', 'm.yaml']), {
      discovery: 'file',
      discoveryFile: 'm.yaml',
      clusterDomain: 'cluster.local',
      trustDomain: 'cluster.local',
      controlNamespace: 'linnet',
      destinationAddr: '0.0.0.0:8086',
      identityAddr: '0.0.0.0:8080',
      policyAddr: '0.0.0.0:8090',
      defaultInboundPolicy: 'all-unauthenticated',
      clusterNetworks: parseNetList(DEFAULT_CLUSTER_NETWORKS),
      adminAddr: '0.0.0.0:9990',
      issuerLifetimeMs: 7 * 24 * 3_600_000,
      identityPollMs: 10_000,
      externalIssuer: false,
      vizAddr: '127.0.0.1:8085',
      vizScrapeIntervalMs: 2000,
      vizHistoryMs: 300_000,
      log: 'info',
    });
  });
  it('viz: off, another address, a Prometheus; a bad URL names the flag', () => {
    assert.equal(parseControlArgs(['--discovery-file', 'm', '--viz-addr', 'off']).vizAddr, undefined);
    const o = parseControlArgs(['--discovery-file', 'm', '--viz-addr', '0.0.0.0:9', '--prometheus-url', 'http://127.0.0.1:9090', '--viz-scrape-interval', '5s']);
    assert.deepEqual([o.vizAddr, o.prometheusUrl, o.vizScrapeIntervalMs], ['0.0.0.0:9', 'http://127.0.0.1:9090', 5000]);
    assert.throws(() => parseControlArgs(['--discovery-file', 'm', '--prometheus-url', 'localhost']), /--prometheus-url must be an http\(s\) URL/);
    assert.throws(() => parseControlArgs(['--discovery-file', 'm', '--viz-addr', 'nowhere']), /--viz-addr must be HOST:PORT/);
  });
  it('kubernetes discovery needs no file', () => {
    const o = parseControlArgs(['--discovery', 'kubernetes', '--kubeconfig', 'k', '--identity-dir', 'd', '--destination-addr', '[::]:9']);
    assert.equal(o.discovery, 'kubernetes');
    assert.equal(o.kubeconfig, 'k');
    assert.equal(o.identityDir, 'd');
    assert.equal(o.destinationAddr, '[::]:9');
  });
  it('refuses bad input with LINNET_CONTROL_USAGE', () => {
    for (const args of [[], ['--discovery', 'dns'], ['--discovery-file', 'f', '--log', 'loud'], ['--discovery-file', 'f', '--destination-addr', '8086'], ['--nope'], ['--discovery-file', 'f', 'extra'], ['--discovery-file', 'f', '--default-inbound-policy', 'open'], ['--discovery-file', 'f', '--cluster-networks', '10.0.0.0/40'], ['--discovery-file', 'f', '--policy-addr', 'x'], ['--discovery-file', 'f', '--identity-store', 'vault'], ['--discovery-file', 'f', '--identity-poll', 'soon'], ['--discovery-file', 'f', '--identity-dir', 'd', '--identity-store', 'kubernetes']]) {
      assert.throws(() => parseControlArgs(args), (e: unknown) => e instanceof LinnetError && e.code === 'LINNET_CONTROL_USAGE', args.join(' '));
    }
  });
});
