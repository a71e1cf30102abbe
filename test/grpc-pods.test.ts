/**
 * gRPC through two meshed pods: a @grpc/grpc-js client in the client pod (through its outbound
 * proxy) calling a @grpc/grpc-js server in the server pod (through its inbound proxy). All four
 * call kinds, an error status, a deadline, a cancellation and an absent server, each checked on
 * both ends and in both proxies' golden metrics.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { APP_UID, logsOnFailure, meshSkipReason, sum, type Pod, type PodProcess, type Sample } from './pods';
import { createMesh, eventually, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
const GRPC_APP = join(__dirname, 'grpc-app.js');
const PORT = 7500;
let mesh: Mesh | undefined;
let srv: PodProcess | undefined;

before(async () => {
  if (skip) return;
  mesh = await createMesh();
  srv = mesh.server.spawn(process.execPath, [GRPC_APP, 'serve', '--port', String(PORT)], { uid: APP_UID, name: 'grpc-serve' });
  await srv.waitForEvent((e) => e.event === 'listening');
});
after(async () => {
  await mesh?.cluster.destroy();
});

const it = (name: string, body: (m: Mesh) => Promise<void>) => test(name, { skip }, logsOnFailure(() => mesh?.cluster, () => body(mesh!)));

type Result = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(pod: Pod, to: string, scenario: string, extra: string[] = []): Promise<Result> {
  const r = await pod.run(process.execPath, [GRPC_APP, 'call', '--to', to, '--scenario', scenario, ...extra], { uid: APP_UID, timeoutMs: 30_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"event":"result"'));
  assert.ok(line, `no result from the gRPC client (exit ${r.code}): ${r.stdout}${r.stderr}`);
  return JSON.parse(line) as Result;
}

/** response_total for one gRPC method path's authority, by direction, grpc_status and classification. */
function responses(s: Sample[], direction: string, labels: Record<string, string>): number {
  return sum(s, 'response_total', { direction, ...labels });
}

async function bothProxies(m: Mesh): Promise<{ out: Sample[]; inb: Sample[] }> {
  const [out, inb] = await Promise.all([m.client.metrics(), m.server.metrics()]);
  return { out, inb };
}

it('unary, server-streaming, client-streaming and bidi calls pass both proxies intact', async (m) => {
  const to = `${m.server.ip}:${PORT}`;
  const before = await bothProxies(m);
  const ok = (s: Sample[], d: string) => responses(s, d, { target_addr: to, grpc_status: '0', classification: 'success', status_code: '200' });

  const u = await call(m.client, to, 'unary');
  assert.equal(u.error, undefined, JSON.stringify(u.error));
  assert.equal(u.res.payloadSha, u.sentSha, 'the server got the payload byte for byte');
  assert.equal(u.headers['x-reply'], 'header-md', 'response metadata carried');
  const seenUnary = srv!.events<Result>().filter((e) => e.method === 'Unary' && e.event === 'done').pop()!;
  assert.equal(seenUnary.metadata, 'client-md', 'request metadata carried');

  const ss = await call(m.client, to, 'server-stream', ['--count', '200']);
  assert.equal(ss.count, 200);
  const ssSeen = srv!.events<Result>().filter((e) => e.method === 'ServerStream' && e.event === 'done').pop()!;
  assert.equal(ss.receivedSha, ssSeen.sentSha);

  const cs = await call(m.client, to, 'client-stream', ['--count', '200']);
  assert.equal(cs.res.count, 200);
  assert.equal(cs.res.receivedSha, cs.sentSha);

  const bd = await call(m.client, to, 'bidi', ['--count', '100']);
  assert.deepEqual({ count: bd.count, mismatches: bd.mismatches }, { count: 100, mismatches: 0 });

  await eventually(async () => {
    const now = await bothProxies(m);
    assert.equal(ok(now.out, 'outbound') - ok(before.out, 'outbound'), 4, 'outbound response_total grpc_status=0');
    assert.equal(ok(now.inb, 'inbound') - ok(before.inb, 'inbound'), 4, 'inbound response_total grpc_status=0');
    assert.equal(sum(now.out, 'request_total', { direction: 'outbound', authority: to }) - sum(before.out, 'request_total', { direction: 'outbound', authority: to }), 4);
    assert.ok(sum(now.inb, 'response_latency_ms_count', { direction: 'inbound', target_addr: to }) >= 4);
  });
});

it('an error status reaches the client with its message, and both proxies count it as a failure', async (m) => {
  const to = `${m.server.ip}:${PORT}`;
  const r = await call(m.client, to, 'error');
  assert.deepEqual({ code: r.error.code, details: r.error.details }, { code: 5, details: 'no such thing' });
  await eventually(async () => {
    const { out, inb } = await bothProxies(m);
    assert.equal(responses(out, 'outbound', { target_addr: to, grpc_status: '5', classification: 'failure' }), 1);
    assert.equal(responses(inb, 'inbound', { target_addr: to, grpc_status: '5', classification: 'failure' }), 1);
  });
});

it('a deadline is carried to the server and DEADLINE_EXCEEDED reaches the client in time', async (m) => {
  const to = `${m.server.ip}:${PORT}`;
  const r = await call(m.client, to, 'deadline');
  assert.equal(r.error.code, 4, JSON.stringify(r));
  assert.ok(r.ms < 1500, `deadline 400ms answered after ${r.ms}ms`);
  // The server saw the call with a deadline (grpc-timeout crossed both proxies) and saw it end.
  const seen = await srv!.waitForEvent<Result>((e) => e.event === 'cancelled' && e.method === 'Unary', 5000);
  assert.ok(seen.deadline !== null && seen.deadline < 400, `server deadline ${seen.deadline}`);
  await eventually(async () => {
    const { out, inb } = await bothProxies(m);
    // Whoever noticed first (client, proxy or server), the request is a failure in both proxies.
    assert.equal(sum(out, 'response_total', { direction: 'outbound', target_addr: to, classification: 'failure' }) >= 2, true);
    assert.equal(sum(inb, 'response_total', { direction: 'inbound', target_addr: to, classification: 'failure' }) >= 2, true);
  });
});

it('a client cancel reaches the server as a cancelled call', async (m) => {
  const to = `${m.server.ip}:${PORT}`;
  const r = await call(m.client, to, 'cancel');
  assert.equal(r.error.code, 1);
  assert.equal(r.received, 5);
  const seen = await srv!.waitForEvent<Result>((e) => e.event === 'cancelled' && e.method === 'ServerStream', 5000);
  assert.equal(seen.method, 'ServerStream');
});

it('no server behind the port: UNAVAILABLE with l5d-proxy-error from the inbound proxy, counted as grpc_status 14', async (m) => {
  const to = `${m.server.ip}:7599`;
  const r = await call(m.client, to, 'unary');
  assert.equal(r.error.code, 14, JSON.stringify(r));
  assert.match(String(r.error.proxyError), /ECONNREFUSED/);
  await eventually(async () => {
    const { out, inb } = await bothProxies(m);
    assert.equal(responses(inb, 'inbound', { target_addr: to, grpc_status: '14', classification: 'failure', status_code: '200' }), 1);
    assert.equal(responses(out, 'outbound', { target_addr: to, grpc_status: '14', classification: 'failure' }), 1);
  });
});
