import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createSecureContext, TLSSocket } from 'node:tls';
import { resetConnection } from './reset';

const dir = mkdtempSync(join(tmpdir(), 'linnet-reset-'));
const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=reset.test']);
const skip = made.status === 0 ? false : 'needs openssl (apt-get install -y openssl) to make a certificate';
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A TLS connection as the inbound side holds it: a TLSSocket over an accepted TCP socket. */
async function tlsPair(): Promise<{ server: TLSSocket; client: Socket; close(): void }> {
  const context = createSecureContext({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) });
  // Wrapped in the connection event itself: bytes read before the wrap would not reach TLS.
  let server: TLSSocket | undefined;
  const srv = createServer((raw) => void (server = new TLSSocket(raw, { isServer: true, secureContext: context })));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const client = tlsConnect({ host: '127.0.0.1', port: (srv.address() as { port: number }).port, rejectUnauthorized: false });
  await once(client, 'secureConnect');
  return { server: server!, client, close: () => srv.close() };
}

test('a TLS socket is closed through the TCP socket under it: no throw (Node throws for a TLS socket), the peer\'s connection ends', { skip }, async () => {
  const p = await tlsPair();
  // Node refuses resetAndDestroy on a TLS socket (its handle is not TCP): in a relay's error
  // handler that throw took the whole proxy down. This is what the module is for.
  assert.throws(() => p.server.resetAndDestroy(), { code: 'ERR_INVALID_HANDLE_TYPE' });
  p.client.on('error', () => {});
  const closed = once(p.client, 'close');
  assert.doesNotThrow(() => resetConnection(p.server));
  assert.ok(p.server.destroyed && (p.server as TLSSocket & { _parent: Socket })._parent.destroyed);
  await closed;
  p.close();
});

test('a plain TCP socket is reset; a destroyed one is left alone', async () => {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection') as Promise<[Socket]>;
  const { connect } = await import('node:net');
  const client = connect((srv.address() as { port: number }).port, '127.0.0.1');
  const [server] = await accepted;
  const err = once(client, 'error') as Promise<[NodeJS.ErrnoException]>;
  resetConnection(server);
  assert.equal((await err)[0].code, 'ECONNRESET');
  assert.doesNotThrow(() => resetConnection(server));
  srv.close();
});
