/**
 * `linnet init` for real: the CLI run with `ip netns exec` in fresh network namespaces, for both
 * iptables backends, checked with iptables-save, iptables-restore --test, and real connections
 * (outbound redirected to a listener on :4140, ignored ports and the proxy's uid not; inbound to
 * :4143, admin port not).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseInitArgs } from '../init/options';
import { planApply, renderRule } from '../init/plan';
import { EMPTY_NAT } from '../init/ruleset';
import { linnetBinForOtherUsers } from './pods';

const BIN = join(__dirname, '..', '..', 'bin', 'linnet');
const MODES = ['nft', 'legacy'] as const;
type Mode = (typeof MODES)[number];

function run(cmd: string[], input?: string) {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { input, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string[], input?: string): string {
  const r = run(cmd, input);
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} → ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root: creates network namespaces and changes their iptables';
  if (run(['ip', '-V']).status !== 0) return 'needs iproute2 (apt-get install iproute2)';
  for (const m of MODES) {
    if (run([`iptables-${m}-save`, '--version']).status !== 0 && run(['which', `iptables-${m}-save`]).status !== 0) {
      return `needs iptables-${m}-save (apt-get install iptables)`;
    }
  }
  return false;
}

/** Runs fn with fresh namespaces (unique names) that are deleted afterwards, even on failure. */
async function withNetns<T>(count: number, fn: (...names: string[]) => Promise<T> | T): Promise<T> {
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `lnin${randomBytes(2).toString('hex')}${i}`;
      must(['ip', 'netns', 'add', name]);
      names.push(name);
      must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    }
    return await fn(...names);
  } finally {
    for (const n of names) run(['ip', 'netns', 'del', n]);
  }
}

const nsExec = (ns: string, cmd: string[]) => ['ip', 'netns', 'exec', ns, ...cmd];

function linnetInit(ns: string, args: string[]) {
  return run(nsExec(ns, [process.execPath, BIN, 'init', ...args]));
}

function save(ns: string, mode: Mode, family: 4 | 6 = 4): string {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  return must(nsExec(ns, [`${base}-${mode}-save`, '-t', 'nat']));
}

/** The table without the timestamp comments and packet counters. */
function normal(saved: string): string {
  return saved
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');
}

function ruleLines(saved: string): string[] {
  return saved.split('\n').filter((l) => l.startsWith('-A '));
}

function count(lines: string[], line: string): number {
  return lines.filter((l) => l === line).length;
}

/** The rules the planner wants for these flags, as `-A` lines (what iptables-save must show). */
function planned(args: string[], family: 4 | 6 = 4): string[] {
  const p = planApply(parseInitArgs(args), family, EMPTY_NAT);
  return [...p.chainRules, ...p.added].map((r) => renderRule('-A', r));
}

