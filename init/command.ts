/**
 * `linnet init`: the init container. Parses the flags, reads the nat table of every family asked
 * for, plans, and then (unless --dry-run) applies each plan and reads the table back to check it.
 * All families are read and planned before any is changed, so a missing ip6tables stops the run
 * before the IPv4 table is touched.
 */
import type { Command } from '../core/command';
import { binaries, readNat, restore } from './apply';
import { InitError } from './errors';
import { parseInitArgs, USAGE } from './options';
import { planApply, planCleanup, renderRule, verifyApplied, verifyCleaned, type Family, type RestorePlan } from './plan';
import { EMPTY_NAT, type NatTable } from './ruleset';

function log(line: string): void {
  process.stderr.write(`linnet init: ${line}\n`);
}

function describePlan(plan: RestorePlan, bin: string, cleanup: boolean): string[] {
  const head = `IPv${plan.family} (${bin})`;
  if (cleanup) {
    return [
      `${head}: removed ${plan.removed.length} jump(s) and chain(s) ${plan.deletedChains.join(', ') || '(none)'}`,
      ...plan.removed.map((r) => `  ${renderRule('-D', r)}`),
    ];
  }
  return [
    `${head}: ${plan.chainRules.length} rule(s) in our chains, ${plan.added.length} jump(s) added, ${plan.removed.length} duplicate/stale jump(s) removed`,
    ...plan.removed.map((r) => `  ${renderRule('-D', r)}`),
    ...plan.chainRules.map((r) => `  ${renderRule('-A', r)}`),
    ...plan.added.map((r) => `  ${renderRule('-A', r)}`),
  ];
}

export const command: Command = {
  summary: 'set up the pod iptables (nat) that send its TCP traffic through the proxy',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const o = parseInitArgs(args);
    const families: Family[] = o.ipv6 ? [4, 6] : [4];

    const plans: RestorePlan[] = [];
    for (const family of families) {
      let table: NatTable;
      try {
        table = (await readNat(o.mode, family)).table;
      } catch (err) {
        // A dry run is also how one previews the rules where iptables cannot run at all.
        if (!(o.dryRun && err instanceof InitError)) throw err;
        log(`cannot read the current IPv${family} nat table (${err.describe()}); planning against an empty one`);
        table = EMPTY_NAT;
      }
      plans.push(o.cleanup ? planCleanup(family, table) : planApply(o, family, table));
    }

    for (const plan of plans) {
      const bin = binaries(o.mode, plan.family).restore;
      if (o.dryRun) {
        process.stdout.write(`# IPv${plan.family} nat table, input for: ${bin} --noflush\n${plan.text || '# nothing to do\n'}`);
        continue;
      }
      if (plan.text === '') {
        log(`IPv${plan.family} (${bin}): nothing of ours to clean up`);
        continue;
      }
      await restore(o.mode, plan.family, plan.text);
      const after = (await readNat(o.mode, plan.family)).table;
      const problems = o.cleanup ? verifyCleaned(after) : verifyApplied(plan, after);
      if (problems.length > 0) {
        throw new InitError(
          'LINNET_INIT_VERIFY_FAILED',
          `IPv${plan.family} nat table differs from the plan after ${bin}: ${problems.join('; ')}`,
          'another program may be changing the nat table at the same time; run `linnet init` again',
        );
      }
      for (const line of describePlan(plan, bin, o.cleanup)) log(line);
    }
    return 0;
  },
};
