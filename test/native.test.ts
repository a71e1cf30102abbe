/**
 * The addon against the real kernel: SO_REUSEPORT listeners shared by worker threads, and
 * SO_ORIGINAL_DST behind real iptables/ip6tables REDIRECT rules in network namespaces made here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  assertNativeSupport,
  closeFd,
  ListenError,
  listenReusePort,
  NativeArgumentError,
  nativeSupport,
  originalDst,
  OriginalDstError,
  socketFd,
  SocketFdError,
} from '../proxy/transport/native/index';

const isRoot = process.getuid?.() === 0;
const ROOT_SKIP = 'needs root: creates a network namespace and iptables nat rules';
const FIXTURE = join(__dirname, 'support', 'native', 'original-dst-probe.js');
const WORKER = join(__dirname, 'support', 'native', 'reuseport-worker.js');

async function listenPlain(host: string, port = 0): Promise<Server> {
  const s = createServer((c) => c.destroy());
  s.listen({ host, port, exclusive: true });
  await once(s, 'listening');
  return s;
}

async function canListen(host: string): Promise<boolean> {
  try {
    const s = await listenPlain(host);
    s.close();
    return true;
  } catch {
    return false;
  }
}

async function closeServer(s: Server): Promise<void> {
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

/** Dials host:port and returns what the server sent before closing. */
function fetchId(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = connect({ host, port });
    c.on('data', (d) => chunks.push(d));
    c.on('end', () => resolve(Buffer.concat(chunks).toString()));
    c.on('error', reject);
  });
}

type WorkerMsg = { type: 'listening'; port: number } | { type: 'error'; code: string; message: string } | { type: 'stopped'; accepted: number };

function nextMessage(w: Worker): Promise<WorkerMsg> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

async function reusePortAcrossWorkers(host: string, family: 4 | 6): Promise<void> {
  const workers: Worker[] = [];
  assert.equal(nativeSupport().reusePort, true); // the main thread holds the addon too, as the proxy will
  try {
    // The first worker takes a free port; the second joins it on that same port.
    const a = new Worker(WORKER, { workerData: { host, port: 0, family, id: 'a' } });
    workers.push(a);
    const first = await nextMessage(a);
    assert.equal(first.type, 'listening', JSON.stringify(first));
    const port = (first as { port: number }).port;
    const b = new Worker(WORKER, { workerData: { host, port, family, id: 'b' } });
    workers.push(b);
    const second = await nextMessage(b);
    assert.deepEqual(second, { type: 'listening', port });

    const seen = { a: 0, b: 0 } as Record<string, number>;
    const total = 200;
    for (let i = 0; i < total; i += 20) {
      const ids = await Promise.all(Array.from({ length: 20 }, () => fetchId(host, port)));
      for (const id of ids) seen[id] = (seen[id] ?? 0) + 1;
    }
    const stopped = await Promise.all(
      workers.map((w) => {
        const m = nextMessage(w);
        w.postMessage('stop');
        return m;
      }),
    );
    const [ca, cb] = stopped.map((m) => (m as { accepted: number }).accepted);
    assert.ok(ca! > 0 && cb! > 0, `both workers must accept (a=${ca}, b=${cb})`);
    assert.equal(ca! + cb!, total);
    assert.deepEqual(seen, { a: ca, b: cb });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

test('two worker threads share one port through SO_REUSEPORT (IPv4) and both accept', async () => {
  await reusePortAcrossWorkers('127.0.0.1', 4);
});

test('two worker threads share one port through SO_REUSEPORT (IPv6 ::1)', async (t) => {
  if (!(await canListen('::1'))) return t.skip('the kernel has no IPv6 loopback (::1) here');
  await reusePortAcrossWorkers('::1', 6);
});

test('listenReusePort on a port held WITHOUT SO_REUSEPORT fails with a typed EADDRINUSE', async () => {
  for (const [host, family] of [['127.0.0.1', 4], ['::1', 6]] as const) {
    if (family === 6 && !(await canListen('::1'))) continue;
    const plain = await listenPlain(host);
    try {
      const { port } = plain.address() as AddressInfo;
      assert.throws(
        () => listenReusePort(host, port, family),
        (e: unknown) =>
          e instanceof ListenError &&
          e.code === 'LINNET_LISTEN_FAILED' &&
          e.errno === 'EADDRINUSE' &&
          e.syscall === 'bind' &&
          e.port === port &&
          /SO_REUSEPORT/.test(e.hint ?? ''),
      );
    } finally {
      await closeServer(plain);
    }
  }
});

test('net.Server owns the fd: closing the server frees the port; closeFd frees an unused one', async () => {
  const fd = listenReusePort('127.0.0.1', 0, 4);
  const server = createServer();
  server.listen({ fd });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // Still listening: a plain (non-reuseport) bind on the same port must fail ...
  await assert.rejects(listenPlain('127.0.0.1', port), /EADDRINUSE/);
  await closeServer(server);
  // ... and succeeds once the server (and with it our fd) is closed.
  await closeServer(await listenPlain('127.0.0.1', port));

  // A fd that never reaches a server stays the caller's: closeFd releases it.
  const free = await listenPlain('127.0.0.1');
  const port2 = (free.address() as AddressInfo).port;
  await closeServer(free);
  const unused = listenReusePort('127.0.0.1', port2, 4);
  await assert.rejects(listenPlain('127.0.0.1', port2), /EADDRINUSE/);
  closeFd(unused);
  await closeServer(await listenPlain('127.0.0.1', port2));
});

test('a non-redirected socket gives the typed error (no conntrack entry in this namespace)', async () => {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  server.listen({ fd: listenReusePort('127.0.0.1', 0, 4) });
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    const sock = await accepted;
    let result: unknown;
    try {
      result = originalDst(socketFd(sock), 4);
    } catch (err) {
      assert.ok(err instanceof OriginalDstError, String(err));
      assert.equal(err.code, 'LINNET_ORIGINAL_DST_UNAVAILABLE');
      // ENOENT: conntrack never saw it; ENOPROTOOPT: conntrack is not in this kernel at all.
      assert.ok(['ENOENT', 'ENOPROTOOPT'].includes(err.errno), err.errno);
      return;
    }
    // Someone made conntrack track this namespace: then the answer is the socket's own address.
    assert.deepEqual(result, { host: '127.0.0.1', port: sock.localPort, family: 4 });
  } finally {
    client.destroy();
    await closeServer(server);
  }
});

test('socketFd and the argument checks throw typed errors', async () => {
  const server = await listenPlain('127.0.0.1');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const fd = socketFd(client);
  assert.ok(Number.isInteger(fd) && fd > 2);
  client.destroy();
  assert.throws(() => socketFd(client), (e: unknown) => e instanceof SocketFdError && e.code === 'LINNET_SOCKET_FD_UNAVAILABLE');
  await closeServer(server);
  const bad = (e: unknown) => e instanceof NativeArgumentError && e.code === 'LINNET_NATIVE_INVALID_ARGUMENT';
  assert.throws(() => listenReusePort('localhost', 0, 4), bad);
  assert.throws(() => listenReusePort('::1', 0, 4), bad);
  assert.throws(() => listenReusePort('127.0.0.1', 70000, 4), bad);
  assert.throws(() => listenReusePort('127.0.0.1', 0, 5 as 4), bad);
  assert.throws(() => originalDst(-1, 4), bad);
  // A fd that is not a socket reaches the kernel and comes back typed.
  const file = openSync('/dev/null', 'r');
  try {
    assert.throws(() => originalDst(file, 4), (e: unknown) => e instanceof OriginalDstError && e.errno === 'ENOTSOCK' && /socketFd/.test(e.hint ?? ''));
  } finally {
    closeSync(file);
  }
});

test('assertNativeSupport passes here and the probe reports SO_REUSEPORT', () => {
  const s = nativeSupport();
  assert.equal(s.reusePort, true, JSON.stringify(s));
  assertNativeSupport({ originalDst: false });
  if (s.originalDst4) assertNativeSupport();
  else assert.throws(() => assertNativeSupport(), { code: 'LINNET_PLATFORM_UNSUPPORTED' });
});

// ---- SO_ORIGINAL_DST behind real REDIRECT rules, inside network namespaces made here ----

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
}

