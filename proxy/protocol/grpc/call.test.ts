/**
 * Our gRPC calls (over our HTTP/2 engine) against grpc-js servers, plaintext and TLS: unary and
 * server streaming, statuses with their messages, cancel and deadline reaching the server, a
 * server that goes away and comes back, a wrong server name refused, a peer that stops answering
 * PINGs dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { destinationProtoPath, destinationServiceDefinition } from '../../../core/api/destination';
import { identityProtoPath, identityServiceConstructor } from '../../../core/api/identity';
import { ProtoCodec } from '../../../core/api/proto/codec';
import { parseProto } from '../../../core/api/proto/schema';
import { GrpcStatus } from '../h2/grpc-status';
import type { H2Settings } from '../h2/settings';
import { GrpcChannel } from './channel';
import { GrpcCall, unaryCall, type CallStatus } from './call';

const settings: H2Settings = { maxConcurrentStreams: 100, initialStreamWindowSize: 65_535, initialConnectionWindowSize: 1 << 20, maxSessionMemoryMb: 10, maxHeaderListSize: 65_535, keepAliveTimeoutMs: 0 };
const destination = parseProto(readFileSync(destinationProtoPath(), 'utf8'));
const identity = parseProto(readFileSync(identityProtoPath(), 'utf8'));
const GET = destination.services.get('linnet.destination.Destination')!.methods.get('Get')!;
const CERTIFY = identity.services.get('io.linnet.proxy.identity.Identity')!.methods.get('Certify')!;
const dst = new ProtoCodec(destination);
const idc = new ProtoCodec(identity);

async function serve(impl: grpc.UntypedServiceImplementation, def: grpc.ServiceDefinition, creds = grpc.ServerCredentials.createInsecure(), port = 0): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(def, impl);
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, creds, (e, p) => (e ? reject(e) : resolve(p))));
  return { server, port: bound };
}

function collect(call: GrpcCall): Promise<{ data: Record<string, unknown>[]; status: CallStatus }> {
  const data: Record<string, unknown>[] = [];
  call.on('data', (m: Record<string, unknown>) => data.push(m));
  return once(call, 'status').then(([status]) => ({ data, status: status as CallStatus }));
}

const identityDef = () => identityServiceConstructor().service;

test('unary: the response as proto-loader shapes it, and a failure as its status with the message decoded', async () => {
  let seen: Record<string, unknown> | undefined;
  const { server, port } = await serve(
    {
      Certify: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        seen = call.request;
        if (call.request['identity'] === 'nope') return cb({ code: grpc.status.PERMISSION_DENIED, details: 'not you: é ✓' });
        cb(null, { leaf_certificate: Buffer.from('leaf'), intermediate_certificates: [Buffer.from('i1')], valid_until: { seconds: 1_900_000_000, nanos: 5 } });
      },
    },
    identityDef(),
  );
  const ch = new GrpcChannel({ address: `127.0.0.1:${port}`, settings });
  try {
    const r = await unaryCall(ch, idc, CERTIFY, { identity: 'web.demo', token: Buffer.from('t'), certificate_signing_request: Buffer.from([1, 2, 3]) }, 5000);
    assert.deepEqual(r, { leaf_certificate: Buffer.from('leaf'), intermediate_certificates: [Buffer.from('i1')], valid_until: { seconds: 1_900_000_000, nanos: 5 }, trust_anchors: [] });
    assert.equal(seen?.['identity'], 'web.demo');
    assert.deepEqual(seen?.['certificate_signing_request'], Buffer.from([1, 2, 3]));
    await assert.rejects(unaryCall(ch, idc, CERTIFY, { identity: 'nope' }, 5000), (e: { code: number; details: string }) => e.code === GrpcStatus.PERMISSION_DENIED && e.details === 'not you: é ✓');
  } finally {
    ch.close();
    server.forceShutdown();
  }
});

test('server streaming: every message in order, then OK; cancel reaches the server; a deadline gives DEADLINE_EXCEEDED', async () => {
  const cancelled: string[] = [];
  const deadlines: grpc.Deadline[] = [];
  const { server, port } = await serve(
    {
      Get: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
        const path = String(call.request['path']);
        call.on('cancelled', () => cancelled.push(path));
        if (path === 'silent') deadlines.push(call.getDeadline());
        if (path === 'three') {
          for (let i = 0; i < 3; i++) call.write({ add: { addrs: [{ addr: { ip: `10.0.0.${i}`, port: 80 }, weight: 1, metric_labels: { pod: `p${i}` } }], metric_labels: {} } });
          call.end();
        } else if (path === 'hold') call.write({ no_endpoints: { exists: true } });
        // 'silent': nothing at all
      },
      GetProfile: () => {},
    },
    destinationServiceDefinition(),
  );
  const ch = new GrpcChannel({ address: `127.0.0.1:${port}`, settings });
  try {
    const three = await collect(new GrpcCall(ch, dst, GET, { path: 'three', context_token: '' }));
    assert.equal(three.status.code, GrpcStatus.OK, three.status.details);
    assert.deepEqual(three.data.map((u) => ((u['add'] as { addrs: { addr: { ip: string } }[] }).addrs[0]!.addr.ip)), ['10.0.0.0', '10.0.0.1', '10.0.0.2']);
    assert.equal(three.data[0]!['update'], 'add');
    const hold = new GrpcCall(ch, dst, GET, { path: 'hold' });
    const first = once(hold, 'data');
    const held = collect(hold);
    assert.equal(((await first)[0] as Record<string, unknown>)['update'], 'no_endpoints');
    hold.cancel();
    assert.equal((await held).status.code, GrpcStatus.CANCELLED);
    const t0 = Date.now();
    const silent = await collect(new GrpcCall(ch, dst, GET, { path: 'silent' }, 300));
    assert.equal(silent.status.code, GrpcStatus.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 5000);
    for (let i = 0; i < 100 && !cancelled.includes('hold'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(cancelled.includes('hold'), 'the cancel reached the server');
    // The deadline travelled as grpc-timeout: the server knew it (and ends the call itself).
    assert.equal(deadlines.length, 1);
    assert.ok(Number(deadlines[0]) > t0 && Number(deadlines[0]) < t0 + 2000, String(deadlines[0]));
  } finally {
    ch.close();
    server.forceShutdown();
  }
});

test('a server that goes away: open calls end UNAVAILABLE, new calls fail fast, and the channel dials again once it is back', async () => {
  const impl = { Get: (call: grpc.ServerWritableStream<unknown, unknown>) => call.write({ no_endpoints: { exists: false } }), GetProfile: () => {} };
  let { server, port } = await serve(impl, destinationServiceDefinition());
  const ch = new GrpcChannel({ address: `127.0.0.1:${port}`, settings, connectTimeoutMs: 2000 });
  try {
    const open = new GrpcCall(ch, dst, GET, { path: 'a' });
    const got = once(open, 'data');
    const ended = collect(open);
    await got;
    server.forceShutdown();
    assert.equal((await ended).status.code, GrpcStatus.UNAVAILABLE);
    const refused = await collect(new GrpcCall(ch, dst, GET, { path: 'b' }));
    assert.equal(refused.status.code, GrpcStatus.UNAVAILABLE);
    assert.match(refused.status.details, /ECONNREFUSED/);
    ({ server } = await serve(impl, destinationServiceDefinition(), undefined, port));
    const again = new GrpcCall(ch, dst, GET, { path: 'c' });
    const data = once(again, 'data');
    assert.equal(((await data)[0] as Record<string, unknown>)['update'], 'no_endpoints');
    again.cancel();
  } finally {
    ch.close();
    server.forceShutdown();
  }
});

const haveOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
test('TLS: the server certificate checked against the anchors for the server name; another name refused', { skip: haveOpenssl ? false : 'openssl not installed (bash .ci/setup-debian)' }, async () => {
  const NAME = 'linnet-identity.linnet.serviceaccount.identity.linnet.cluster.local';
  const dir = mkdtempSync(join(tmpdir(), 'linnet-grpc-tls-'));
  const sh = (args: string[]) => assert.equal(spawnSync('openssl', args, { cwd: dir, stdio: 'ignore' }).status, 0, args.join(' '));
  sh(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  sh(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=anchor', '-days', '2', '-out', 'ca.crt']);
  sh(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'srv.key']);
  sh(['req', '-new', '-key', 'srv.key', '-subj', '/CN=identity', '-out', 'srv.csr']);
  writeFileSync(join(dir, 'ext'), `subjectAltName=DNS:${NAME}\n`);
  sh(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'srv.crt', '-extfile', 'ext']);
  const read = (f: string) => readFileSync(join(dir, f));
  const { server, port } = await serve(
    { Certify: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { leaf_certificate: Buffer.from('ok') }) },
    identityDef(),
    grpc.ServerCredentials.createSsl(null, [{ private_key: read('srv.key'), cert_chain: read('srv.crt') }], false),
  );
  const good = new GrpcChannel({ address: `127.0.0.1:${port}`, settings, tls: { ca: read('ca.crt'), servername: NAME } });
  const wrong = new GrpcChannel({ address: `127.0.0.1:${port}`, settings, tls: { ca: read('ca.crt'), servername: 'other.linnet.serviceaccount.identity.linnet.cluster.local' } });
  try {
    assert.deepEqual((await unaryCall(good, idc, CERTIFY, { identity: 'x' }, 5000))['leaf_certificate'], Buffer.from('ok'));
    await assert.rejects(unaryCall(wrong, idc, CERTIFY, { identity: 'x' }, 5000), (e: { code: number; details: string }) => e.code === GrpcStatus.UNAVAILABLE && /ERR_TLS_CERT_ALTNAME_INVALID/.test(e.details));
  } finally {
    good.close();
    wrong.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a peer that stops answering PINGs is dropped: the open call ends UNAVAILABLE', async () => {
  // A TCP server that accepts and never says a thing (no SETTINGS, no PING ACK).
  const mute = createServer(() => {});
  mute.listen(0, '127.0.0.1');
  await once(mute, 'listening');
  const ch = new GrpcChannel({ address: `127.0.0.1:${(mute.address() as AddressInfo).port}`, settings, keepAliveMs: 200, keepAliveTimeoutMs: 200 });
  try {
    const t0 = Date.now();
    const r = await collect(new GrpcCall(ch, dst, GET, { path: 'a' }));
    assert.equal(r.status.code, GrpcStatus.UNAVAILABLE);
    assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
  } finally {
    ch.close();
    mute.close();
  }
});
