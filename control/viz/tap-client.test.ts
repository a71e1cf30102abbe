import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { observeTap, TapClientError, type TapClientOptions } from './tap-client';

/** A throwaway self-signed P-256 certificate (openssl), enough for the client to build its credentials. */
function selfSigned(): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'linnet-tapclient-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=tap', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    return { certPem: readFileSync(join(dir, 'c.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('no proxy listening: the stream fails with LINNET_TAP_UNAVAILABLE naming the address, and a hint', async () => {
  const { certPem, keyPem } = selfSigned();
  const port = await freePort();
  const opts: TapClientOptions = { addr: `127.0.0.1:${port}`, proxyIdentity: 'web.demo.serviceaccount.identity.linnet.cluster.local', certPem, keyPem, trustAnchorsPem: certPem };
  const got: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of observeTap(opts, { limit: 1 })) got.push(e);
    })(),
    (err: unknown) => err instanceof TapClientError && err.code === 'LINNET_TAP_UNAVAILABLE' && err.message.includes(`127.0.0.1:${port}`) && err.hint !== undefined,
  );
  assert.equal(got.length, 0);
});

test('aborted before it starts: the stream ends at once, with no error and no connection', async () => {
  const { certPem, keyPem } = selfSigned();
  let connections = 0;
  const s = createServer(() => connections++).listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const ac = new AbortController();
  ac.abort();
  const stream = observeTap({ addr: `127.0.0.1:${(s.address() as AddressInfo).port}`, proxyIdentity: 'x', certPem, keyPem, trustAnchorsPem: certPem }, { signal: ac.signal });
  const got: unknown[] = [];
  for await (const e of stream) got.push(e);
  assert.deepEqual(got, []);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(connections, 0);
  s.close();
});