/** A fresh namespace: lo up, and a veth pair carrying 10.211.0.1/24 and fd00:211::1/64 so that
 * "service" addresses like 10.211.0.99 are routable (as a ClusterIP is through a default route). */
function makeNetns(withVeth: boolean): string {
  const ns = `lnnat${randomBytes(2).toString('hex')}`;
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    if (withVeth) {
      sh('ip', ['-n', ns, 'link', 'add', 'ln0', 'type', 'veth', 'peer', 'name', 'ln1']);
      sh('ip', ['-n', ns, 'link', 'set', 'ln0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'ln1', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', '10.211.0.1/24', 'dev', 'ln0']);
      sh('ip', ['-n', ns, '-6', 'addr', 'add', 'fd00:211::1/64', 'dev', 'ln0', 'nodad']);
    }
  } catch (err) {
    spawnSync('ip', ['netns', 'del', ns]);
    throw err;
  }
  return ns;
}

function deleteNetns(ns: string): void {
  spawnSync('ip', ['netns', 'del', ns]);
}

interface ProbeResult {
  dialled: { host: string; port: number };
  acceptedLocal: { host: string; port: number };
  originalDst: { host: string; port: number; family: number } | { error: { code: string; errno?: string } };
  socketOriginalDst: { host: string; port: number; family: number } | { error: { code: string; errno?: string } };
}

function runProbe(ns: string, config: object): ProbeResult[] {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, FIXTURE, JSON.stringify(config)], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, `fixture failed: ${r.stderr}${r.error ?? ''}`);
  return (JSON.parse(r.stdout) as { results: ProbeResult[] }).results;
}

const PROXY_PORT = 15001;
const APP_PORT = 8080;

