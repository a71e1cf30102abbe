import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityName, parseIdentityName } from './names';
import { IdentityError } from './errors';

describe('identity names', () => {
  it('builds <sa>.<ns>.serviceaccount.identity.<control-ns>.<trust-domain>', () => {
    assert.equal(identityName({ serviceAccount: 'web', namespace: 'demo' }, 'linnet', 'cluster.local'), 'web.demo.serviceaccount.identity.linnet.cluster.local');
  });
  it('parses back, for this control plane only', () => {
    assert.deepEqual(parseIdentityName('web.demo.serviceaccount.identity.linnet.cluster.local', 'linnet', 'cluster.local'), { serviceAccount: 'web', namespace: 'demo' });
    for (const bad of [
      'web.demo.serviceaccount.identity.linkerd.cluster.local', // other control namespace
      'web.demo.serviceaccount.identity.linnet.example.org', // other trust domain
      'demo.serviceaccount.identity.linnet.cluster.local', // no service account
      'a.web.demo.serviceaccount.identity.linnet.cluster.local', // one label too many
      'Web.demo.serviceaccount.identity.linnet.cluster.local', // upper case
      '-web.demo.serviceaccount.identity.linnet.cluster.local',
      '',
    ]) {
      assert.throws(() => parseIdentityName(bad, 'linnet', 'cluster.local'), (e: IdentityError) => e.code === 'LINNET_IDENTITY_NAME_INVALID', bad);
    }
  });
  it('refuses labels that are not DNS labels', () => {
    assert.throws(() => identityName({ serviceAccount: 'a_b', namespace: 'demo' }, 'linnet', 'cluster.local'), /not a DNS label/);
    assert.throws(() => identityName({ serviceAccount: 'x'.repeat(64), namespace: 'demo' }, 'linnet', 'cluster.local'), /not a DNS label/);
  });
});
