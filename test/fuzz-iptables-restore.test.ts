/**
 * The init-options fuzz target's last property: every plan the planner makes from fuzzed flags
 * passes the real `iptables-restore --noflush --test` (nft and legacy; ip6tables for IPv6
 * plans), run inside a fresh network namespace of this test's own. Inputs come from the
 * target's seed corpus through the same fast-check mutator the fuzzer uses (fixed seed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { corpusDir, readCorpus } from '../fuzz/corpus';
import { mutantArbitrary } from '../fuzz/mutate';
import { argsOf, dictionary, plansFor } from '../fuzz/targets/init-options';
import { parseInitArgs } from '../init/options';
import { rootSkipReason } from './pods';

function toolsMissing(): string | undefined {
  for (const t of ['iptables-nft-restore', 'iptables-legacy-restore', 'ip6tables-nft-restore', 'ip6tables-legacy-restore']) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t}`;
  }
  return undefined;
}
const skip = rootSkipReason() ?? toolsMissing();

test('every planned restore text from 400 fuzzed and 150 generated flag sets passes iptables-restore --test (nft, legacy, v4, v6)', { skip, timeout: 300_000 }, () => {
  const corpus = readCorpus(corpusDir('init-options')).map((f) => f.bytes);
  const arb = mutantArbitrary({ corpus, dictionary: dictionary.map((d) => Buffer.from(d, 'latin1')), maxBytes: 4096 });
  const plans = new Map<string, 4 | 6>();
  let accepted = 0;
  for (const m of fc.sample(arb, { numRuns: 400, seed: 20261122 })) {
    let o;
    try {
      o = parseInitArgs(argsOf(m.bytes));
    } catch {
      continue;
    }
    accepted++;
    for (const p of plansFor(o)) plans.set(p.text, p.family);
  }
  // And well-formed flag sets with many ports and subnets, so the multiport split and CIDR
  // normalisation are exercised (byte mutation mostly yields flags the parser refuses).
  const port = fc.integer({ min: 1, max: 65535 });
  const range = fc.oneof(port.map(String), fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`));
  const ports = fc.array(range, { minLength: 1, maxLength: 40 }).map((a) => a.join(','));
  const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`);
  const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`);
  const flags = fc.record({
    inbound: fc.option(ports, { nil: undefined }),
    outbound: fc.option(ports, { nil: undefined }),
    subnets: fc.option(fc.array(fc.oneof(v4, v6), { minLength: 1, maxLength: 8 }), { nil: undefined }),
    gid: fc.option(fc.integer({ min: 0, max: 4294967294 }), { nil: undefined }),
    uid: fc.integer({ min: 0, max: 4294967294 }),
  });
  for (const f of fc.sample(flags, { numRuns: 150, seed: 7 })) {
    const args = ['--proxy-uid', String(f.uid)];
    if (f.inbound) args.push('--inbound-ports-to-ignore', f.inbound);
    if (f.outbound) args.push('--outbound-ports-to-ignore', f.outbound);
    if (f.subnets) args.push('--subnets-to-ignore', f.subnets.join(','), '--ipv6');
    if (f.gid !== undefined) args.push('--proxy-gid', String(f.gid));
    accepted++;
    for (const p of plansFor(parseInitArgs(args))) plans.set(p.text, p.family);
  }
  // The seeds themselves are valid flag sets: they are in whatever the mutator drew.
  for (const s of corpus) for (const p of plansFor(parseInitArgs(argsOf(s)))) plans.set(p.text, p.family);
  assert.ok(plans.size >= 10, `only ${plans.size} distinct plans from ${accepted} accepted flag sets`);

  const ns = `lnfz${randomBytes(2).toString('hex')}`;
  assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  try {
    const failures: string[] = [];
    for (const [text, family] of plans) {
      for (const mode of ['nft', 'legacy']) {
        const bin = `${family === 6 ? 'ip6tables' : 'iptables'}-${mode}-restore`;
        const r = spawnSync('ip', ['netns', 'exec', ns, bin, '--noflush', '--test'], { input: text, encoding: 'utf8' });
        if (r.status !== 0) failures.push(`${bin}: ${r.stderr.trim().split('\n')[0]}\n${text}`);
      }
    }
    process.stdout.write(`# ${plans.size} distinct plans (from ${accepted} accepted flag sets: 400 fuzzed, 150 generated) checked with nft and legacy restore\n`);
    assert.deepEqual(failures.slice(0, 5), []);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});
