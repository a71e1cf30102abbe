/**
 * Tap end to end on loopback, with real parts: a real identity service issues the proxy's, the
 * tap client's and a stranger's certificates; the proxy's tap server (proxy/tap/server.ts) serves
 * Observe over mTLS on a real port; the proxy's own stacks carry real traffic from curl (HTTP/1,
 * HTTP/2 prior knowledge) and grpc-js to real Node and grpc-js apps; and the viz tap client
 * (control/viz/tap-client.ts) reads the events. Checked: the right identity sees request_init,
 * response_init and response_end with the right method, path, status, grpc-status and bytes per
 * direction; a match narrows what is seen; a stranger's certificate, a client without one and a
 * plaintext client are refused; a stalled reader loses events (counted) while every request
 * still completes (counts compared, not timings). The redirected path in pods: tap-pods.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { StaticTokenVerifier } from '../control/identity';
import { observeTap, TapClientError, type ObservedTapEvent, type TapClientOptions, type TapObserveOptions } from '../control/viz/tap-client';
import { createLogger } from '../core/log';
import { createIdentityClient, type IdentityClient, type IdentityMaterial } from '../proxy/identity';
import { Registry } from '../proxy/metrics/registry';
import { TapHub } from '../proxy/tap/hub';
import { TapServer } from '../proxy/tap/server';
import { DB, WEB, linnetCa, quietLog, serveIdentity, tempDir, type Running } from './identity/helpers';
import { loopbackProxy, type LoopbackProxy } from './support/stacks';

const run = promisify(execFile);
const TAP = 'tap.linnet-viz.serviceaccount.identity.linnet.cluster.local';
const silent = createLogger('error', 'test', () => {});
const t = tempDir('tap');
const servers: Server[] = [];
const clients: IdentityClient[] = [];
let idsvc: Running;
let registry: Registry;
let hub: TapHub;
let tapServer: TapServer;
let lp: LoopbackProxy;
let web: IdentityMaterial;
let tapId: IdentityMaterial;
let stranger: IdentityMaterial;
const ports = { h1: 0, h2: 0, grpc: 0, outH1: 0, outH2: 0, outGrpc: 0, inH1: 0 };
let grpcServer: grpc.Server;

const h1Bodies: Record<string, [number, string]> = { '/h1/ok': [200, 'hello'], '/h1/fail': [503, 'unavailable!'] };
const H2_BODY = 'h2 says hi, 21 bytes.';

function enc(m: object): Buffer {
  return Buffer.from(JSON.stringify(m));
}
const SAY = { path: '/linnet.test.Tap/Say', requestStream: false, responseStream: false, requestSerialize: enc, requestDeserialize: (b: Buffer) => JSON.parse(String(b)), responseSerialize: enc, responseDeserialize: (b: Buffer) => JSON.parse(String(b)) };

async function listen(s: Server | http.Server | http2.Http2Server): Promise<number> {
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  servers.push(s as Server);
  return (s.address() as AddressInfo).port;
}

/** A proxy listener: each connection goes through the proxy's `direction` stack to `target`, detected as accept does. */
async function proxyListener(direction: 'inbound' | 'outbound', target: number): Promise<number> {
  const s = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock: Socket) => {
    lp.open.track(sock);
    sock.on('error', () => {});
    const conn = lp.conn(direction, target);
    void (direction === 'outbound' ? lp.outbound.accept(sock, conn) : lp.inbound.accept(sock, conn, false));
  });
  return listen(s);
}

async function material(identity: string, token: string): Promise<IdentityMaterial> {
  const tokenFile = join(t.dir, `${token}.token`);
  writeFileSync(tokenFile, token);
  const c = createIdentityClient({ svcAddr: idsvc.addr, localName: identity, tokenFile, trustAnchorsPem: readFileSync(join(t.dir, 'ca.crt'), 'utf8'), log: silent });
  clients.push(c);
  return c.ready();
}

function clientOpts(m: IdentityMaterial, proxyIdentity = WEB): TapClientOptions {
  return { addr: `127.0.0.1:${tapServer.port}`, proxyIdentity, certPem: m.certChainPem, keyPem: m.keyPem, trustAnchorsPem: m.trustAnchorsPem };
}

