/**
 * mTLS between proxies on loopback, with certificates a real identity service issued to real
 * identity clients: the outbound half (proxy/transport/tls/connect) against the inbound half
 * (proxy/transport/tls/accept behind the real detector). Both sides verify: a server proving another
 * identity, a client from another trust root and a client without a certificate all fail.
 * ALPN: an `h2` offer is agreed on only when the inbound side accepts it (acceptedAlpn), and the
 * terminated TLS socket then carries an HTTP/2 server session directly, with the client's preface
 * already decrypted and buffered; any other offer, or an inbound that sets none, changes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { StaticTokenVerifier } from '../control/identity';
import { createIdentityClient, type IdentityClient, type IdentityMaterial } from '../proxy/identity';
import { createLogger } from '../core/log';
import { acceptedAlpn } from '../proxy/inbound/mtls';
import { readPrefix } from '../proxy/accept/read-prefix';
import { terminateMeshed } from '../proxy/transport/tls/accept';
import { connectMeshed } from '../proxy/transport/tls/connect';
import { TlsStore } from '../proxy/transport/tls/store';
import { H2Connection } from '../proxy/protocol/h2/connection';
import { loadProxyConfig } from '../proxy/runtime/config';
import { DB, WEB, linnetCa, quietLog, serveIdentity, tempDir, type Running } from './identity/helpers';

const t = tempDir('meshtls');
const running: Running[] = [];
const clients: IdentityClient[] = [];
const servers: Server[] = [];
const sockets = new Set<Socket>();

async function material(caDir: string, identity: string): Promise<IdentityMaterial> {
  let r = running.find((x) => (x as Running & { dir?: string }).dir === caDir);
  if (!r) {
    r = await serveIdentity({
      identityDir: caDir,
      trustDomain: 'cluster.local',
      controlNamespace: 'linnet',
      tokens: new StaticTokenVerifier([
        { identity: WEB, token: 'web' },
        { identity: DB, token: 'db' },
      ]),
      log: quietLog(),
    });
    (r as Running & { dir?: string }).dir = caDir;
    running.push(r);
  }
  const tokenFile = join(t.dir, `${identity}.token`);
  writeFileSync(tokenFile, identity === WEB ? 'web' : 'db');
  const c = createIdentityClient({
    svcAddr: r.addr,
    localName: identity,
    tokenFile,
    trustAnchorsPem: (await import('node:fs')).readFileSync(join(caDir, 'ca.crt'), 'utf8'),
    log: createLogger('error', 'identity', () => {}),
  });
  clients.push(c);
  return c.ready();
}

function store(m: IdentityMaterial): TlsStore {
  const s = new TlsStore(m.localName);
  s.set({ localName: m.localName, keyPem: m.keyPem, certChainPem: m.certChainPem, trustAnchorsPem: m.trustAnchorsPem, notAfter: m.notAfter.getTime() });
  return s;
}

/**
 * An inbound side: detection, then termination when the SNI is ours; answers "hello <client id>"
 * (and the ALPN protocol agreed on, if any). `alpn`: accept ALPN as the proxy does (acceptedAlpn of
 * the ClientHello's offer); false: set none, as an inbound that predates ALPN. `h2`: a connection
 * that agreed on h2 is served by an HTTP/2 session on the TLS socket itself, started only after
 * the client's preface is buffered on the socket (in the proxy it often is: it can arrive with
 * the client's Finished), the case Node must hand over in order.
 */