/** Splits dry-run output into its per-family restore inputs. */
function dryRunPlans(out: string): Map<4 | 6, string> {
  const plans = new Map<4 | 6, string>();
  for (const chunk of out.split(/^(?=# IPv[46] nat table)/m)) {
    const m = /^# IPv([46])/.exec(chunk);
    if (m) plans.set(Number(m[1]) as 4 | 6, chunk);
  }
  return plans;
}

function restoreTest(ns: string, mode: Mode, family: 4 | 6, text: string) {
  const bin = `${family === 4 ? 'iptables' : 'ip6tables'}-${mode}-restore`;
  return run(nsExec(ns, [bin, '--noflush', '--test']), text);
}

/** Rules that belong to someone else; clean-up must leave them. */
function addForeignRules(ns: string, mode: Mode): void {
  must(nsExec(ns, [`iptables-${mode}`, '-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.1/32', '-p', 'tcp', '-j', 'DNAT', '--to-destination', '192.0.2.2']));
  must(nsExec(ns, [`iptables-${mode}`, '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.0.0.0/8', '-j', 'MASQUERADE']));
}

const skip = skipReason();

describe('linnet init in a network namespace', { skip }, () => {
  for (const mode of MODES) {
    describe(`--iptables-mode ${mode}`, () => {
      const args = ['--iptables-mode', mode, '--inbound-ports-to-ignore', '22,8000-8100', '--outbound-ports-to-ignore', '25,3306', '--subnets-to-ignore', '10.96.0.0/12', '--proxy-gid', '2103'];

      test('applies exactly the planned rules; applying twice leaves one copy of each', () =>
        withNetns(1, (ns) => {
          const first = linnetInit(ns, args);
          assert.equal(first.status, 0, first.stderr);
          assert.match(first.stderr, /IPv4 \(iptables-\w+-restore\): 8 rule\(s\) in our chains, 2 jump\(s\) added/);
          const after1 = save(ns, mode);
          const want = planned(args);
          assert.equal(want.length, 10);
          // Not only self-consistent: pin a few lines of what the kernel now holds.
          for (const line of [
            '-A PREROUTING -m comment --comment "proxy-init/install-proxy-init-prerouting" -j PROXY_INIT_REDIRECT',
            '-A OUTPUT -m comment --comment "proxy-init/install-proxy-init-output" -j PROXY_INIT_OUTPUT',
            '-A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191,22,8000:8100 -m comment --comment "proxy-init/ignore-port-4190,4191,22,8000:8100" -j RETURN',
            '-A PROXY_INIT_OUTPUT -d 10.96.0.0/12 -m comment --comment "proxy-init/ignore-subnet-10.96.0.0/12" -j RETURN',
            '-A PROXY_INIT_OUTPUT -p tcp -m comment --comment "proxy-init/redirect-all-outgoing-to-proxy-port" -j REDIRECT --to-ports 4140',
          ]) {
            assert.ok(want.includes(line), line);
          }
          const rules1 = ruleLines(after1);
          for (const line of want) assert.equal(count(rules1, line), 1, `once: ${line}\n${after1}`);
          assert.equal(rules1.length, want.length, after1);

          const second = linnetInit(ns, args);
          assert.equal(second.status, 0, second.stderr);
          assert.match(second.stderr, /0 jump\(s\) added, 0 duplicate\/stale jump\(s\) removed/);
          const after2 = save(ns, mode);
          assert.equal(normal(after2), normal(after1));
          for (const line of want) assert.equal(count(ruleLines(after2), line), 1, `still once: ${line}`);
        }));

      test('a second run with other flags replaces our rules, still one jump each', () =>
        withNetns(1, (ns) => {
          assert.equal(linnetInit(ns, args).status, 0);
          const other = ['--iptables-mode', mode, '--outgoing-proxy-port', '5140'];
          const r = linnetInit(ns, other);
          assert.equal(r.status, 0, r.stderr);
          assert.deepEqual(ruleLines(save(ns, mode)).sort(), planned(other).sort());
        }));

      test('--cleanup leaves the nat table as it was before (others\' rules kept)', () =>
        withNetns(1, (ns) => {
          addForeignRules(ns, mode);
          const before = normal(save(ns, mode));
          assert.equal(linnetInit(ns, args).status, 0);
          assert.equal(linnetInit(ns, args).status, 0);
          assert.notEqual(normal(save(ns, mode)), before);
          const clean = linnetInit(ns, ['--iptables-mode', mode, '--cleanup']);
          assert.equal(clean.status, 0, clean.stderr);
          assert.match(clean.stderr, /removed 2 jump\(s\) and chain\(s\) PROXY_INIT_REDIRECT, PROXY_INIT_OUTPUT/);
          assert.equal(normal(save(ns, mode)), before);
          // Cleaning what is already clean is a no-op, not an error.
          const again = linnetInit(ns, ['--iptables-mode', mode, '--cleanup']);
          assert.equal(again.status, 0, again.stderr);
          assert.match(again.stderr, /nothing of ours to clean up/);
          assert.equal(normal(save(ns, mode)), before);
        }));

      test('--dry-run prints the plan and changes nothing', () =>
        withNetns(1, (ns) => {
          addForeignRules(ns, mode);
          const before = normal(save(ns, mode));
          const dry = linnetInit(ns, [...args, '--dry-run']);
          assert.equal(dry.status, 0, dry.stderr);
          assert.equal(normal(save(ns, mode)), before);
          const plan = dryRunPlans(dry.stdout).get(4)!;
          assert.ok(plan.startsWith(`# IPv4 nat table, input for: iptables-${mode}-restore --noflush\n*nat\n`), plan);
          for (const line of planned(args)) assert.equal(count(plan.split('\n'), line), 1, line);
          // With rules in place the dry run of a clean-up names them, and still changes nothing.
          assert.equal(linnetInit(ns, args).status, 0);
          const applied = normal(save(ns, mode));
          const dryClean = linnetInit(ns, ['--iptables-mode', mode, '--cleanup', '--dry-run']);
          assert.equal(dryClean.status, 0, dryClean.stderr);
          assert.match(dryClean.stdout, /^-X PROXY_INIT_OUTPUT$/m);
          assert.equal(normal(save(ns, mode)), applied);
        }));

      test('every plan passes iptables-restore --test (fresh, applied, clean-up, IPv6)', () =>
        withNetns(1, (ns) => {
          const v6args = [...args, '--ipv6', '--subnets-to-ignore', '10.96.0.0/12,fd00::/8'];
          const check = (flags: string[], families: (4 | 6)[]) => {
            const dry = linnetInit(ns, [...flags, '--dry-run']);
            assert.equal(dry.status, 0, dry.stderr);
            const plans = dryRunPlans(dry.stdout);
            assert.deepEqual([...plans.keys()], families);
            for (const [family, text] of plans) {
              const t = restoreTest(ns, mode, family, text);
              assert.equal(t.status, 0, `IPv${family} ${flags.join(' ')}:\n${text}\n${t.stderr}`);
            }
          };
          check(v6args, [4, 6]); // fresh table
          assert.equal(linnetInit(ns, v6args).status, 0);
          check(v6args, [4, 6]); // re-apply over existing rules
          check(['--iptables-mode', mode, '--ipv6', '--cleanup'], [4, 6]);
          // More than 15 ports: split so that each rule is accepted.
          const many = Array.from({ length: 20 }, (_, i) => String(7000 + i)).concat(['8000-8100', '9000-9100']).join(',');
          check(['--iptables-mode', mode, '--inbound-ports-to-ignore', many, '--outbound-ports-to-ignore', many], [4]);
          // The same 16 ports in one rule are rejected by --test, so the checks above can fail.
          const ports16 = Array.from({ length: 16 }, (_, i) => String(7000 + i)).join(',');
          const tooMany = `*nat\n-A PREROUTING -p tcp -m multiport --dports ${ports16} -j RETURN\nCOMMIT\n`;
          assert.notEqual(restoreTest(ns, mode, 4, tooMany).status, 0);
        }));

      test('--ipv6 applies ip6tables too, and --cleanup --ipv6 removes both', () =>
        withNetns(1, (ns) => {
          const v6args = ['--iptables-mode', mode, '--ipv6', '--subnets-to-ignore', '10.96.0.0/12,fd00::/8'];
          const before4 = normal(save(ns, mode, 4));
          const before6 = normal(save(ns, mode, 6));
          const r = linnetInit(ns, v6args);
          assert.equal(r.status, 0, r.stderr);
          const rules6 = ruleLines(save(ns, mode, 6));
          assert.deepEqual(rules6.sort(), planned(v6args, 6).sort());
          assert.ok(rules6.includes('-A PROXY_INIT_OUTPUT -d fd00::/8 -m comment --comment "proxy-init/ignore-subnet-fd00::/8" -j RETURN'));
          assert.ok(!rules6.some((l) => l.includes('10.96.0.0')));
          assert.ok(ruleLines(save(ns, mode, 4)).some((l) => l.includes('-d 10.96.0.0/12')));
          assert.equal(linnetInit(ns, v6args).status, 0);
          assert.equal(ruleLines(save(ns, mode, 6)).length, rules6.length);
          const c = linnetInit(ns, ['--iptables-mode', mode, '--ipv6', '--cleanup']);
          assert.equal(c.status, 0, c.stderr);
          assert.equal(normal(save(ns, mode, 4)), before4);
          assert.equal(normal(save(ns, mode, 6)), before6);
        }));

      test('connections: outbound lands on :4140 unless ignored or from the proxy uid; inbound on :4143 unless ignored', () =>
        withNetns(2, (pod, peer) => behaviour(pod, peer, mode)));
    });
  }

  test('errors: bad flag, usage, not permitted, binaries missing; --help', () =>
    withNetns(1, (ns) => {
      const bad = linnetInit(ns, ['--outbound-ports-to-ignore', '25,x']);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /LINNET_CONFIG_INVALID: --outbound-ports-to-ignore="25,x" is not valid/);
      const unknown = linnetInit(ns, ['--bogus']);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /LINNET_INIT_USAGE/);
      // Without root the kernel refuses; the error says what to do.
      // (As uid 65534 it runs the CLI from where that uid can read it: the checkout may be closed to it.)
      const otherBin = linnetBinForOtherUsers();
      const denied = run(nsExec(ns, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, otherBin, 'init', '--iptables-mode', 'nft']));
      assert.equal(denied.status, 1, denied.stderr);
      assert.match(denied.stderr, /LINNET_INIT_NOT_PERMITTED: .*\(run as root or with the NET_ADMIN capability/);
      // A dry run still previews the plan where iptables cannot be read.
      const dryDenied = run(nsExec(ns, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, otherBin, 'init', '--dry-run']));
      assert.equal(dryDenied.status, 0, dryDenied.stderr);
      assert.match(dryDenied.stderr, /cannot read the current IPv4 nat table .*planning against an empty one/);
      assert.deepEqual(ruleLines(dryDenied.stdout), planned([]));
      // Binaries not installed (an empty PATH stands in for a slim image without iptables).
      const missing = run(nsExec(ns, ['/usr/bin/env', 'PATH=/nonexistent', process.execPath, BIN, 'init', '--iptables-mode', 'legacy']));
      assert.equal(missing.status, 1, missing.stderr);
      assert.match(missing.stderr, /LINNET_INIT_IPTABLES_MISSING: iptables-legacy-save is not installed .*\(apt-get install iptables/);
      const help = run([process.execPath, BIN, 'init', '--help']);
      assert.equal(help.status, 0);
      for (const flag of ['--incoming-proxy-port', '--outgoing-proxy-port', '--proxy-uid', '--proxy-gid', '--inbound-ports-to-ignore', '--outbound-ports-to-ignore', '--subnets-to-ignore', '--ipv6', '--iptables-mode', '--dry-run', '--cleanup']) {
        assert.ok(help.stdout.includes(flag), `--help documents ${flag}`);
      }
    }));
});