test('SO_ORIGINAL_DST (IPv4): a REDIRECTed connection reports the address and port the client dialled', (t) => {
  if (!isRoot) return t.skip(ROOT_SKIP);
  const ns = makeNetns(true);
  try {
    sh('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', String(APP_PORT), '-j', 'REDIRECT', '--to-ports', String(PROXY_PORT)]);
    const dials = [{ host: '10.211.0.99', port: APP_PORT }, { host: '127.0.0.2', port: APP_PORT }, { host: '127.0.0.1', port: PROXY_PORT }];
    const results = runProbe(ns, { listen: { kind: 'reuseport', host: '127.0.0.1', port: PROXY_PORT, family: 4 }, dials });
    assert.equal(results.length, 3);
    for (const r of results.slice(0, 2)) {
      assert.deepEqual(r.acceptedLocal, { host: '127.0.0.1', port: PROXY_PORT }, 'the rule must have redirected it');
      assert.deepEqual(r.originalDst, { ...r.dialled, family: 4 });
      assert.deepEqual(r.socketOriginalDst, { ...r.dialled, family: 4 });
    }
    // Gotcha the proxy must handle: with conntrack active, a direct connection is no error —
    // its "original" destination is the proxy's own address (a loop, if forwarded).
    assert.deepEqual(results[2]!.originalDst, { host: '127.0.0.1', port: PROXY_PORT, family: 4 });

    // A dual-stack "::" listener sees the v4 client as ::ffff:127.0.0.1 on an AF_INET6 socket;
    // socketOriginalDst asks with the v4 option, which the kernel answers for such sockets.
    const mapped = runProbe(ns, {
      listen: { kind: 'net-dualstack', host: '::', port: PROXY_PORT, family: 6 },
      dials: [{ host: '10.211.0.99', port: APP_PORT }],
    });
    assert.equal(mapped[0]!.acceptedLocal.host, '::ffff:127.0.0.1');
    assert.deepEqual(mapped[0]!.socketOriginalDst, { host: '10.211.0.99', port: APP_PORT, family: 4 });
  } finally {
    deleteNetns(ns);
  }
});

test('SO_ORIGINAL_DST (IPv4) also behind iptables-legacy rules (linnet init --iptables-mode legacy)', (t) => {
  if (!isRoot) return t.skip(ROOT_SKIP);
  if (spawnSync('iptables-legacy', ['--version']).status !== 0) return t.skip('iptables-legacy is not installed');
  const ns = makeNetns(true);
  try {
    sh('ip', ['netns', 'exec', ns, 'iptables-legacy', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', String(APP_PORT), '-j', 'REDIRECT', '--to-ports', String(PROXY_PORT)]);
    const [r] = runProbe(ns, { listen: { kind: 'reuseport', host: '127.0.0.1', port: PROXY_PORT, family: 4 }, dials: [{ host: '10.211.0.99', port: APP_PORT }] });
    assert.deepEqual(r!.acceptedLocal, { host: '127.0.0.1', port: PROXY_PORT }, 'the rule must have redirected it');
    assert.deepEqual(r!.originalDst, { host: '10.211.0.99', port: APP_PORT, family: 4 });
  } finally {
    deleteNetns(ns);
  }
});

test('SO_ORIGINAL_DST (IPv6): ip6tables REDIRECT reports the dialled v6 address and port', (t) => {
  if (!isRoot) return t.skip(ROOT_SKIP);
  const ns = makeNetns(true);
  try {
    const rule = spawnSync('ip', ['netns', 'exec', ns, 'ip6tables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', String(APP_PORT), '-j', 'REDIRECT', '--to-ports', String(PROXY_PORT)], { encoding: 'utf8' });
    if (rule.status !== 0) return t.skip(`ip6tables nat is unavailable here: ${rule.stderr.trim()}`);
    const dials = [{ host: 'fd00:211::99', port: APP_PORT }, { host: '::1', port: APP_PORT }];
    const results = runProbe(ns, { listen: { kind: 'reuseport', host: '::1', port: PROXY_PORT, family: 6 }, dials });
    for (const r of results) {
      assert.deepEqual(r.acceptedLocal, { host: '::1', port: PROXY_PORT }, 'the rule must have redirected it');
      assert.deepEqual(r.originalDst, { ...r.dialled, family: 6 });
      assert.deepEqual(r.socketOriginalDst, { ...r.dialled, family: 6 });
    }
  } finally {
    deleteNetns(ns);
  }
});

test('SO_ORIGINAL_DST without any redirection (fresh namespace, no rules) is ENOENT for v4 and v6', (t) => {
  if (!isRoot) return t.skip(ROOT_SKIP);
  const ns = makeNetns(false);
  try {
    for (const [host, family] of [['127.0.0.1', 4], ['::1', 6]] as const) {
      const [r] = runProbe(ns, { listen: { kind: 'reuseport', host, port: PROXY_PORT, family }, dials: [{ host, port: PROXY_PORT }] });
      const got = r!.originalDst as { error?: { code: string; errno?: string; message?: string } };
      assert.equal(got.error?.code, 'LINNET_ORIGINAL_DST_UNAVAILABLE', JSON.stringify(got));
      assert.equal(got.error?.errno, 'ENOENT');
      assert.match(got.error?.message ?? '', /not redirected/);
    }
  } finally {
    deleteNetns(ns);
  }
});