async function inbound(s: TlsStore, opts: { alpn?: boolean } = {}): Promise<{ port: number; errors: string[]; snis: (string | undefined)[]; offers: string[][]; bytes: { read: number; written: number }[] }> {
  const errors: string[] = [];
  const snis: (string | undefined)[] = [];
  const offers: string[][] = [];
  const bytes: { read: number; written: number }[] = [];
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, async (sock: Socket) => {
    sock.on('error', () => {});
    sockets.add(sock);
    const p = await readPrefix(sock, 1000);
    const o = p.outcome;
    snis.push(o.kind === 'detected' && o.detected.kind === 'tls' ? o.detected.sni : undefined);
    const offered = o.kind === 'detected' && o.detected.kind === 'tls' ? o.detected.alpn : [];
    offers.push(offered);
    try {
      const { socket, clientId, alpn } = await terminateMeshed(sock, p.bytes, s, 2000, opts.alpn ? acceptedAlpn(offered) : undefined);
      socket.on('error', () => {});
      if (alpn === 'h2') {
        for (let i = 0; i < 400 && socket.readableLength === 0; i++) await new Promise((r) => setTimeout(r, 5));
        assert.ok(socket.readableLength > 0, 'the preface arrived before the session was made');
        // As the inbound proxy does: its own HTTP/2 server on the TLS socket, no second detection.
        new H2Connection(socket, { role: 'server', settings: loadProxyConfig({}).http2 }, {
          onStream: (stream) => {
            stream.sendHeaders([':status', '200']);
            stream.sendData(Buffer.from(`hello ${clientId} over ${socket.getProtocol()} h2`), true);
          },
          // The byte counters the tcp metrics read still count through the session.
          onClose: () => bytes.push({ read: socket.bytesRead, written: socket.bytesWritten }),
        });
        return;
      }
      socket.end(`hello ${clientId} over ${socket.getProtocol()}${alpn ? ` alpn ${alpn}` : ''}`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, errors, snis, offers, bytes };
}

/** One GET on an HTTP/2 client session over `sock`; resolves with the body. */
function h2Get(sock: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect('http://peer', { createConnection: () => sock });
    session.on('error', reject);
    const req = session.request({ ':path': '/' });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('error', reject);
    req.on('end', () => {
      session.close();
      resolve(body);
    });
    req.end();
  });
}

function readAll(sock: Socket): Promise<{ text: string; error?: string }> {
  return new Promise((resolve) => {
    let text = '';
    sock.on('data', (d) => (text += d));
    sock.on('error', (e: NodeJS.ErrnoException) => resolve({ text, error: e.code ?? e.message }));
    sock.on('end', () => resolve({ text }));
    sock.resume();
  });
}

