/**
 * `npm start` with the viz service: the demo prints the dashboard's URL, and `linnet viz` from a
 * second terminal (this test process, in the root namespace) reads the demo mesh through it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { LINNET_BIN, meshSkipReason } from './pods';

const skip = meshSkipReason();

function linnet(args: string[]) {
  return spawnSync(process.execPath, [LINNET_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

test('npm start prints the dashboard URL; linnet viz stat, edges, tap, top and the page answer from another terminal', { skip, timeout: 170_000 }, async () => {
  const child = spawn(process.execPath, [LINNET_BIN, 'demo', '--duration', '40s', '--rps', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard line after 120 s:\n${stderr}`)), 120_000);
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then(() => reject(new Error(`the demo exited first:\n${stderr}`)));
    });
    const addr = new URL(url).host;
    let table = '';
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = linnet(['viz', 'stat', 'deploy', '--viz-addr', addr]);
      table = r.stdout + r.stderr;
      if (/^web\s+2\/2\s+\d+\.\d\d%\s+\d+\.\drps/m.test(table) && /^emoji\s+2\/2\s+\d+\.\d\d%/m.test(table)) break;
      if (Date.now() > deadline) assert.fail(`no traffic in viz stat deploy:\n${table}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.match(table, /^traffic\s+1\/1\s+-/m);
    const edges = linnet(['viz', 'edges', 'deploy', '--viz-addr', addr]);
    assert.match(edges.stdout, /^traffic\s+web\s+demo\s+demo\s+√$/m, edges.stdout + edges.stderr);
    assert.match(edges.stdout, /^traffic\s+emoji\s+demo\s+demo\s+√$/m, edges.stdout + edges.stderr);
    // Tap and top through the viz service, from this terminal too (the demo's proxies admit its tap identity).
    const tap = linnet(['viz', 'tap', 'deploy/web', '--limit', '1', '--duration', '20s', '--viz-addr', addr]);
    assert.match(tap.stdout, /^req id=\S+ proxy=in  src=\S+ dst=\S+:8080 tls=true :method=GET :authority=10\.96\.0\.10:8080 :path=\/api\/vote/m, tap.stdout + tap.stderr);
    assert.match(tap.stdout, /^end id=\S+ proxy=in .* response-length=\d+B$/m);
    const top = linnet(['viz', 'top', 'deploy/emoji', '--duration', '4s', '--interval', '10s', '--viz-addr', addr]);
    assert.match(top.stdout, /^\S+\s+emoji[01]\s+POST\s+\/linnet\.demo\.Emoji\/FindByShortcode\s+\d+/m, top.stdout + top.stderr);
    // `linnet viz dashboard --port` serves the page on a local port of its own (Linkerd's port-forward).
    const dash = spawn(process.execPath, [LINNET_BIN, 'viz', 'dashboard', '--port', '0', '--viz-addr', addr], { stdio: ['ignore', 'pipe', 'pipe'] });
    const local = await new Promise<string>((resolve, reject) => {
      let out = '';
      dash.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      dash.on('close', () => reject(new Error(`linnet viz dashboard exited: ${out}`)));
    });
    assert.match(await (await fetch(local)).text(), /<title>Linnet dashboard<\/title>/);
    const proxies = (await (await fetch(new URL('/api/proxies', local))).json()) as { proxies: { workload: string }[] };
    assert.ok(proxies.proxies.some((p) => p.workload === 'web'));
    dash.kill('SIGINT');
    const page = await (await fetch(url)).text();
    assert.match(page, /<title>Linnet dashboard<\/title>/);
    const uplot = await fetch(new URL('/vendor/uPlot.iife.min.js', url));
    assert.equal(uplot.status, 200);
  } finally {
    child.kill('SIGINT');
    await exited;
  }
  assert.match(stdout, /summary after/);
});
