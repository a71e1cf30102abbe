/**
 * KubernetesTokenVerifier against a real local HTTPS server that answers TokenReview requests
 * in the authentication.k8s.io/v1 shape, and the Identity service using it over gRPC.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { KubernetesTokenVerifier } from '../control/identity/token-verifier';
import { IdentityError } from '../control/identity/errors';
import { CONTROL_NS, TRUST_DOMAIN, WEB, certify, linnetCa, makeCsr, openssl, quietLog, serveIdentity, tempDir } from './identity/helpers';

interface Seen {
  method?: string;
  path?: string;
  auth?: string;
  body: { apiVersion?: string; kind?: string; spec?: { token?: string; audiences?: string[] } };
}

// Token → what a real API server would say about it.
const REVIEWS: Record<string, object> = {
  'web-sa-token': { authenticated: true, user: { username: 'system:serviceaccount:demo:web', uid: 'u1', groups: ['system:serviceaccounts'] } },
  'db-sa-token': { authenticated: true, user: { username: 'system:serviceaccount:demo:db' } },
  'node-token': { authenticated: true, user: { username: 'system:node:worker-1' } },
  'expired-token': { authenticated: false, error: '[invalid bearer token, service account token has expired]' },
  'unknown-token': { authenticated: false },
};

describe('KubernetesTokenVerifier (TokenReview over HTTPS)', () => {
  const t = tempDir('idk8s');
  let server: Server;
  let apiServer: string;
  let ca: Buffer;
  const seen: Seen[] = [];

  before(async () => {
    // The "API server" certificate: self-signed for 127.0.0.1, trusted through `ca`.
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'api.key', '-out', 'api.crt', '-days', '1',
      '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'], t.dir);
    ca = readFileSync(join(t.dir, 'api.crt'));
    server = createServer({ key: readFileSync(join(t.dir, 'api.key')), cert: ca }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Seen['body'];
        seen.push({ method: req.method, path: req.url, auth: req.headers.authorization, body });
        if (req.headers.authorization !== 'Bearer identity-controller-token') {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
          return;
        }
        const token = body.spec?.token ?? '';
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          kind: 'TokenReview',
          apiVersion: 'authentication.k8s.io/v1',
          metadata: { creationTimestamp: null },
          spec: body.spec,
          status: { audiences: body.spec?.audiences ?? ['https://kubernetes.default.svc.cluster.local'], ...(REVIEWS[token] ?? { authenticated: false }) },
        }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    apiServer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    t.remove();
  });

  const verifier = (extra: Partial<ConstructorParameters<typeof KubernetesTokenVerifier>[0]> = {}) =>
    new KubernetesTokenVerifier({ apiServer, ca, bearerToken: 'identity-controller-token', controlNamespace: CONTROL_NS, trustDomain: TRUST_DOMAIN, ...extra });

  it('accepts a service-account token for its own identity, sending a proper TokenReview', async () => {
    seen.length = 0;
    await verifier({ audiences: ['identity.linnet.cluster.local'] }).verify('web-sa-token', WEB);
    assert.equal(seen.length, 1);
    const s = seen[0]!;
    assert.equal(s.method, 'POST');
    assert.equal(s.path, '/apis/authentication.k8s.io/v1/tokenreviews');
    assert.equal(s.auth, 'Bearer identity-controller-token');
    assert.deepEqual(s.body, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'web-sa-token', audiences: ['identity.linnet.cluster.local'] } });
  });

  const refused: [string, string, string, RegExp][] = [
    ['another service account', 'db-sa-token', 'LINNET_IDENTITY_TOKEN_INVALID', /proves db\.demo\..* not the requested web\.demo/],
    ['a non-service-account user', 'node-token', 'LINNET_IDENTITY_TOKEN_INVALID', /system:node:worker-1.*not a service account/],
    ['an expired token (status.error)', 'expired-token', 'LINNET_IDENTITY_TOKEN_INVALID', /rejected the token: .*expired/],
    ['an unauthenticated token', 'unknown-token', 'LINNET_IDENTITY_TOKEN_INVALID', /did not authenticate/],
    ['no token', '', 'LINNET_IDENTITY_TOKEN_MISSING', /no token/],
  ];
  for (const [name, token, code, msg] of refused) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(verifier().verify(token, WEB), (e: IdentityError) => {
        assert.equal(e.code, code);
        assert.match(e.message, msg);
        return true;
      });
    });
  }

  it('reports the API server refusing the controller (401) as unverifiable', async () => {
    await assert.rejects(verifier({ bearerToken: 'wrong' }).verify('web-sa-token', WEB), (e: IdentityError) =>
      e.code === 'LINNET_IDENTITY_TOKEN_UNVERIFIABLE' && /HTTP 401/.test(e.message));
  });

  it('does not talk to an API server whose certificate it cannot verify', async () => {
    const t2 = tempDir('idk8sca');
    try {
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'x.key', '-out', 'x.crt', '-days', '1', '-subj', '/CN=x'], t2.dir);
      const wrongCa = readFileSync(join(t2.dir, 'x.crt'));
      assert.notEqual(wrongCa.toString(), ca.toString());
      await assert.rejects(verifier({ ca: wrongCa }).verify('web-sa-token', WEB), (e: IdentityError) => e.code === 'LINNET_IDENTITY_TOKEN_UNVERIFIABLE');
    } finally {
      t2.remove();
    }
  });

  it('backs the gRPC Identity service: a pod token certifies, a foreign one gets UNAUTHENTICATED, a dead API server UNAVAILABLE', async () => {
    const d = tempDir('idk8ssvc');
    await linnetCa(d.dir);
    const srv = await serveIdentity({ identityDir: d.dir, trustDomain: TRUST_DOMAIN, controlNamespace: CONTROL_NS, tokens: verifier(), log: quietLog() });
    const dead = await serveIdentity({
      identityDir: d.dir, trustDomain: TRUST_DOMAIN, controlNamespace: CONTROL_NS, log: quietLog(),
      tokens: verifier({ apiServer: 'https://127.0.0.1:1', timeoutMs: 2_000 }),
    });
    try {
      const ok = await certify(srv.client, { identity: WEB, token: 'web-sa-token', csr: await makeCsr([WEB]) });
      assert.equal(ok.err, null, ok.err?.details);
      const foreign = await certify(srv.client, { identity: WEB, token: 'db-sa-token', csr: await makeCsr([WEB]) });
      assert.equal(foreign.err?.code, grpc.status.UNAUTHENTICATED);
      const down = await certify(dead.client, { identity: WEB, token: 'web-sa-token', csr: await makeCsr([WEB]) });
      assert.equal(down.err?.code, grpc.status.UNAVAILABLE, down.err?.details);
      assert.match(down.err!.details, /TOKEN_UNVERIFIABLE/);
    } finally {
      await srv.stop();
      await dead.stop();
      d.remove();
    }
  });
});
