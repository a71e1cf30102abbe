/**
 * The iptables planner: options (+ the nat table as it is now) → `iptables-restore --noflush`
 * input. Pure, no I/O.
 *
 * Idempotence: restore has no "create if missing", so the plan declares our two chains
 * (`:CHAIN - [0:0]`), which under --noflush creates a missing chain and flushes an existing one,
 * then appends the chain's rules afresh. The jumps from PREROUTING/OUTPUT live in built-in chains
 * we must not flush, so they are diffed against the current table: add when missing, delete
 * duplicates and stale jumps to our chains. Rule text is written in the canonical form
 * iptables-save prints (option order, `--to-ports`, `/prefix`), so what we plan is what we read back.
 */
import type { PortRange } from '../core/parse';
import { formatCidr } from './cidr';
import type { InitOptions } from './options';
import type { NatTable, SavedRule } from './ruleset';

export const REDIRECT_CHAIN = 'PROXY_INIT_REDIRECT';
export const OUTPUT_CHAIN = 'PROXY_INIT_OUTPUT';
export const OUR_CHAINS: readonly string[] = [REDIRECT_CHAIN, OUTPUT_CHAIN];
export const COMMENT_PREFIX = 'proxy-init/';
/** The multiport match takes at most 15 ports a rule; a lo:hi range counts as two. */
export const MULTIPORT_LIMIT = 15;

export type Family = 4 | 6;

export interface Rule {
  chain: string;
  /** Everything after `-A <chain>`. */
  spec: string;
}

export interface Jump {
  parent: 'PREROUTING' | 'OUTPUT';
  chain: string;
  name: string;
}

export const JUMPS: readonly Jump[] = [
  { parent: 'PREROUTING', chain: REDIRECT_CHAIN, name: 'install-proxy-init-prerouting' },
  { parent: 'OUTPUT', chain: OUTPUT_CHAIN, name: 'install-proxy-init-output' },
];

export interface RestorePlan {
  family: Family;
  /** iptables-restore --noflush input for the nat table; '' when there is nothing to do. */
  text: string;
  /** What our chains hold once applied (empty for a clean-up). */
  chainRules: readonly Rule[];
  /** Jump rules this plan appends. */
  added: readonly Rule[];
  /** Existing rules this plan deletes (duplicate or stale jumps; on clean-up every jump). */
  removed: readonly Rule[];
  /** Our chains this plan deletes (clean-up only). */
  deletedChains: readonly string[];
}

export function renderRule(op: '-A' | '-D', r: Rule): string {
  return `${op} ${r.chain} ${r.spec}`;
}

function rule(chain: string, name: string, matches: string, jump: string): Rule {
  const parts = [matches, `-m comment --comment "${COMMENT_PREFIX}${name}"`, jump].filter((p) => p !== '');
  return { chain, spec: parts.join(' ') };
}

function portText(r: PortRange): string {
  return r.lo === r.hi ? String(r.lo) : `${r.lo}:${r.hi}`;
}

