import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, flameGraphSvg, foldPerfScript, selfShares } from './flamegraph';

// Three samples of the proxy (pid 100) and one of another process, as `perf script -F
// comm,pid,tid,ip,sym,dso` prints them with the proxy's --perf-basic-prof map.
const PERF = [
  'node 100/101 ',
  '\tffffffff8140f070 tcp_sendmsg ([kernel.kallsyms])',
  '\t    7f5b6c003ee3 JS:*writeHead /root/c/dist/proxy/protocol/h1/exchange.js:40:12 (/tmp/perf-100.map)',
  '\t    7f5b6c003c9b JS:^onRead /root/c/dist/proxy/transport/direct-read.js:9:3 (/tmp/perf-100.map)',
  '\t          8e4051 uv__io_poll (/usr/bin/node)',
  '',
  'node 100/101 ',
  '\t    7f5b6c003ee4 JS:~writeHead /root/c/dist/proxy/protocol/h1/exchange.js:40:12 (/tmp/perf-100.map)',
  '\t    7f5b6c003c9c JS:*onRead /root/c/dist/proxy/transport/direct-read.js:9:3 (/tmp/perf-100.map)',
  '\t          8e4052 uv__io_poll (/usr/bin/node)',
  '',
  'node 100/100 ',
  '\t    7f5b6c00a000 JS:*emit node:events:517:28 (/tmp/perf-100.map)',
  '\t          1234aa Builtins_JSEntry (/usr/bin/node)',
  '\t           8e057 __libc_start_call_main (/usr/lib/x86_64-linux-gnu/libc.so.6)',
  '',
  'nginx 200/200 ',
  '\tffffffff8140f070 tcp_sendmsg ([kernel.kallsyms])',
  '',
].join('\n');

test('perf samples fold into root-first stacks per process; a function\'s tiers merge', () => {
  const f = foldPerfScript(PERF, { pids: new Set([100]), rootOf: () => 'proxy' });
  assert.equal(f.samples, 3);
  const stacks = [...f.stacks].map(([k, n]) => [k.split(';').map((id) => f.frames.get(id)!.name), n]);
  assert.deepEqual(stacks, [
    [['proxy', 'uv__io_poll', 'onRead transport/direct-read.js', 'writeHead h1/exchange.js', 'tcp_sendmsg'], 1],
    [['proxy', 'uv__io_poll', 'onRead transport/direct-read.js', 'writeHead h1/exchange.js'], 1],
    [['proxy', '__libc_start_call_main', 'Builtins_JSEntry', 'emit node:events'], 1],
  ]);
  // Without a filter every process is kept, under its comm and pid.
  const all = foldPerfScript(PERF);
  assert.equal(all.samples, 4);
  assert.ok([...all.stacks.keys()].some((k) => k.startsWith('nginx 200;')));
});

test('frames are told apart by where their code lives', () => {
  assert.deepEqual(classify('tcp_sendmsg', '[kernel.kallsyms]'), { name: 'tcp_sendmsg', kind: 'kernel' });
  assert.equal(classify('JS:*scan /x/dist/proxy/protocol/h1/head.js:1:1', '/tmp/perf-9.map').kind, 'ours');
  assert.equal(classify('JS:^readableAddChunk node:internal/streams/readable:291:26', '/tmp/perf-9.map').kind, 'node-js');
  assert.equal(classify('JS:*encode /x/node_modules/hdr-histogram-js/dist/a.js:3:4', '/tmp/perf-9.map').kind, 'deps-js');
  assert.deepEqual(classify('Builtin:LoadIC_Megamorphic', '/tmp/perf-9.map'), { name: 'LoadIC_Megamorphic', kind: 'v8-builtin' });
  assert.equal(classify('Builtins_CallFunction_ReceiverIsAny', '/usr/bin/node').kind, 'v8-builtin');
  assert.equal(classify('node::StreamBase::WriteBuffer', '/usr/bin/node').kind, 'native');
  assert.deepEqual(classify('[unknown]', '/usr/lib/x86_64-linux-gnu/libc.so.6'), { name: '[libc.so.6]', kind: 'libc' });
  // A name with spaces keeps them; the location is the last word.
  assert.equal(classify('JS:*get body /x/dist/proxy/a/b.js:1:2', '/tmp/perf-9.map').name, 'get body a/b.js');
});

test('self time goes to the kind of each sample\'s leaf frame', () => {
  const s = selfShares(foldPerfScript(PERF, { pids: new Set([100]) }));
  assert.ok(Math.abs(s.kernel - 1 / 3) < 1e-9 && Math.abs(s.ours - 1 / 3) < 1e-9 && Math.abs(s['node-js'] - 1 / 3) < 1e-9);
  assert.ok(Math.abs(Object.values(s).reduce((a, b) => a + b, 0) - 1) < 1e-9);
});

test('the graph draws each frame as wide as its samples, escapes names, and says how many samples', () => {
  const text = PERF.replace('tcp_sendmsg ([kernel', 'tcp<send>&msg ([kernel');
  const svg = flameGraphSvg(foldPerfScript(text, { pids: new Set([100]), rootOf: () => 'proxy' }), 'One hop', 'at 1,000 req/s');
  const widths = (name: string) => [...svg.matchAll(new RegExp(`<title>${name} \\((\\d+) samples[^<]*</title><rect [^>]*width="([\\d.]+)"`, 'g'))].map((m) => [Number(m[1]), Number(m[2])]);
  assert.deepEqual(widths('proxy'), [[3, 1200]]);
  assert.deepEqual(widths('uv__io_poll'), [[2, 800]]);
  assert.deepEqual(widths('tcp&lt;send&gt;&amp;msg'), [[1, 400]]);
  assert.match(svg, /at 1,000 req\/s · 3 samples · self time by kind below/);
  assert.match(svg, /kernel 33\.3%/);
  assert.doesNotMatch(svg, /tcp<send>/);
});

test('input that is not perf script\'s, or has no sample of the chosen processes, is refused with what to do', () => {
  assert.throws(() => foldPerfScript(PERF, { pids: new Set([7]) }), (e: Error & { code?: string }) => e.code === 'LINNET_BENCH_PARSE' && /no samples/.test(e.message));
  assert.throws(() => foldPerfScript('node 1/1\n\tnot a frame\n'), /a frame "not a frame" is not "<ip> <symbol> \(<dso>\)"/);
  assert.throws(() => foldPerfScript('just words\n'), /a sample header "just words" is not "comm pid\/tid"/);
});
