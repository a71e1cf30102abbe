/**
 * The viz side against a real mesh in pods: `linnet control` (its viz service on the control pod's
 * 127.0.0.1:8085, scraping every second), a `server` workload of two meshed replicas behind a
 * virtual IP, and a meshed `client` that sends a known mix (40 answered 200, 10 answered 500).
 * `linnet viz stat|routes|edges` and `linnet diagnostics` run in the control pod and must show
 * exactly that traffic; the dashboard, opened by Debian's Chromium through playwright-core, must
 * show the same rows and success rate; a proxy stopped is shown as not answering.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, Cluster, LINNET_BIN, logsOnFailure, meshSkipReason, type Pod, type PodProcess } from './pods';
import { eventually } from './pods/mesh';
import { makeMeshDir, meshProxyEnv, startMeshControl } from './pods/mesh-control';
import { forwardFromPod, type Forward } from '../control/local/pods/forward';

const CHROMIUM = '/usr/bin/chromium';
const skip = meshSkipReason();
const browserSkip = skip ?? (existsSync(CHROMIUM) ? undefined : `needs Debian's chromium at ${CHROMIUM} (bash .ci/setup-debian)`);
const id = (sa: string) => `${sa}.demo.serviceaccount.identity.linnet.cluster.local`;
const VIP = '10.96.0.20';
/** The identity the viz service taps with (as Linkerd's tap.linkerd-viz), which the proxies admit. */
const TAP_IDENTITY = 'tap.linnet-viz.serviceaccount.identity.linnet.cluster.local';
const APP = `require('http').createServer((q, s) => { s.statusCode = q.url.includes('fail') ? 500 : 200; s.end('ok'); }).listen(8080, () => console.log(JSON.stringify({ event: 'listening' })))`;

let cluster: Cluster | undefined;
let control: Pod;
let servers: Pod[] = [];
let client: Pod;
let dir: string;
let controlProc: PodProcess;
const withLogs = <A extends unknown[]>(body: (...a: A) => Promise<void>) =>
  logsOnFailure(() => cluster, async (...a: A) => {
    try {
      await body(...a);
    } catch (err) {
      process.stderr.write(`--- linnet control log ---\n${controlProc?.logTail(40)}\n`);
      throw err;
    }
  });

async function viz(args: string[]) {
  return control.run(process.execPath, [LINNET_BIN, ...args], { timeoutMs: 30_000 });
}

