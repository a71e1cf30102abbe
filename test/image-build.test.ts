/**
 * The image's build stage, run here without Docker (this machine has no engine): the sources
 * Dockerfile.proxy copies, compiled with tsconfig.build.json as its RUN step does, carry only what
 * runs (no tests, bench, fuzzers or local mesh runner), every file the final stage copies exists,
 * and the CLI in that tree runs the proxy, init and control commands and says the others are not
 * in this build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PROXY_NODE_OPTIONS } from '../core/proxy-node-options';

const ROOT = join(__dirname, '..', '..');

/** `COPY a b dest` lines of one stage (no --from), as [sources, dest]. */
function copies(stage: string): { sources: string[]; from?: string }[] {
  const out: { sources: string[]; from?: string }[] = [];
  for (const line of stage.split('\n')) {
    const m = /^COPY\s+(?:--from=(\S+)\s+)?(.+)$/.exec(line.trim());
    if (!m) continue;
    const words = m[2]!.split(/\s+/);
    out.push({ sources: words.slice(0, -1), from: m[1] });
  }
  return out;
}

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else out.push(p);
  }
  return out;
}

test('the image carries only what runs, and its CLI runs the proxy, init and the control plane', { timeout: 180_000 }, () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile.proxy'), 'utf8');
  const [, buildStage, finalStage] = dockerfile.split(/^FROM /m);
  assert.ok(buildStage && finalStage, 'two stages');
  // The image runs the proxy with the Node options every other launch uses.
  assert.match(finalStage, new RegExp(`^ENV NODE_OPTIONS=${PROXY_NODE_OPTIONS}$`, 'm'));
  const dir = mkdtempSync(join(tmpdir(), 'linnet-image-'));
  try {
    // The build context the stage copies; npm ci's node_modules and the addon it builds are
    // this checkout's (the same lockfile and sources).
    const sources = copies(buildStage).flatMap((c) => c.sources);
    for (const s of ['core', 'proxy', 'control', 'init', 'tsconfig.build.json']) assert.ok(sources.includes(s), `the build stage copies ${s}`);
    for (const s of ['test', 'bench', 'fuzz']) assert.ok(!sources.includes(s), `the build stage must not copy ${s}`);
    for (const s of sources) cpSync(join(ROOT, s), join(dir, s), { recursive: true, filter: (p) => !p.includes(`${join('native', 'build')}`) });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    cpSync(join(ROOT, 'proxy', 'transport', 'native', 'build'), join(dir, 'proxy', 'transport', 'native', 'build'), { recursive: true });

    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, encoding: 'utf8' });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);

    const built = files(join(dir, 'dist')).map((f) => relative(join(dir, 'dist'), f));
    assert.deepEqual([...new Set(built.map((f) => f.split('/')[0]))].sort(), ['control', 'core', 'init', 'proxy']);
    assert.deepEqual(built.filter((f) => f.endsWith('.test.js')), [], 'no test in the image');
    assert.deepEqual(built.filter((f) => f.startsWith('control/local/')), [], 'no local mesh runner in the image');
    assert.ok(built.includes('proxy/runtime/worker.js') && built.includes('core/cli.js'));

    // Everything the final stage takes from the build stage is there.
    // (A source with * matches by name in its folder, as COPY does.)
    const matches = (src: string): string[] => {
      const rel = src.replace(/^\/linnet\//, '');
      if (!rel.includes('*')) return existsSync(join(dir, rel)) ? [rel] : [];
      const folder = rel.slice(0, rel.lastIndexOf('/'));
      const re = new RegExp(`^${rel.slice(rel.lastIndexOf('/') + 1).replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
      return existsSync(join(dir, folder)) ? readdirSync(join(dir, folder)).filter((f) => re.test(f)).map((f) => `${folder}/${f}`) : [];
    };
    const copied = new Set<string>();
    for (const c of copies(finalStage).filter((x) => x.from === 'build')) {
      for (const s of c.sources) {
        const m = matches(s);
        assert.ok(m.length > 0, `${s} (copied into the image) was not built`);
        for (const f of m) copied.add(f);
      }
    }
    // Every .proto of the contract reaches the image (inbound.proto once did not).
    const protos = readdirSync(join(dir, 'core', 'api')).filter((f) => f.endsWith('.proto'));
    assert.ok(protos.length >= 3);
    for (const f of protos) assert.ok(copied.has(`core/api/${f}`), `core/api/${f} is not copied into the image`);

    const cli = (...args: string[]) => spawnSync(process.execPath, [join(dir, 'bin', 'linnet'), ...args], { encoding: 'utf8', cwd: dir });
    const help = cli('--help');
    assert.equal(help.status, 0, help.stderr);
    for (const c of ['proxy', 'init', 'control', 'inject', 'install', 'identity']) assert.match(help.stdout, new RegExp(`^  ${c}\\s+(?!\\(unavailable)`, 'm'), help.stdout);
    for (const c of ['demo', 'bench', 'fuzz']) assert.match(help.stdout, new RegExp(`^  ${c}\\s+\\(unavailable in this build\\)`, 'm'), help.stdout);
    assert.equal(cli('proxy', '--help').status, 0);
    assert.equal(cli('control', '--help').status, 0);
    const init = cli('init', '--dry-run');
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /PROXY_INIT_REDIRECT/);
    // The .proto contract is loaded from the image's core/api, as the proxy's clients do.
    const proto = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(join(dir, 'dist', 'core', 'api', 'destination.js'))}).destinationProtoPath())`], { encoding: 'utf8' });
    assert.equal(proto.stdout.trim(), join(dir, 'core', 'api', 'destination.proto'), proto.stderr);
    assert.ok(statSync(join(dir, 'proxy', 'transport', 'native', 'build', 'Release', 'linnet_native.node')).size > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
