/** `linnet bench` argument handling: everything that is decided before a cluster is built. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from './command';
import type { BenchEnv } from './environment';
import { scenarios } from './scenarios';

async function capture(args: string[]): Promise<{ code: number | undefined; out: string; err: string; thrown?: Error & { code?: string } }> {
  let out = '';
  let err = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await command.run(args), out, err };
  } catch (e) {
    return { code: undefined, out, err, thrown: e as Error & { code?: string } };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

test('--list names every scenario with its targets; --rates changes the latency scenarios', async () => {
  const r = await capture(['--list']);
  assert.equal(r.code, 0);
  for (const id of ['http1-small', 'http1-1mb', 'http1-1mb-up', 'h2', 'grpc-unary', 'grpc-unary-mesh', 'grpc-stream', 'ws', 'tcp-iperf3', 'redis', 'latency-http1-1000', 'latency-http1-5000', 'latency-http1-1conn', 'cost-2w']) {
    assert.match(r.out, new RegExp(`^${id} `, 'm'));
  }
  // The peer mesh baseline beside Linnet meshed, and in the meshed gRPC scenario with direct only.
  for (const id of ['http1-small', 'latency-http1-1000', 'latency-http1-5000', 'latency-http1-1conn']) assert.match(r.out, new RegExp(`^${id} .*\\[.*linnet-mesh, haproxy-mesh\\]$`, 'm'));
  assert.match(r.out, /^grpc-unary-mesh +gRPC unary \(64 B\), meshed \[direct, linnet-mesh, haproxy-mesh\]$/m);
  assert.match(r.out, /^ {2}haproxy-mesh +haproxy pair \(peer mesh, mTLS\)$/m);
  assert.match((await capture(['--list', '--rates', '200'])).out, /^latency-http1-200 /m);
});

/** A bench environment whose load tool is not run: it records the argv and reports open-loop's JSON. */
function openLoopEnv(argvs: string[][], ops: number): BenchEnv {
  return {
    async runLoad(argv: string[]) {
      argvs.push(argv);
      return JSON.stringify({ ops, seconds: 3, errors: 0, p50: 1, p90: 2, p99: 3, 'p99.9': 4 });
    },
  } as unknown as BenchEnv;
}

test('the one-connection latency scenario keeps one connection whatever --connections says; the others take it', async () => {
  const list = scenarios([1000]);
  const one = list.find((s) => s.id === 'latency-http1-1conn')!;
  const other = list.find((s) => s.id === 'latency-http1-1000')!;
  assert.equal(one.rate, 200);
  assert.match(one.tool(32, 1), /--rate 200 --connections 1 --warmup 1 /);
  assert.match(other.tool(32, 1), /--rate 1000 --connections 32 --warmup 1 /);
  const argvs: string[][] = [];
  const env = openLoopEnv(argvs, 600);
  const m = await one.measure({ env, address: '10.0.0.1:11000', seconds: 3, connections: 32, warmupS: 1 });
  await other.measure({ env, address: '10.0.0.1:11000', seconds: 3, connections: 32, warmupS: 1 });
  const conns = argvs.map((a) => a[a.indexOf('--connections') + 1]);
  assert.deepEqual(conns, ['1', '32']);
  assert.equal(m.value, 200);
  assert.deepEqual(m.latencyMs, { p50: 1, p90: 2, p99: 3, 'p99.9': 4 });
});

test('a latency scenario warms up on its own connections only when the run has a warm-up (not in --quick or with --warmup 0)', async () => {
  const def = scenarios([1000]).find((s) => s.id === 'latency-http1-1000')!;
  const argvs: string[][] = [];
  const env = openLoopEnv(argvs, 3000);
  for (const warmupS of [2, 0]) await def.measure({ env, address: '10.0.0.1:11000', seconds: 3, connections: 32, warmupS });
  assert.deepEqual(argvs.map((a) => a[a.indexOf('--warmup') + 1]), ['1', '0']);
  assert.match(def.tool(32, 0), /--warmup 0 /);
});

test('bad numbers, unknown flags and unknown scenarios exit 2 with a message', async () => {
  for (const [args, re] of [
    [['--runs', 'zero'], /--runs "zero" is not a positive number/],
    [['--duration=-1'], /--duration "-1"/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--scenario', 'nope'], /unknown scenario\(s\) nope; known: http1-small/],
    [['--proxy-env', 'PATH=/x'], /--proxy-env "PATH=\/x": expected NAME=VALUE with NAME a LINNET_PROXY_\* variable or NODE_OPTIONS/],
    [['--proxy-env', 'LINNET_PROXY_WORKERS'], /--proxy-env "LINNET_PROXY_WORKERS": expected NAME=VALUE/],
    [['--proxy-env', 'LINNET_PROXY_WORKERS=2'], /the scenarios set the workers themselves/],
  ] as const) {
    const r = await capture([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
  }
});

test('--compare refuses a missing file or a file that is not bench results, before building anything', async () => {
  const missing = await capture(['--compare', '/nonexistent/results.json']);
  assert.equal(missing.thrown?.code, 'LINNET_BENCH_BAD_ARGS');
  const dir = mkdtempSync(join(tmpdir(), 'bench-cmd-'));
  writeFileSync(join(dir, 'x.json'), JSON.stringify({ schema: 'other/1', scenarios: [] }));
  const wrong = await capture(['--compare', join(dir, 'x.json')]);
  assert.equal(wrong.thrown?.code, 'LINNET_BENCH_BAD_RESULTS');
});