async function statJson(extra: string[] = []): Promise<Record<string, { requests: number; success: number; failure: number; meshed: number; pods: number; successRate?: number }>> {
  const r = await viz(['viz', 'stat', 'deploy', '-t', '5m', '-o', 'json', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries((JSON.parse(r.stdout) as { name: string }[]).map((x) => [x.name, x as never]));
}

before(async () => {
  if (skip) return;
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  servers = [await cluster.addPod('server0'), await cluster.addPod('server1')];
  client = await cluster.addPod('client');
  dir = makeMeshDir(['server', 'client'], 'linnet-viz-');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      '  - name: server.demo.svc.cluster.local',
      `    address: ${VIP}`,
      '    ports: [8080]',
      '    endpoints:',
      ...servers.flatMap((p, i) => [`      - address: ${p.ip}:8080`, `        identity: ${id('server')}`, `        labels: { pod: server-${i}, deployment: server, namespace: demo }`]),
      'workloads:',
      `  - { identity: ${id('server')}, token: server-token }`,
      `  - { identity: ${id('client')}, token: client-token, name: client }`,
    ].join('\n') + '\n',
  );
  controlProc = await startMeshControl(control, dir, { viz: true, readyMs: 30_000 });
  for (const p of [...servers, client]) await p.init();
  const tapEnv = { LINNET_PROXY_TAP_SVC_NAME: TAP_IDENTITY };
  for (const p of servers) await p.startProxy(meshProxyEnv(control, dir, id('server'), 'server', tapEnv), 60_000);
  await client.startProxy(meshProxyEnv(control, dir, id('client'), 'client', tapEnv), 60_000);
  for (const p of servers) {
    const app = p.spawn(process.execPath, ['-e', APP], { uid: APP_UID, name: 'app' });
    await app.waitForEvent<{ event: string }>((e) => e.event === 'listening', 30_000);
  }
  // The first request that reaches a server: the VIP is served only through discovery, so this
  // one went over mTLS to an endpoint; requests before it reached no server and count nowhere.
  await eventually(async () => {
    const r = await client.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '3', `http://${VIP}:8080/ok`], { uid: APP_UID, timeoutMs: 10_000 });
    assert.equal(r.stdout, '200');
  }, 60_000, 300);
  const send = await client.run(
    'bash',
    ['-c', `for i in $(seq 39); do curl -s -o /dev/null -w '%{http_code}\\n' http://${VIP}:8080/ok; done; for i in $(seq 10); do curl -s -o /dev/null -w '%{http_code}\\n' http://${VIP}:8080/fail; done`],
    { uid: APP_UID, timeoutMs: 120_000 },
  );
  const codes = send.stdout.trim().split('\n');
  assert.equal(codes.filter((c) => c === '200').length, 39, send.stdout + send.stderr);
  assert.equal(codes.filter((c) => c === '500').length, 10, send.stdout + send.stderr);
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('viz stat deploy: exact request counts and success rate from the proxies, both replicas meshed', { skip, timeout: 120_000 }, withLogs(async () => {
  const rows = await eventually(async () => {
    const s = await statJson();
    assert.equal(s['server']?.requests, 50, JSON.stringify(s));
    return s;
  }, 30_000, 500);
  assert.equal(rows['server']!.success, 40);
  assert.equal(rows['server']!.failure, 10);
  assert.equal(rows['server']!.meshed, 2);
  assert.equal(rows['client']!.requests, 0);
  const table = await viz(['viz', 'stat', 'deploy', '-t', '5m']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NAME\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\s+TCP_CONN$/m);
  assert.match(table.stdout, /^server\s+2\/2\s+80\.00%\s+\d+\.\drps\s+\S+ms\s+\S+ms\s+\S+ms\s+\d+$/m, table.stdout);
  assert.match(table.stdout, /^client\s+1\/1\s+-\s+-\s+-\s+-\s+-\s+\d+$/m, table.stdout);
  // The same numbers by pod (the replicas add up) and by name.
  const pods = await viz(['viz', 'stat', 'pod', '-t', '5m', '-o', 'json']);
  const byPod = JSON.parse(pods.stdout) as { name: string; requests: number }[];
  assert.equal(byPod.filter((p) => p.name.startsWith('server-')).reduce((a, p) => a + p.requests, 0), 50, pods.stdout);
  const one = await viz(['viz', 'stat', 'deploy/server', '-t', '5m', '-o', 'wide']);
  assert.match(one.stdout, /^demo\s+server\s+2\/2\s+80\.00%.*\s50\s+(hdr|buckets)$/m, one.stdout);
  // From the client's side (its outbound requests to the server's pods).
  const from = await statJson(['--from', 'deploy/client']);
  assert.equal(from['server']?.requests, 50, JSON.stringify(from));
}));

test('viz edges deploy: client → server secured √ (mTLS with the server identity); routes and authority', { skip, timeout: 60_000 }, withLogs(async () => {
  const edges = await eventually(async () => {
    const r = await viz(['viz', 'edges', 'deploy']);
    assert.match(r.stdout, /^client\s+server\s+demo\s+demo\s+√$/m, r.stdout + r.stderr);
    return r.stdout;
  }, 20_000, 500);
  assert.match(edges, /^SRC\s+DST\s+SRC_NS\s+DST_NS\s+SECURED$/m);
  const wide = await viz(['viz', 'edges', 'deploy', '-o', 'json']);
  const e = (JSON.parse(wide.stdout) as { src: string; dst: string; serverId?: string; clientId?: string }[]).find((x) => x.src === 'client')!;
  assert.equal(e.serverId, id('server'));
  assert.equal(e.clientId, id('client'));
  const routes = await viz(['viz', 'routes', 'deploy/server', '-t', '5m', '-o', 'json']);
  const rr = JSON.parse(routes.stdout) as { route: string; requests: number; successRate: number }[];
  assert.deepEqual(rr.map((r) => [r.route, r.requests, r.successRate]), [['[default]', 50, 0.8]], routes.stdout);
  const au = await viz(['viz', 'stat', 'authority', '-t', '5m', '-o', 'json']);
  assert.equal((JSON.parse(au.stdout) as { requests: number }[]).reduce((a, r) => a + r.requests, 0), 50, au.stdout);
}));

