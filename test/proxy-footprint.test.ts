/**
 * What an idle sidecar loads: with identity, discovery, policy, routes and tap all configured, the
 * proxy's process holds none of grpc-js, proto-loader, protobufjs or @peculiar/x509 (it speaks
 * gRPC with its own client and server, reads .proto files with its own codec, and writes its CSR
 * itself). Each of those cost an idle proxy megabytes; this keeps them out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const LINNET = join(__dirname, '..', '..', 'bin', 'linnet');
// The proxy parses its trust anchors at start: a throwaway self-signed certificate will do.
const anchor = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=anchor', '-days', '1'], { encoding: 'utf8' });
const skip = anchor.status === 0 ? false : 'openssl not installed (bash .ci/setup-debian installs it)';

test('a proxy with identity, discovery, policy, routes and tap configured loads no grpc-js, protobufjs or @peculiar/x509', { skip, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'linnet-footprint-'));
  const hook = join(dir, 'hook.js');
  const out = join(dir, 'modules.txt');
  // Written once the proxy has started its clients (they dial an address that refuses).
  writeFileSync(hook, `setTimeout(() => require('fs').writeFileSync(${JSON.stringify(out)}, Object.keys(require.cache).join('\\n')), 2500).unref();\n`);
  const child = spawn(process.execPath, ['--require', hook, LINNET, 'proxy'], {
    env: {
      PATH: process.env.PATH,
      LINNET_PROXY_INBOUND_LISTEN_ADDR: '127.0.0.1:0',
      LINNET_PROXY_OUTBOUND_LISTEN_ADDR: '127.0.0.1:0',
      LINNET_PROXY_ADMIN_LISTEN_ADDR: '127.0.0.1:0',
      LINNET_PROXY_TAP_LISTEN_ADDR: '127.0.0.1:0',
      LINNET_PROXY_IDENTITY_SVC_ADDR: '127.0.0.1:9',
      LINNET_PROXY_IDENTITY_SVC_NAME: 'linnet-identity.linnet.serviceaccount.identity.linnet.cluster.local',
      LINNET_PROXY_IDENTITY_LOCAL_NAME: 'web.demo.serviceaccount.identity.linnet.cluster.local',
      LINNET_PROXY_IDENTITY_TRUST_ANCHORS: anchor.stdout,
      LINNET_PROXY_IDENTITY_TOKEN_FILE: '/dev/null',
      LINNET_PROXY_DESTINATION_SVC_ADDR: '127.0.0.1:9',
      LINNET_PROXY_POLICY_SVC_ADDR: '127.0.0.1:9',
      LINNET_PROXY_POLICY_WORKLOAD: 'demo:web-0',
      LINNET_PROXY_INBOUND_PORTS: '8080',
      LINNET_PROXY_TAP_SVC_NAME: 'tap.linnet-viz.serviceaccount.identity.linnet.cluster.local',
    },
    stdio: 'ignore',
  });
  try {
    let modules = '';
    for (let i = 0; i < 100 && !modules; i++) {
      await sleep(100);
      try {
        modules = readFileSync(out, 'utf8');
      } catch {
        /* not yet */
      }
    }
    assert.ok(modules.includes('proxy/runtime/supervisor.js'), 'the proxy started and the hook saw it');
    assert.ok(modules.includes('proxy/protocol/grpc/channel.js'), 'its control-plane clients are up (our gRPC client)');
    const heavy = modules.split('\n').filter((m) => /node_modules\/(@grpc\/|protobufjs|@peculiar\/|tsyringe)/.test(m));
    assert.deepEqual(heavy, []);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

