import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../core/errors';
import { parseIdentityEnv } from './identity';

/** A self-signed CA certificate (PEM) made by openssl, as an operator's trust anchor would be. */
function selfSignedCa(cn: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'linnet-anchor-'));
  try {
    writeFileSync(join(dir, 'req.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n');
    return execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-subj', `/CN=${cn}`, '-days', '1', '-config', join(dir, 'req.cnf'), '-addext', 'basicConstraints=critical,CA:TRUE'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NAME = 'web.demo.serviceaccount.identity.linnet.cluster.local';

describe('parseIdentityEnv', () => {
  let anchorPem = '';
  let leafLikePem = '';
  before(() => {
    anchorPem = selfSignedCa('root.linnet.cluster.local');
    leafLikePem = selfSignedCa('identity.linnet.cluster.local'); // a CA too; used as a second anchor
  });
  const env = (extra: Record<string, string>) => ({
    LINNET_PROXY_IDENTITY_SVC_ADDR: 'linnet-identity.linnet.svc.cluster.local:8080',
    LINNET_PROXY_IDENTITY_LOCAL_NAME: NAME,
    LINNET_PROXY_IDENTITY_TOKEN_FILE: '/var/run/secrets/tokens/linnet-identity-token',
    LINNET_PROXY_IDENTITY_TRUST_ANCHORS: anchorPem,
    ...extra,
  });
  const fails = (variable: string) => (e: unknown) => e instanceof ConfigError && e.variable === variable;

  it('is undefined without an identity address (the proxy runs without TLS)', () => {
    assert.equal(parseIdentityEnv({}), undefined);
    assert.equal(parseIdentityEnv({ LINNET_PROXY_IDENTITY_SVC_ADDR: '  ' }), undefined);
  });
  it('parses a full configuration, with defaults for the refresh bounds', () => {
    const c = parseIdentityEnv(env({}))!;
    assert.equal(c.svcAddr, 'linnet-identity.linnet.svc.cluster.local:8080');
    assert.equal(c.localName, NAME);
    assert.equal(c.svcName, undefined, 'plaintext unless the service name is given');
    assert.equal(c.minRefreshMs, 10_000);
    const tlsName = 'linnet-identity.linnet.serviceaccount.identity.linnet.cluster.local';
    assert.equal(parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_SVC_NAME: tlsName }))!.svcName, tlsName);
    assert.equal(c.maxRefreshMs, 86_400_000);
    assert.ok(Object.isFrozen(c));
  });
  it('reads anchors from the _FILE variable, keeping every certificate of a bundle', () => {
    const c = parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_TRUST_ANCHORS: '', LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: '/anchors.pem' }), (p) => {
      assert.equal(p, '/anchors.pem');
      return anchorPem + leafLikePem;
    })!;
    assert.equal(c.trustAnchorsPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
  });
  it('names the variable at fault', () => {
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_SVC_ADDR: 'nope' })), fails('LINNET_PROXY_IDENTITY_SVC_ADDR'));
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_LOCAL_NAME: '' })), fails('LINNET_PROXY_IDENTITY_LOCAL_NAME'));
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_LOCAL_NAME: 'Not A Name' })), fails('LINNET_PROXY_IDENTITY_LOCAL_NAME'));
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_SVC_NAME: 'x y' })), fails('LINNET_PROXY_IDENTITY_SVC_NAME'));
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_TOKEN_FILE: '' })), fails('LINNET_PROXY_IDENTITY_TOKEN_FILE'));
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_TRUST_ANCHORS: '' })), fails('LINNET_PROXY_IDENTITY_TRUST_ANCHORS'));
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_TRUST_ANCHORS: 'garbage' })), fails('LINNET_PROXY_IDENTITY_TRUST_ANCHORS'));
    assert.throws(
      () => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_TRUST_ANCHORS: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' })),
      fails('LINNET_PROXY_IDENTITY_TRUST_ANCHORS'),
    );
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: '/x.pem' })), fails('LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE'));
    assert.throws(
      () => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_TRUST_ANCHORS: '', LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: '/missing.pem' }), () => {
        throw new Error('ENOENT');
      }),
      fails('LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE'),
    );
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_MIN_REFRESH: 'soon' })), fails('LINNET_PROXY_IDENTITY_MIN_REFRESH'));
    assert.throws(() => parseIdentityEnv(env({ LINNET_PROXY_IDENTITY_MIN_REFRESH: '1h', LINNET_PROXY_IDENTITY_MAX_REFRESH: '1m' })), fails('LINNET_PROXY_IDENTITY_MAX_REFRESH'));
  });
});