/** Ports/ranges → groups for one multiport rule each, in order, ≤ 15 port slots a group. */
export function multiportGroups(ranges: readonly PortRange[]): string[][] {
  const groups: string[][] = [];
  let cur: string[] = [];
  let used = 0;
  for (const r of ranges) {
    const cost = r.lo === r.hi ? 1 : 2;
    if (used + cost > MULTIPORT_LIMIT) {
      groups.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(portText(r));
    used += cost;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

function ignorePortRules(chain: string, ranges: readonly PortRange[]): Rule[] {
  return multiportGroups(ranges).map((g) => {
    const list = g.join(',');
    return rule(chain, `ignore-port-${list}`, `-p tcp -m multiport --dports ${list}`, '-j RETURN');
  });
}

/** The contents of PROXY_INIT_REDIRECT then PROXY_INIT_OUTPUT for one address family. */
export function chainRules(o: InitOptions, family: Family): Rule[] {
  const out: Rule[] = [];
  // Inbound: skip-ports first, then everything else TCP to the inbound proxy.
  out.push(...ignorePortRules(REDIRECT_CHAIN, o.inboundPortsToIgnore));
  out.push(rule(REDIRECT_CHAIN, 'redirect-all-incoming-to-proxy-port', '-p tcp', `-j REDIRECT --to-ports ${o.incomingProxyPort}`));
  // Outbound: the proxy's own connections must not loop back into it.
  out.push(rule(OUTPUT_CHAIN, 'ignore-proxy-user-id', `-m owner --uid-owner ${o.proxyUid}`, '-j RETURN'));
  if (o.proxyGid !== undefined) {
    out.push(rule(OUTPUT_CHAIN, 'ignore-proxy-group-id', `-m owner --gid-owner ${o.proxyGid}`, '-j RETURN'));
  }
  out.push(rule(OUTPUT_CHAIN, 'ignore-loopback', '-o lo', '-j RETURN'));
  out.push(...ignorePortRules(OUTPUT_CHAIN, o.outboundPortsToIgnore));
  for (const s of o.subnetsToIgnore) {
    if (s.family !== family) continue;
    const cidr = formatCidr(s);
    // iptables-save omits a match-everything destination, so do we.
    out.push(rule(OUTPUT_CHAIN, `ignore-subnet-${cidr}`, s.prefix === 0 ? '' : `-d ${cidr}`, '-j RETURN'));
  }
  out.push(rule(OUTPUT_CHAIN, 'redirect-all-outgoing-to-proxy-port', '-p tcp', `-j REDIRECT --to-ports ${o.outgoingProxyPort}`));
  return out;
}

export function jumpRule(j: Jump): Rule {
  return rule(j.parent, j.name, '', `-j ${j.chain}`);
}

const toRule = (r: SavedRule): Rule => ({ chain: r.chain, spec: r.spec });

/**
 * The check-then-insert part: for each jump, keep the first existing copy of ours, delete every
 * other rule in that built-in chain that jumps to our chain (duplicates, or a stale jump with
 * another comment), and append ours when there was none.
 */
export function diffJumps(current: NatTable): { add: Rule[]; remove: Rule[] } {
  const add: Rule[] = [];
  const remove: Rule[] = [];
  for (const j of JUMPS) {
    const existing = current.rules.filter((r) => r.chain === j.parent && r.target === j.chain);
    const keep = existing.find((r) => r.comment === COMMENT_PREFIX + j.name);
    remove.push(...existing.filter((r) => r !== keep).map(toRule));
    if (!keep) add.push(jumpRule(j));
  }
  return { add, remove };
}

function restoreText(lines: string[]): string {
  return ['*nat', ...lines, 'COMMIT', ''].join('\n');
}

/** Set up (or re-set up) the redirection for one family, given the nat table as it is. */
export function planApply(o: InitOptions, family: Family, current: NatTable): RestorePlan {
  const rules = chainRules(o, family);
  const { add, remove } = diffJumps(current);
  const text = restoreText([
    ...OUR_CHAINS.map((c) => `:${c} - [0:0]`),
    ...remove.map((r) => renderRule('-D', r)),
    ...rules.map((r) => renderRule('-A', r)),
    ...add.map((r) => renderRule('-A', r)),
  ]);
  return { family, text, chainRules: rules, added: add, removed: remove, deletedChains: [] };
}

/**
 * Remove everything we add: every rule that jumps to our chains (wherever it is), then our chains
 * (flushed by their declaration, then deleted). Touches nothing else. Only what exists is
 * named, since restore fails on deleting what is not there; nothing there → empty text.
 */
export function planCleanup(family: Family, current: NatTable): RestorePlan {
  const remove = current.rules
    .filter((r) => r.target !== undefined && OUR_CHAINS.includes(r.target) && !OUR_CHAINS.includes(r.chain))
    .map(toRule);
  const chains = OUR_CHAINS.filter((c) => current.chains.has(c));
  const empty = remove.length === 0 && chains.length === 0;
  const text = empty
    ? ''
    : restoreText([
        ...chains.map((c) => `:${c} - [0:0]`),
        ...remove.map((r) => renderRule('-D', r)),
        ...chains.map((c) => `-X ${c}`),
      ]);
  return { family, text, chainRules: [], added: [], removed: remove, deletedChains: chains };
}

/**
 * After applying: what differs between the plan and the table read back (empty = as planned).
 * Our chains must hold exactly the planned rules, and each jump must be there exactly once.
 */
export function verifyApplied(plan: RestorePlan, after: NatTable): string[] {
  const problems: string[] = [];
  for (const chain of OUR_CHAINS) {
    const want = plan.chainRules.filter((r) => r.chain === chain).map((r) => r.spec);
    const got = after.rules.filter((r) => r.chain === chain).map((r) => r.spec);
    if (!after.chains.has(chain)) problems.push(`chain ${chain} is missing`);
    else if (want.join('\n') !== got.join('\n')) {
      problems.push(`chain ${chain} holds [${got.join(' | ')}], planned [${want.join(' | ')}]`);
    }
  }
  for (const j of JUMPS) {
    const n = after.rules.filter((r) => r.chain === j.parent && r.target === j.chain).length;
    if (n !== 1) problems.push(`${j.parent} has ${n} jumps to ${j.chain}, expected 1`);
  }
  return problems;
}

/** After a clean-up: anything of ours still there. */
export function verifyCleaned(after: NatTable): string[] {
  const problems = OUR_CHAINS.filter((c) => after.chains.has(c)).map((c) => `chain ${c} still exists`);
  for (const r of after.rules) {
    if (r.target !== undefined && OUR_CHAINS.includes(r.target)) problems.push(`rule still jumps to ${r.target}: -A ${r.chain} ${r.spec}`);
  }
  return problems;
}
