/**
 * Fuzz target for `linnet init`'s flag parsing and the iptables planner (init/options.ts,
 * init/plan.ts, init/ruleset.ts). One input is an argument vector, one argument per line. That
 * every planned text passes the real `iptables-restore --test` is checked by
 * test/fuzz-iptables-restore.test.ts (root, in a namespace of its own) on inputs from this
 * target's corpus and mutator; here the properties that need no binary.
 */
import { LinnetError } from '../../core/errors';
import { parseInitArgs, type InitOptions } from '../../init/options';
import { MULTIPORT_LIMIT, OUR_CHAINS, planApply, planCleanup, verifyApplied, verifyCleaned, type Family, type RestorePlan } from '../../init/plan';
import { EMPTY_NAT, parseNatSave, type NatTable } from '../../init/ruleset';
import { describeError, violations, type Fail } from '../target';

export const name = 'init-options';
export const properties = [
  'typed-errors: parseInitArgs returns options or throws ConfigError / InitError LINNET_INIT_USAGE',
  'restore-grammar: every planned line is *nat, a chain declaration, -A/-D with printable words, -X or COMMIT',
  'multiport-limit: no rule names more than 15 port slots',
  'read-back: the applied table, printed as iptables-save would and parsed again, is what the plan says (verifyApplied is empty)',
  'idempotent: planning again on the applied table adds and removes no jump and plans the same chain rules',
  'cleanup-complete: clean-up on the applied table leaves nothing of ours (verifyCleaned is empty)',
];
const fail: Fail = violations(name);

export function argsOf(input: Buffer): string[] {
  const text = input.toString('latin1');
  return text === '' ? [] : text.split('\n');
}

/** Options → the plan for each family it sets up (always v4, v6 with --ipv6). */
export function plansFor(o: InitOptions): RestorePlan[] {
  const fams: Family[] = o.ipv6 ? [4, 6] : [4];
  return fams.map((f) => planApply(o, f, EMPTY_NAT));
}

const LINE = /^(\*nat|COMMIT|:[A-Z_]+ - \[0:0\]|-X [A-Z_]+|-[AD] [A-Z_]+( [\x21-\x7e]+| "[\x20-\x7e]*")+)$/;

/** The table iptables-save would print after applying `plan` to an empty nat table. */
function applied(plan: RestorePlan): NatTable {
  const lines = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]'];
  for (const c of OUR_CHAINS) lines.push(`:${c} - [0:0]`);
  for (const r of plan.added) if (r.chain === 'PREROUTING' || r.chain === 'OUTPUT') lines.push(`-A ${r.chain} ${r.spec}`);
  for (const r of plan.chainRules) lines.push(`-A ${r.chain} ${r.spec}`);
  lines.push('COMMIT');
  return parseNatSave(lines.join('\n') + '\n');
}

function portSlots(spec: string): number {
  const m = /--(?:dports|sports|ports) (\S+)/.exec(spec);
  if (!m) return 0;
  return m[1]!.split(',').reduce((n, p) => n + (p.includes(':') ? 2 : 1), 0);
}

export function run(input: Buffer): void {
  let o: InitOptions;
  try {
    o = parseInitArgs(argsOf(input));
  } catch (e) {
    if (e instanceof LinnetError && (e.code === 'LINNET_CONFIG_INVALID' || e.code === 'LINNET_INIT_USAGE')) return;
    return fail('typed-errors', `parseInitArgs threw ${describeError(e)}`, e);
  }
  for (const plan of plansFor(o)) {
    for (const line of plan.text.split('\n')) {
      if (line !== '' && !LINE.test(line)) fail('restore-grammar', `v${plan.family} line ${JSON.stringify(line)}`);
    }
    for (const r of plan.chainRules) if (portSlots(r.spec) > MULTIPORT_LIMIT) fail('multiport-limit', r.spec);
    const after = applied(plan);
    const problems = verifyApplied(plan, after);
    if (problems.length) fail('read-back', problems.join('; '));
    const again = planApply(o, plan.family, after);
    if (again.added.length || again.removed.length) fail('idempotent', `second plan adds ${again.added.length}, removes ${again.removed.length} jumps`);
    if (again.chainRules.map((r) => r.spec).join('\n') !== plan.chainRules.map((r) => r.spec).join('\n')) fail('idempotent', 'second plan differs');
    const clean = planCleanup(plan.family, after);
    const left: NatTable = {
      chains: new Set([...after.chains].filter((c) => !clean.deletedChains.includes(c))),
      rules: after.rules.filter((r) => !OUR_CHAINS.includes(r.chain) && !clean.removed.some((x) => x.chain === r.chain && x.spec === r.spec)),
    };
    const cleanProblems = verifyCleaned(left);
    if (cleanProblems.length) fail('cleanup-complete', cleanProblems.join('; '));
  }
}

export const dictionary = [
  '--incoming-proxy-port\n', '--outgoing-proxy-port\n', '--proxy-uid\n', '--proxy-gid\n', '--inbound-ports-to-ignore\n',
  '--outbound-ports-to-ignore\n', '--subnets-to-ignore\n', '--ipv6\n', '--iptables-mode\n', 'nft', 'legacy', '--dry-run', '--cleanup',
  '\n', ',', '-', '65535', '0', '4190', '4191', '10.0.0.0/8', '::1', 'fd00::/8', '/128', '/0', '1-65535', ' ', '"', '\\', '=',
  '4294967294', '4294967295', 'fe80::1%eth0', '::ffff:1.2.3.4',
];

const target = { name, properties, run, dictionary, maxInputBytes: 8 * 1024 };
export default target;