/** Opens a tap and collects its events; resolves once the hub has it (so traffic after is seen). */
async function tap(opts: TapClientOptions, req: TapObserveOptions): Promise<{ events: ObservedTapEvent[]; done: Promise<unknown>; stream: ReturnType<typeof observeTap> }> {
  const before = hub.size;
  const stream = observeTap(opts, req);
  const events: ObservedTapEvent[] = [];
  const done = (async () => {
    for await (const e of stream) events.push(e);
  })();
  const deadline = Date.now() + 15_000;
  while (hub.size <= before) {
    const failed = await Promise.race([done.then(() => 'ended', (e: unknown) => e), new Promise((r) => setTimeout(() => r(undefined), 20))]);
    if (failed !== undefined) return { events, done: Promise.resolve(failed), stream };
    if (Date.now() > deadline) throw new Error('the tap never opened');
  }
  return { events, done, stream };
}

function grpcSay(port: number, name: string): Promise<{ code: number }> {
  const Client = grpc.makeGenericClientConstructor({ Say: SAY }, 'Tap');
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) =>
    (c as unknown as Record<string, Function>)['Say']!({ name }, (err: grpc.ServiceError | null) => {
      c.close();
      resolve({ code: err?.code ?? 0 });
    }),
  );
}

async function curl(args: string[]): Promise<string> {
  const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', ...args]);
  return r.stdout;
}