test('bad input: an unknown name lists what exists; an unreachable service names the address and how to start it', { skip, timeout: 60_000 }, withLogs(async () => {
  const unknown = await viz(['viz', 'stat', 'deploy', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /deploy\/nope not found; these exist: client, server/);
  const kind = await viz(['viz', 'stat', 'svc']);
  assert.equal(kind.code, 1);
  assert.match(kind.stderr, /these exist: deploy, pod, authority/);
  const away = await viz(['viz', 'stat', 'deploy', '--viz-addr', '127.0.0.1:18999']);
  assert.equal(away.code, 1);
  assert.equal(away.stderr.trim().split('\n').length, 1, away.stderr);
  assert.match(away.stderr, /cannot reach the viz service at http:\/\/127\.0\.0\.1:18999 \(ECONNREFUSED\) .*linnet control/);
}));

test('diagnostics: proxy-metrics of a pod by name, endpoints of an authority', { skip, timeout: 60_000 }, withLogs(async () => {
  const m = await viz(['diagnostics', 'proxy-metrics', 'server-0']);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /^response_total\{direction="inbound"/m);
  const all = await viz(['diagnostics', 'proxy-metrics', 'deploy/server']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^# POD server-0 \(1 of 2\)$/m);
  assert.match(all.stdout, /^# POD server-1 \(2 of 2\)$/m);
  assert.equal(all.stdout.match(/^process_start_time_seconds /gm)?.length, 2);
  const e = await viz(['diagnostics', 'endpoints', 'server.demo.svc.cluster.local:8080']);
  assert.equal(e.code, 0, e.stderr);
  for (const [i, p] of servers.entries()) assert.match(e.stdout, new RegExp(`^${p.ip.replace(/\./g, '\\.')}\\s+8080\\s+server-${i}\\s+${id('server').replace(/\./g, '\\.')}`, 'm'), e.stdout);
  const none = await viz(['diagnostics', 'endpoints', 'nope.demo.svc.cluster.local:80']);
  assert.equal(none.code, 1);
}));

test('dashboard in Chromium: workload rows, the success rate of the traffic sent, the red mark, the topology', { skip: browserSkip, timeout: 120_000 }, withLogs(async () => {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  let fwd: Forward | undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    fwd = await forwardFromPod(control, 8085);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://127.0.0.1:${fwd.port}/`);
    // The window selector picks 5m so the whole run is inside it.
    await page.selectOption('#window', '5m');
    const success = page.locator('tr[data-workload="server"] [data-col="success"]');
    await success.filter({ hasText: '80.00%' }).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('tr[data-workload="server"] [data-col="meshed"]').textContent(), '2/2');
    assert.equal(await page.locator('tr[data-workload="client"] [data-col="success"]').textContent(), '-');
    assert.ok(await page.locator('tr[data-workload="server"]').evaluate((tr) => tr.classList.contains('falling')), 'the server row carries the red mark (80% < 95%)');
    assert.equal(await page.locator('#status').textContent(), 'live');
    await page.locator('line[data-edge="client->server"]').waitFor({ state: 'attached', timeout: 10_000 });
    assert.equal(await page.locator('line[data-edge="client->server"]').getAttribute('stroke'), '#2e7d32');
    // Sparklines are uPlot canvases, one per series per workload.
    assert.ok((await page.locator('tr[data-workload="server"] td.spark canvas').count()) >= 3);
    const shot = process.env['LINNET_VIZ_SCREENSHOT'] ?? join(cluster!.logDir, 'dashboard.png');
    mkdirSync(join(shot, '..'), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
  } finally {
    await browser.close();
    await fwd?.close();
  }
}));


/**
 * Sends GET `path` from the client every `everyMs` until `until` resolves, to each server pod in
 * turn (through discovery and mTLS all the same), so that every server proxy sees some.
 */
async function keepSending(path: string, until: Promise<unknown>, everyMs = 300): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let n = 0;
  while (!done) {
    const to = servers[n % servers.length]!.ip;
    await client.run('curl', ['-s', '-o', '/dev/null', '-m', '3', `http://${to}:8080${path}`], { uid: APP_UID, timeoutMs: 10_000 });
    n++;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return n;
}

test('viz tap deploy/server: Linkerd lines (req, rsp, end) of requests as the server proxies see them, over mTLS', { skip, timeout: 90_000 }, withLogs(async () => {
  const run = viz(['viz', 'tap', 'deploy/server', '--path', '/tapme', '--limit', '1', '--duration', '40s']);
  await keepSending('/tapme', run);
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  const esc = (x: string) => x.replace(/\./g, '\\.');
  const head = `id=\\d+:\\d+ proxy=in  src=${esc(client.ip)}:\\d+ dst=(${servers.map((p) => esc(p.ip)).join('|')}):8080 tls=true`;
  assert.match(r.stdout, new RegExp(`^req ${head} :method=GET :authority=(${servers.map((p) => esc(p.ip)).join('|')}):8080 :path=/tapme$`, 'm'), r.stdout);
  assert.match(r.stdout, new RegExp(`^rsp ${head} :status=200 latency=\\d+µs$`, 'm'), r.stdout);
  assert.match(r.stdout, new RegExp(`^end ${head} duration=\\d+µs response-length=2B$`, 'm'), r.stdout);
  // --limit 1 per proxy: one request (three lines) from each server proxy, and nothing that is not /tapme.
  assert.equal(r.stdout.trim().split('\n').length, 6, r.stdout);
  const json = viz(['viz', 'tap', 'deploy/server', '--path', '/tapjson', '--limit', '1', '--duration', '40s', '-o', 'json']);
  await keepSending('/tapjson', json);
  const events = (await json).stdout.trim().split('\n').map((l) => JSON.parse(l) as { direction: string; http: { kind: string; path?: string }; srcName: string; dstName: string });
  assert.ok(events.some((e) => e.http.kind === 'request_init' && e.http.path === '/tapjson' && e.direction === 'inbound' && /^server-[01]$/.test(e.dstName)), JSON.stringify(events));
}));

test('viz top deploy/server: the most frequent paths with counts and success rates', { skip, timeout: 90_000 }, withLogs(async () => {
  const run = viz(['viz', 'top', 'deploy/server', '--path', '/top', '--duration', '12s', '--interval', '1s']);
  let stop = false;
  const sending = (async () => {
    while (!stop) {
      for (const p of ['/top-a', '/top-a', '/top-fail']) await client.run('curl', ['-s', '-o', '/dev/null', '-m', '3', `http://${VIP}:8080${p}`], { uid: APP_UID, timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const r = await run;
  stop = true;
  await sending;
  assert.equal(r.code, 0, r.stderr);
  const last = r.stdout.trim().split('\n\n').at(-1)!;
  assert.match(last, /^Source\s+Destination\s+Method\s+Path\s+Count\s+Best\s+Worst\s+Last\s+Success Rate$/m, last);
  const rows = [...last.matchAll(/^(\S+)\s+(server-[01])\s+GET\s+(\/top-\w+)\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(\d+\.\d\d)%$/gm)].map((m) => ({ src: m[1], dst: m[2], path: m[3], count: Number(m[4]), rate: m[5] }));
  assert.ok(rows.some((x) => x.path === '/top-a' && x.rate === '100.00' && x.src === client.ip), last);
  assert.ok(rows.some((x) => x.path === '/top-fail' && x.rate === '0.00'), last);
  const a = rows.filter((x) => x.path === '/top-a').reduce((n, x) => n + x.count, 0);
  const f = rows.filter((x) => x.path === '/top-fail').reduce((n, x) => n + x.count, 0);
  // Two /top-a for every /top-fail were sent; each proxy's tap saw them from the moment it opened
  // (the two open a moment apart, so the ends of the run may lose a few of either).
  assert.ok(f >= 3 && Math.abs(a - 2 * f) <= 4 + 0.1 * (a + f), `counts ${a} and ${f}:\n${last}`);
  // The most frequent path first.
  assert.equal(rows[0]!.path, '/top-a', last);
}));

test('dashboard live tap: a tapped request shows within two seconds', { skip: browserSkip, timeout: 120_000 }, withLogs(async () => {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  let fwd: Forward | undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    fwd = await forwardFromPod(control, 8085);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://127.0.0.1:${fwd.port}/`);
    await page.locator('#tap-workload option[value="server"]').waitFor({ state: 'attached', timeout: 20_000 });
    await page.selectOption('#tap-workload', 'server');
    await page.fill('#tap-path', '/dash');
    await page.click('#tap-start');
    // The tap is open once a first request shows up.
    const first = page.locator('#tap', { hasText: ':path=/dash-warm' });
    await keepSending('/dash-warm', first.waitFor({ timeout: 30_000 }));
    // Timed from the request's answer (curl's own start-up in the pod is not the tap's doing).
    await client.run('curl', ['-s', '-o', '/dev/null', '-m', '3', `http://${VIP}:8080/dash-now`], { uid: APP_UID, timeoutMs: 10_000 });
    const answered = Date.now();
    await page.locator('#tap', { hasText: ':path=/dash-now' }).waitFor({ timeout: 2000 });
    const took = Date.now() - answered;
    assert.ok(took <= 2000, `the tap line took ${took} ms`);
    assert.match((await page.locator('#tap').textContent())!, /^end id=\S+ proxy=in .* tls=true duration=\d+µs response-length=2B$/m);
    await page.click('#tap-stop');
  } finally {
    await browser.close();
    await fwd?.close();
  }
}));

const PROMETHEUS = '/usr/bin/prometheus';
const promSkip = skip ?? (existsSync(PROMETHEUS) ? undefined : `needs Debian's prometheus at ${PROMETHEUS} (bash .ci/setup-debian)`);
const GRAFANA_DIR = join(__dirname, '..', '..', 'control', 'viz', 'grafana');

interface GrafanaDashboard {
  title: string;
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; query: string }[] };
}

test('Grafana dashboards: every PromQL expression returns data from the real Prometheus scraping the meshed pods; the viz service backed by it answers as the embedded one', { skip: promSkip, timeout: 170_000 }, withLogs(async () => {
  // Prometheus in the control pod, finding the proxies through the viz service's http_sd list.
  const promDir = join(dir, 'prometheus');
  mkdirSync(promDir, { recursive: true });
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    'global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: linnet-proxy\n    http_sd_configs: [{ url: "http://127.0.0.1:8085/api/prometheus-sd", refresh_interval: 2s }]\n',
  );
  const prom = control.spawn(PROMETHEUS, [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, '--web.listen-address=127.0.0.1:9090'], { name: 'prometheus' });
  const traffic = client.spawn('bash', ['-c', `while true; do for i in 1 2 3 4; do curl -s -o /dev/null http://${VIP}:8080/ok; done; curl -s -o /dev/null http://${VIP}:8080/fail; sleep 0.2; done`], { uid: APP_UID, name: 'traffic' });
  const query = async (expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const r = await control.run('curl', ['-sS', '-m', '10', '--data-urlencode', `query=${expr}`, 'http://127.0.0.1:9090/api/v1/query'], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, `prometheus query failed: ${r.stderr}\n${prom.logTail(10)}`);
    const body = JSON.parse(r.stdout) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    assert.equal(body.status, 'success', `${expr}: ${body.error}`);
    return body.data.result;
  };
  try {
    await eventually(async () => {
      assert.equal((await query('count(up{job="linnet-proxy"} == 1)'))[0]?.value[1], '3');
      assert.ok((await query('count_over_time(request_total{direction="inbound"}[1m])')).some((x) => Number(x.value[1]) >= 5));
    }, 60_000, 1000);
    const files = ['linnet-top-line.json', 'linnet-deployment.json', 'linnet-authority.json', 'linnet-health.json'];
    // The authority the background traffic uses (the VIP's), so its panels have recent traffic.
    const authority = `${VIP}:8080`;
    let checked = 0;
    for (const f of files) {
      const d = JSON.parse(readFileSync(join(GRAFANA_DIR, f), 'utf8')) as GrafanaDashboard;
      // Template variables (label_values(metric, label)) must find values too.
      for (const v of d.templating.list.filter((x) => x.query.startsWith('label_values('))) {
        const m = /^label_values\((.+), (\w+)\)$/.exec(v.query.replace(/\$namespace/g, 'demo'))!;
        const rows = await query(`count(${m[1]}) by (${m[2]})`);
        assert.ok(rows.some((r) => r.metric[m[2]!]), `${f} variable ${v.name}: ${v.query} finds no value`);
      }
      for (const p of d.panels) {
        for (const t of p.targets) {
          // Outbound panels have data for a workload that calls others (client), inbound ones for the server.
          const variants = ['server', 'client'].map((dep) =>
            t.expr.replace(/\$__rate_interval/g, '30s').replace(/\$namespace/g, 'demo').replace(/\$deployment/g, dep).replace(/\$authority/g, authority),
          );
          await eventually(async () => {
            const results = await Promise.all(variants.map(query));
            assert.ok(
              results.some((rows) => rows.some((r) => Number.isFinite(Number(r.value[1])))),
              `${d.title} / ${p.title}: ${t.expr} returned no data (${JSON.stringify(results).slice(0, 300)})`,
            );
          }, 20_000, 1000);
          checked++;
        }
      }
    }
    assert.ok(checked >= 30, `only ${checked} expressions`);

    // The viz service answering from that Prometheus gives the same answers as the embedded one.
    await traffic.stop(1000);
    const second = control.spawn(process.execPath, [
      LINNET_BIN, 'control', '--discovery-file', join(dir, 'mesh.yaml'), '--destination-addr', '127.0.0.1:18086', '--admin-addr', '127.0.0.1:19990',
      '--viz-addr', '127.0.0.1:8087', '--viz-scrape-interval', '1s', '--prometheus-url', 'http://127.0.0.1:9090',
    ], { name: 'control-prometheus' });
    try {
      const numbers = async (addr: string) => {
        const r = await viz(['viz', 'stat', 'pod', '-t', '5m', '-o', 'json', '--viz-addr', addr]);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { name: string; requests: number; success: number; failure: number; meshed: number }[])
          .filter((x) => x.name.startsWith('server-'))
          .map((x) => [x.name, x.requests, x.success, x.failure, x.meshed]);
      };
      await eventually(async () => {
        const [embedded, fromProm] = [await numbers('127.0.0.1:8085'), await numbers('127.0.0.1:8087')];
        assert.equal(embedded.length, 2);
        // Enough traffic to compare; the balancer decides how it splits between the two pods.
        assert.ok(embedded.reduce((n, x) => n + (x[1] as number), 0) > 50 && embedded.every((x) => (x[1] as number) > 0), JSON.stringify(embedded));
        assert.deepEqual(fromProm, embedded);
      }, 30_000, 1000);
    } catch (err) {
      process.stderr.write(`--- control (prometheus) ---\n${second.logTail(30)}\n`);
      throw err;
    } finally {
      await second.stop(2000);
    }
  } finally {
    await traffic.stop(1000);
    await prom.stop(2000);
  }
}));

test('a proxy that stops answering is shown as such; the rest is still served', { skip, timeout: 90_000 }, withLogs(async () => {
  await servers[1]!.stopProxy();
  const r = await eventually(async () => {
    const out = await viz(['viz', 'stat', 'deploy', '-t', '5m']);
    assert.match(out.stdout, /^server\s+1\/2\s+\d+\.\d\d%/m, out.stdout + out.stderr);
    return out;
  }, 30_000, 500);
  assert.match(r.stderr, /‼ server: proxy not answering \(server-1: .*:4191/);
  assert.match(r.stdout, /^client\s+1\/1/m);
}));