describe('mTLS between proxies (loopback, real certificates)', () => {
  let web: IdentityMaterial;
  let db: IdentityMaterial;
  let foreignDb: IdentityMaterial;

  before(async () => {
    const a = join(t.dir, 'ca-a');
    const b = join(t.dir, 'ca-b');
    mkdirSync(a);
    mkdirSync(b);
    await linnetCa(a);
    await linnetCa(b);
    [web, db, foreignDb] = await Promise.all([material(a, WEB), material(a, DB), material(b, DB)]);
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
    for (const r of running) await r.stop();
    t.remove();
  });

  it('a meshed client reaches a meshed server: TLS 1.3, SNI = server identity, each learns the other', async () => {
    const srv = await inbound(store(web));
    const sock = await connectMeshed('127.0.0.1', srv.port, WEB, store(db), 3000);
    assert.equal(sock.getProtocol(), 'TLSv1.3');
    assert.match(sock.getPeerCertificate().subjectaltname ?? '', new RegExp(`DNS:${WEB.replace(/\./g, '\\.')}`));
    const r = await readAll(sock);
    assert.equal(r.text, `hello ${DB} over TLSv1.3`);
    assert.deepEqual(srv.snis, [WEB]);
  });

  it('the client refuses a server proving another identity', async () => {
    const srv = await inbound(store(web));
    await assert.rejects(connectMeshed('127.0.0.1', srv.port, DB, store(db), 3000), (e: Error & { errno?: string }) => {
      assert.equal(e.errno, 'ERR_TLS_IDENTITY_MISMATCH', e.message);
      return true;
    });
  });

  it('the server refuses a client certificate from another trust root', async () => {
    const srv = await inbound(store(web));
    // The client does trust the server's root (so only the server's check can fail).
    const s = store(foreignDb);
    s.set({ ...s.current()!, trustAnchorsPem: web.trustAnchorsPem + foreignDb.trustAnchorsPem });
    let text = '';
    try {
      const sock = await connectMeshed('127.0.0.1', srv.port, WEB, s, 3000);
      text = (await readAll(sock)).text;
    } catch {
      // TLS 1.3 may report the server's alert during or after the client's handshake.
    }
    assert.equal(text, '');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(srv.errors.length, 1, 'the server failed the handshake');
  });

  it('the server refuses a client without a certificate', async () => {
    const srv = await inbound(store(web));
    const sock = tlsConnect({ host: '127.0.0.1', port: srv.port, servername: WEB, ca: web.trustAnchorsPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    const r = await readAll(sock);
    assert.equal(r.text, '');
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(srv.errors.length, 1);
  });

  it('a rotated certificate is used by the next handshake', async () => {
    const s = store(web);
    const srv = await inbound(s);
    const serial = async () => {
      const sock = await connectMeshed('127.0.0.1', srv.port, WEB, store(db), 3000);
      const n = sock.getPeerCertificate().serialNumber;
      await readAll(sock);
      return n;
    };
    const first = await serial();
    const again = await material(join(t.dir, 'ca-a'), WEB);
    s.set({ localName: WEB, keyPem: again.keyPem, certChainPem: again.certChainPem, trustAnchorsPem: again.trustAnchorsPem, notAfter: again.notAfter.getTime() });
    assert.notEqual(await serial(), first);
  });

  it('ALPN h2: agreed when offered and accepted; the TLS socket carries the HTTP/2 session itself, buffered preface included', async () => {
    const srv = await inbound(store(web), { alpn: true });
    const sock = await connectMeshed('127.0.0.1', srv.port, WEB, store(db), 3000, ['h2']);
    assert.equal(sock.alpnProtocol, 'h2');
    assert.equal(await h2Get(sock), `hello ${DB} over TLSv1.3 h2`);
    assert.deepEqual(srv.offers, [['h2']]);
    // Several sessions in a row: nothing left over from one handshake disturbs the next.
    for (let i = 0; i < 3; i++) {
      const again = await connectMeshed('127.0.0.1', srv.port, WEB, store(db), 3000, ['h2']);
      assert.equal(await h2Get(again), `hello ${DB} over TLSv1.3 h2`);
    }
    assert.deepEqual(srv.errors, []);
    for (let i = 0; i < 100 && srv.bytes.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(srv.bytes.length, 4, 'every server session closed');
    // A preface (24) + SETTINGS + HEADERS read; SETTINGS + HEADERS + DATA written, in clear bytes.
    for (const b of srv.bytes) assert.ok(b.read > 40 && b.written > 40, JSON.stringify(b));
  });

  it('ALPN: no offer, an offer without h2, or an inbound that accepts none all behave as before (no ALPN, no refusal)', async () => {
    const srv = await inbound(store(web), { alpn: true });
    const plain = await connectMeshed('127.0.0.1', srv.port, WEB, store(db), 3000);
    assert.equal(plain.alpnProtocol, false);
    assert.equal((await readAll(plain)).text, `hello ${DB} over TLSv1.3`);
    for (const offer of [['http/1.1'], ['linnet-proxy']]) {
      const sock = await connectMeshed('127.0.0.1', srv.port, WEB, store(db), 3000, offer);
      assert.equal(sock.alpnProtocol, false, `offer ${offer}`);
      assert.equal((await readAll(sock)).text, `hello ${DB} over TLSv1.3`);
    }
    assert.deepEqual(srv.offers, [[], ['http/1.1'], ['linnet-proxy']]);
    // An older inbound (no ALPN set) and a client offering h2: the offer is ignored.
    const old = await inbound(store(web));
    const sock = await connectMeshed('127.0.0.1', old.port, WEB, store(db), 3000, ['h2']);
    assert.equal(sock.alpnProtocol, false);
    assert.equal((await readAll(sock)).text, `hello ${DB} over TLSv1.3`);
    assert.deepEqual([...srv.errors, ...old.errors], []);
  });
});
