/**
 * `--compare old.json`: each figure of this run against the same figure of an earlier run, with
 * the change called out only when it is larger than both runs' spread (see stats.beyondNoise).
 * Ratios against direct (and Linnet meshed's against the haproxy pair) are compared too: they
 * cancel much of the machine's noise.
 */
import { num, pct, si } from './format';
import { PERCENTILES, TARGET_LABEL, type BenchResults } from './schema';
import type { Stat } from './stats';
import { beyondNoise, changePct } from './stats';

export interface Change {
  readonly scenario: string;
  readonly target: string;
  readonly metric: string;
  readonly before: number;
  readonly after: number;
  readonly changePct: number;
  /** Whether the change exceeds the noise of both runs. */
  readonly significant: boolean;
  /** Whether higher is better for this metric (throughput) or worse (latency, CPU). */
  readonly higherIsBetter: boolean;
}

function fix(s: Stat): Stat {
  return { runs: s.runs, median: num(s.median), min: num(s.min), max: num(s.max), spreadPct: num(s.spreadPct) };
}

export function compareResults(before: BenchResults, after: BenchResults): Change[] {
  const out: Change[] = [];
  const add = (scenario: string, target: string, metric: string, b: Stat | undefined, a: Stat | undefined, higherIsBetter: boolean) => {
    if (!b || !a) return;
    const [fb, fa] = [fix(b), fix(a)];
    out.push({ scenario, target, metric, before: fb.median, after: fa.median, changePct: changePct(fb.median, fa.median), significant: beyondNoise(fb, fa), higherIsBetter });
  };
  for (const s of after.scenarios) {
    const old = before.scenarios.find((o) => o.id === s.id);
    if (!old) continue;
    for (const t of s.targets) {
      const ot = old.targets.find((o) => o.target === t.target);
      if (!ot || t.status !== 'ok' || ot.status !== 'ok') continue;
      add(s.id, t.target, s.unit, ot.throughput, t.throughput, true);
      if (t.vsDirect !== undefined && ot.vsDirect !== undefined && t.target !== 'direct') {
        const [b, a] = [num(ot.vsDirect), num(t.vsDirect)];
        out.push({ scenario: s.id, target: t.target, metric: 'ratio to direct', before: b, after: a, changePct: changePct(b, a), significant: Math.abs(changePct(b, a)) > 5, higherIsBetter: true });
      }
      if (t.vsPeerMesh !== undefined && ot.vsPeerMesh !== undefined) {
        const [b, a] = [num(ot.vsPeerMesh), num(t.vsPeerMesh)];
        out.push({ scenario: s.id, target: t.target, metric: 'ratio to the haproxy pair', before: b, after: a, changePct: changePct(b, a), significant: Math.abs(changePct(b, a)) > 5, higherIsBetter: true });
      }
      for (const p of PERCENTILES) add(s.id, t.target, `${p} ms`, ot.latencyMs?.[p], t.latencyMs?.[p], false);
      add(s.id, t.target, 'CPU s/1k', ot.cost?.cpuSecondsPer1k, t.cost?.cpuSecondsPer1k, false);
      add(s.id, t.target, 'private B per idle connection', ot.idleConns?.perConnectionPrivateBytes, t.idleConns?.perConnectionPrivateBytes, false);
      // The soak is one run: its growth has no spread, so a change of more than 2 points is marked.
      const [gb, ga] = [num(ot.soak?.growth.rssGrowthPct), num(t.soak?.growth.rssGrowthPct)];
      if (Number.isFinite(gb) && Number.isFinite(ga)) out.push({ scenario: s.id, target: t.target, metric: 'RSS growth %', before: gb, after: ga, changePct: ga - gb, significant: Math.abs(ga - gb) > 2, higherIsBetter: false });
    }
  }
  return out;
}

export function renderComparison(changes: readonly Change[], beforeName: string): string {
  const lines = [`## Change against ${beforeName}`, '', 'Only changes larger than both runs\' spread are marked; ratio changes above 5% are marked.', ''];
  lines.push('| scenario | target | metric | before | after | change |', '| --- | --- | --- | ---: | ---: | ---: |');
  for (const c of changes) {
    const better = c.changePct > 0 === c.higherIsBetter;
    const mark = c.significant && Number.isFinite(c.changePct) ? (better ? ' ✅ better' : ' ❌ worse') : '';
    lines.push(`| ${c.scenario} | ${TARGET_LABEL[c.target as keyof typeof TARGET_LABEL] ?? c.target} | ${c.metric} | ${si(c.before)} | ${si(c.after)} | ${pct(c.changePct, true)}${mark} |`);
  }
  if (changes.length === 0) lines.push('| (nothing in common) | | | | | |');
  return lines.join('\n') + '\n';
}


