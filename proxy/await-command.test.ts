/**
 * `linnet await` against a real HTTP server standing in for the admin port (no pods): ready at
 * once, ready after a few 503s, the command's status kept, POST /shutdown sent after it, usage
 * errors. The pod test (test/lifecycle-pods) runs it beside a real proxy.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const BIN = join(__dirname, '..', '..', 'bin', 'linnet');
let server: Server;
let port: number;
let readyAfter = 0;
const seen: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/ready') {
      if (readyAfter > 0) {
        readyAfter--;
        return void res.writeHead(503).end('not ready\n');
      }
      return void res.writeHead(200).end('ready\n');
    }
    if (req.url === '/shutdown' && req.method === 'POST') return void res.writeHead(202).end('shutting down\n');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

function linnet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('waits through 503s, then runs the command, keeps its status and asks /shutdown after it', async () => {
  readyAfter = 3;
  seen.length = 0;
  const r = await linnet(['await', '--admin-addr', `127.0.0.1:${port}`, '--shutdown', '--', 'sh', '-c', 'echo job ran; exit 7']);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, 'job ran\n');
  assert.deepEqual(seen, ['GET /ready', 'GET /ready', 'GET /ready', 'GET /ready', 'POST /shutdown']);
});

test('without a command it exits 0 once ready (the postStart hook); `-- CMD --help` is the command\'s', async () => {
  seen.length = 0;
  assert.equal((await linnet(['await', '--admin-addr', `127.0.0.1:${port}`])).code, 0);
  const r = await linnet(['await', '--admin-addr', `127.0.0.1:${port}`, '--', 'sh', '-c', 'echo "got $1"', 'sh', '--help']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'got --help\n', 'the --help after -- went to the command');
  assert.ok(!seen.includes('POST /shutdown'), 'no shutdown without --shutdown');
});

test('usage errors exit 2; a command that cannot start exits 127', async () => {
  assert.equal((await linnet(['await', '--shutdown'])).code, 2);
  assert.equal((await linnet(['await', '--'])).code, 2);
  const r = await linnet(['await', '--admin-addr', `127.0.0.1:${port}`, '--', '/nonexistent/cmd']);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /LINNET_AWAIT_COMMAND: cannot run \/nonexistent\/cmd: ENOENT/);
});
