import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkPeerIdentity, dnsSans, identityOf } from './peer-identity';

const WEB = 'web.demo.serviceaccount.identity.linnet.cluster.local';

describe('peer identity', () => {
  it('reads DNS SANs from Node\'s subjectaltname string', () => {
    assert.deepEqual(dnsSans(`DNS:${WEB}`), [WEB]);
    assert.deepEqual(dnsSans('DNS:a.example, IP Address:10.0.0.1, DNS:b.example'), ['a.example', 'b.example']);
    assert.deepEqual(dnsSans('IP Address:10.0.0.1'), []);
    assert.deepEqual(dnsSans(undefined), []);
    assert.deepEqual(dnsSans(''), []);
    assert.deepEqual(dnsSans('DNS:"a,b.example"'), ['a,b.example']);
  });

  it('an identity is exactly one DNS SAN', () => {
    assert.equal(identityOf(`DNS:${WEB.toUpperCase()}`), WEB);
    assert.equal(identityOf('DNS:a.example, DNS:b.example'), undefined);
    assert.equal(identityOf('IP Address:10.0.0.1'), undefined);
  });

  it('checkPeerIdentity accepts the expected name only', () => {
    assert.equal(checkPeerIdentity(WEB, `DNS:${WEB}`), undefined);
    const wrong = checkPeerIdentity(WEB, 'DNS:db.demo.serviceaccount.identity.linnet.cluster.local');
    assert.match(wrong!.message, /proves db\.demo.*expected web\.demo/);
    assert.equal((wrong as NodeJS.ErrnoException).code, 'ERR_TLS_IDENTITY_MISMATCH');
    assert.ok(checkPeerIdentity(WEB, `DNS:*.demo.serviceaccount.identity.linnet.cluster.local`));
    assert.ok(checkPeerIdentity(WEB, `DNS:${WEB}, DNS:other.example`));
    assert.ok(checkPeerIdentity(WEB, undefined));
  });
});