// ---- behaviour: real listeners and clients inside the namespaces ----

const SERVER = `
const net = require('node:net');
const [host, port, banner] = process.argv.slice(1);
net.createServer((s) => s.end(banner + '\\n')).listen(Number(port), host, () => console.log('ready'));
`;

const CLIENT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
let out = '';
const s = net.connect(Number(port), host);
s.setEncoding('utf8');
s.on('data', (d) => (out += d));
s.on('end', () => { console.log(out.trim()); process.exit(0); });
s.on('error', (e) => { console.log('ERR:' + e.code); process.exit(0); });
setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 3000);
`;

async function startServer(ns: string, host: string, port: number, banner: string, children: ChildProcess[]): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, host, String(port), banner], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`server ${banner} exited ${code}: ${err}`)));
  });
}

function connect(ns: string, host: string, port: number, asUid?: number): string {
  const prefix = asUid === undefined ? [] : ['setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups'];
  return must(nsExec(ns, [...prefix, process.execPath, '-e', CLIENT, host, String(port)])).trim();
}

async function behaviour(pod: string, peer: string, mode: Mode): Promise<void> {
  const net = 10 + (randomBytes(1)[0]! % 200);
  const podIp = `10.77.${net}.1`;
  const peerIp = `10.77.${net}.2`;
  must(['ip', 'link', 'add', 'eth0', 'netns', pod, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer]);
  must(['ip', '-n', pod, 'addr', 'add', `${podIp}/24`, 'dev', 'eth0']);
  must(['ip', '-n', peer, 'addr', 'add', `${peerIp}/24`, 'dev', 'eth0']);
  must(['ip', '-n', pod, 'link', 'set', 'eth0', 'up']);
  must(['ip', '-n', peer, 'link', 'set', 'eth0', 'up']);

  const children: ChildProcess[] = [];
  try {
    await Promise.all([
      // In the pod: the two proxy ports, the app, the admin port.
      startServer(pod, '127.0.0.1', 4140, 'outbound-proxy', children),
      startServer(pod, '0.0.0.0', 4143, 'inbound-proxy', children),
      startServer(pod, '0.0.0.0', 8080, 'pod-app', children),
      startServer(pod, '0.0.0.0', 4191, 'pod-admin', children),
      // Outside the pod: the real destinations.
      startServer(peer, peerIp, 8080, 'peer-8080', children),
      startServer(peer, peerIp, 3306, 'peer-3306', children),
    ]);
    // Before init nothing is redirected: the checks below can fail.
    assert.equal(connect(pod, peerIp, 8080), 'peer-8080');
    assert.equal(connect(peer, podIp, 8080), 'pod-app');

    const r = linnetInit(pod, ['--iptables-mode', mode, '--outbound-ports-to-ignore', '3306']);
    assert.equal(r.status, 0, r.stderr);

    assert.equal(connect(pod, peerIp, 8080), 'outbound-proxy', 'outbound to a non-ignored port lands on :4140');
    assert.equal(connect(pod, peerIp, 3306), 'peer-3306', 'outbound to an ignored port goes out untouched');
    assert.equal(connect(pod, peerIp, 8080, 2102), 'peer-8080', 'the proxy uid is not redirected');
    assert.equal(connect(pod, '127.0.0.1', 8080), 'pod-app', 'loopback is not redirected');
    assert.equal(connect(peer, podIp, 8080), 'inbound-proxy', 'inbound lands on :4143');
    assert.equal(connect(peer, podIp, 4191), 'pod-admin', 'inbound to the admin port is not redirected');

    const c = linnetInit(pod, ['--iptables-mode', mode, '--cleanup']);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(connect(pod, peerIp, 8080), 'peer-8080', 'after --cleanup nothing is redirected');
    assert.equal(connect(peer, podIp, 8080), 'pod-app');
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  }
}