before(async () => {
  await linnetCa(t.dir);
  idsvc = await serveIdentity({
    identityDir: t.dir,
    trustDomain: 'cluster.local',
    controlNamespace: 'linnet',
    tokens: new StaticTokenVerifier([
      { identity: WEB, token: 'web' },
      { identity: TAP, token: 'tap' },
      { identity: DB, token: 'db' },
    ]),
    log: quietLog(),
  });
  [web, tapId, stranger] = await Promise.all([material(WEB, 'web'), material(TAP, 'tap'), material(DB, 'db')]);
  registry = new Registry();
  hub = new TapHub((id, e) => tapServer.deliver(id, e));
  tapServer = new TapServer({
    addr: { host: '127.0.0.1', port: 0, family: 4 },
    svcName: TAP,
    maxRps: 100_000,
    buffer: 50,
    registry,
    log: silent,
    lanes: { open: (spec) => hub.open(spec), close: (id) => hub.close(id) },
  });
  await tapServer.setIdentity({ localName: WEB, keyPem: web.keyPem, certChainPem: web.certChainPem, trustAnchorsPem: web.trustAnchorsPem, notAfter: web.notAfter.getTime() });
  lp = loopbackProxy({ tap: hub });

  ports.h1 = await listen(
    http.createServer((req, res) => {
      if (req.url === '/h1/chunked') {
        // No content-length: Node frames these as chunks (sizes and CRLFs around 5 + 11 + 1 bytes).
        res.writeHead(200);
        res.write('hello');
        res.write(' chunked, ');
        return void setTimeout(() => res.end('!'), 5);
      }
      const [status, body] = h1Bodies[(req.url ?? '').split('?')[0]!] ?? [404, 'no'];
      res.writeHead(status, { 'content-length': Buffer.byteLength(body) }).end(body);
    }),
  );
  ports.h2 = await listen(http2.createServer((req, res) => res.writeHead(200, { 'content-length': H2_BODY.length }).end(H2_BODY)));
  grpcServer = new grpc.Server();
  grpcServer.addService({ Say: SAY } as never, {
    Say: (call: grpc.ServerUnaryCall<{ name: string }, object>, cb: grpc.sendUnaryData<object>) =>
      call.request.name === 'nobody' ? cb({ code: grpc.status.NOT_FOUND, details: 'no such name' }) : cb(null, { hello: call.request.name }),
  });
  ports.grpc = await new Promise<number>((ok, fail) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  ports.outH1 = await proxyListener('outbound', ports.h1);
  ports.outH2 = await proxyListener('outbound', ports.h2);
  ports.outGrpc = await proxyListener('outbound', ports.grpc);
  ports.inH1 = await proxyListener('inbound', ports.h1);
});

after(() => {
  tapServer?.close();
  lp?.close();
  grpcServer?.forceShutdown();
  for (const s of servers) s.close();
  for (const c of clients) c.close();
  void idsvc?.stop();
  t.remove();
});

describe('tap over mTLS against the proxy', () => {
  it('the tap identity sees request, response and end for HTTP/1, HTTP/2 and gRPC, both directions; a match narrows it', async () => {
    const all = await tap(clientOpts(tapId), { limit: 7 });
    const onlyH2 = await tap(clientOpts(tapId), { limit: 1, match: { all: [{ path: { prefix: '/h2' } }, { method: 'GET' }] } });
    assert.equal(await curl([`http://127.0.0.1:${ports.outH1}/h1/ok?x=1`]), '200');
    assert.equal(await curl([`http://127.0.0.1:${ports.outH1}/h1/fail`]), '503');
    assert.equal(await curl(['--http2-prior-knowledge', `http://127.0.0.1:${ports.outH2}/h2/page`]), '200');
    assert.deepEqual(await grpcSay(ports.outGrpc, 'ana'), { code: 0 });
    assert.deepEqual(await grpcSay(ports.outGrpc, 'nobody'), { code: grpc.status.NOT_FOUND });
    assert.equal(await curl(['-H', 'Host: web.example:80', `http://127.0.0.1:${ports.inH1}/h1/ok`]), '200');
    assert.equal(await curl([`http://127.0.0.1:${ports.outH1}/h1/chunked`]), '200');
    // The limit is 7: the stream ends by itself once the seventh request has ended.
    await all.done;
    await onlyH2.done;
    const byStream = new Map<string, ObservedTapEvent[]>();
    for (const e of all.events) {
      const k = `${e.http.id.base}/${e.http.id.stream}`;
      byStream.set(k, [...(byStream.get(k) ?? []), e]);
    }
    assert.equal(byStream.size, 7);
    const summary = [...byStream.values()].map((evs) => {
      assert.deepEqual(evs.map((e) => e.http.kind), ['request_init', 'response_init', 'response_end']);
      const [q, s, e] = evs.map((x) => x.http);
      assert.ok(q!.kind === 'request_init' && s!.kind === 'response_init' && e!.kind === 'response_end');
      assert.ok(e.sinceRequestInitUs >= s.sinceRequestInitUs && e.sinceRequestInitUs > 0);
      assert.equal(evs[0]!.proxyAddr, `127.0.0.1:${tapServer.port}`);
      assert.equal(evs[0]!.source.ip, '127.0.0.1');
      assert.ok(evs[0]!.source.port > 0);
      return { dir: evs[0]!.direction, method: q.method, path: q.path, dstPort: evs[0]!.destination.port, status: s.status, grpc: e.grpcStatus, bytes: e.responseBytes };
    });
    const grpcBytes = (body: object) => 5 + enc(body).length;
    assert.deepEqual(summary, [
      { dir: 'outbound', method: 'GET', path: '/h1/ok?x=1', dstPort: ports.h1, status: 200, grpc: undefined, bytes: 5 },
      { dir: 'outbound', method: 'GET', path: '/h1/fail', dstPort: ports.h1, status: 503, grpc: undefined, bytes: 12 },
      { dir: 'outbound', method: 'GET', path: '/h2/page', dstPort: ports.h2, status: 200, grpc: undefined, bytes: H2_BODY.length },
      { dir: 'outbound', method: 'POST', path: '/linnet.test.Tap/Say', dstPort: ports.grpc, status: 200, grpc: 0, bytes: grpcBytes({ hello: 'ana' }) },
      { dir: 'outbound', method: 'POST', path: '/linnet.test.Tap/Say', dstPort: ports.grpc, status: 200, grpc: grpc.status.NOT_FOUND, bytes: 0 },
      { dir: 'inbound', method: 'GET', path: '/h1/ok', dstPort: ports.h1, status: 200, grpc: undefined, bytes: 5 },
      // A chunked body: the 16 bytes the client reads, not the chunk framing around them.
      { dir: 'outbound', method: 'GET', path: '/h1/chunked', dstPort: ports.h1, status: 200, grpc: undefined, bytes: 'hello chunked, !'.length },
    ]);
    const inbound = all.events.find((e) => e.direction === 'inbound')!;
    assert.ok(inbound.http.kind === 'request_init' && inbound.http.authority === 'web.example:80');
    assert.equal(inbound.sourceLabels.tls, 'no_identity');
    // The narrowed tap saw the one HTTP/2 GET only.
    assert.deepEqual(onlyH2.events.map((e) => [e.http.kind, e.destination.port]), [
      ['request_init', ports.h2],
      ['response_init', ports.h2],
      ['response_end', ports.h2],
    ]);
    assert.equal(hub.size, 0, 'both taps closed in the lane once complete');
  });

  it('refuses a stranger identity (PERMISSION_DENIED), a client without a certificate and a plaintext client', async () => {
    const denied = await tap(clientOpts(stranger), { limit: 1 });
    const err = await denied.done;
    assert.ok(err instanceof TapClientError, String(err));
    assert.equal(err.code, 'LINNET_TAP_DENIED');
    assert.equal(err.grpcCode, grpc.status.PERMISSION_DENIED);
    assert.match(err.message, new RegExp(DB.replace(/\./g, '\\.')));
    // No client certificate: the handshake is refused, no call reaches the service.
    const { observeToPb } = await import('../core/api/tap');
    const { tapClientConstructor } = await import('../core/api/tap-service');
    for (const creds of [grpc.credentials.createSsl(Buffer.from(web.trustAnchorsPem)), grpc.credentials.createInsecure()]) {
      const TapClient = tapClientConstructor();
      const c = new TapClient(`127.0.0.1:${tapServer.port}`, creds, { 'grpc.ssl_target_name_override': WEB }) as grpc.Client & Record<string, Function>;
      const code = await new Promise<number>((resolve) => {
        const call = c['Observe']!(observeToPb({ limit: 1 }), { deadline: Date.now() + 5000 }) as grpc.ClientReadableStream<unknown>;
        call.on('data', () => resolve(-1));
        call.on('error', (e: grpc.ServiceError) => resolve(e.code));
      });
      c.close();
      assert.ok(code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED, `code ${code}`);
    }
    // TLS 1.2 is refused even with the tap identity's certificate; 1.3 with it is accepted.
    const handshake = (maxVersion: 'TLSv1.2' | 'TLSv1.3') =>
      new Promise<string>((resolve) => {
        const sock = tlsConnect({ host: '127.0.0.1', port: tapServer.port!, servername: WEB, ca: web.trustAnchorsPem, cert: tapId.certChainPem, key: tapId.keyPem, ALPNProtocols: ['h2'], maxVersion });
        sock.once('secureConnect', () => {
          resolve(String(sock.getProtocol()));
          sock.destroy();
        });
        sock.once('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
      });
    assert.match(await handshake('TLSv1.2'), /^error /);
    assert.equal(await handshake('TLSv1.3'), 'TLSv1.3');
    assert.equal(hub.size, 0);
    assert.match(registry.text(), /tap_refused_total\{reason="identity"\} 1\b/);
  });

  it('a stalled reader loses events, counted, and every request still completes', async () => {
    const N = 1500;
    const opts = clientOpts(tapId);
    const stream = observeTap(opts, { limit: 0 });
    const it = stream[Symbol.asyncIterator]();
    // One read starts the call; then nothing is read while the traffic runs.
    const first = it.next();
    const deadline = Date.now() + 15_000;
    while (hub.size === 0) {
      assert.ok(Date.now() < deadline, 'tap never opened');
      await new Promise((r) => setTimeout(r, 20));
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let ok = 0;
    const one = () =>
      new Promise<void>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: ports.outH1, path: '/h1/ok', agent }, (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) ok++;
              resolve();
            });
          })
          .on('error', reject);
      });
    for (let i = 0; i < N; i += 8) await Promise.all(Array.from({ length: Math.min(8, N - i) }, one));
    agent.destroy();
    assert.equal(ok, N, 'every request completed while the reader was stalled');
    const dropped = () => Number(/tap_events_dropped_total (\d+)/.exec(registry.text())?.[1] ?? 0);
    assert.ok(dropped() > 0, 'a stalled reader lost events');
    // Now read everything that was kept: what arrives plus what was dropped is every event made.
    let received = (await first).done ? 0 : 1;
    const readDeadline = Date.now() + 30_000;
    while (received + dropped() < 3 * N) {
      assert.ok(Date.now() < readDeadline, `received ${received} + dropped ${dropped()} of ${3 * N}`);
      const r = await Promise.race([it.next(), new Promise<'wait'>((ok) => setTimeout(() => ok('wait'), 2000))]);
      if (r === 'wait') continue;
      assert.equal(r.done, false);
      received++;
    }
    assert.equal(received + dropped(), 3 * N);
    stream.cancel();
    await it.return?.(undefined);
    const requests = /request_total\{direction="outbound",authority="127\.0\.0\.1:\d+",target_addr="127\.0\.0\.1:(\d+)"[^}]*\} (\d+)/g;
    let total = 0;
    for (const m of lp.registry.text().matchAll(requests)) if (Number(m[1]) === ports.h1) total += Number(m[2]);
    assert.ok(total >= N, `request_total ${total}`);
  });
});
