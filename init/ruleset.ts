/**
 * Reading `iptables-save -t nat` output. Pure. Only what the planner needs: which chains exist
 * and each rule's chain, words, jump target and comment. Both backends (legacy and nft) print the
 * same canonical rule text, so one reader serves both.
 */

export interface SavedRule {
  chain: string;
  /** The rule after `-A <chain>`, exactly as printed (so `-D <chain> <spec>` deletes it). */
  spec: string;
  /** `-j` target, if any. */
  target: string | undefined;
  /** `--comment` value, unquoted, if any. */
  comment: string | undefined;
}

export interface NatTable {
  chains: ReadonlySet<string>;
  rules: readonly SavedRule[];
}

export const EMPTY_NAT: NatTable = { chains: new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']), rules: [] };

/** Splits a rule line into words as a shell would for iptables' quoting: "..." with \" and \\. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let word = '';
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') {
      if (line[i] === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) i++;
          word += line[i++];
        }
        i++; // closing quote
      } else word += line[i++];
    }
    out.push(word);
  }
  return out;
}

/** The nat section of iptables-save output (other tables and `#` lines are ignored). */
export function parseNatSave(text: string): NatTable {
  const chains = new Set<string>();
  const rules: SavedRule[] = [];
  let inNat = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      inNat = line === '*nat';
      continue;
    }
    if (!inNat) continue;
    if (line === 'COMMIT') {
      inNat = false;
      continue;
    }
    if (line.startsWith(':')) {
      chains.add(line.slice(1).split(/\s+/)[0]!);
      continue;
    }
    const m = /^-A\s+(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const words = tokenize(m[2]!);
    const after = (flag: string): string | undefined => {
      const i = words.indexOf(flag);
      return i >= 0 ? words[i + 1] : undefined;
    };
    rules.push({ chain: m[1]!, spec: m[2]!, target: after('-j') ?? after('--jump'), comment: after('--comment') });
  }
  return { chains, rules };
}
