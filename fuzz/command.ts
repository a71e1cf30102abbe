/**
 * `linnet fuzz` (`npm run fuzz -- --target X --time 60`): runs one target (or all) for a while,
 * prints executions per second as it goes, saves findings as regressions, exits 1 on a finding.
 */
import { parseArgs } from 'node:util';
import type { Command } from '../core/command';
import { ConfigError } from '../core/errors';
import { corpusDir, readCorpus, readRegressions } from './corpus';
import { runFuzz, type RunReport } from './runner';
import { loadTarget, targetNames } from './targets';

const USAGE = `usage: linnet fuzz --target NAME|all [--time SECONDS] [--seed N] [--corpus DIR] [--grow]
                   [--no-coverage] [--no-save]
       linnet fuzz --list

Fuzzes a library entry point (protocol detection, the ClientHello parser, the init flag parser and
iptables planner, annotation parsing, the pod-spec transform, the AdmissionReview handler, the
Certify CSR check) with inputs mutated from a seed corpus (fast-check, byte flips, inserts,
deletes, splices, dictionary tokens), guided by V8 block coverage. Each target checks its own
stated properties; --list prints them.

  --target NAME|all  which target (all: each in turn, --time each)
  --time SECONDS     how long to run (default 60)
  --seed N           fast-check seed, for a repeatable run (default: random, printed)
  --corpus DIR       seed inputs from DIR instead of fuzz/corpus/<target>/
  --grow             write inputs that reach new code into the corpus folder
  --no-coverage      no coverage guidance (faster executions, blinder search)
  --no-save          do not write findings to fuzz/regressions/<target>/
  --list             the targets and their properties

Findings are minimised and saved as fuzz/regressions/<target>/<hash>.bin (+ .txt: the error);
npm test replays them. Exit status: 0 no finding, 1 findings, 2 usage.
`;

function summary(r: RunReport): string {
  const lines = [
    `${r.target}: ${r.execs} executions in ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.execsPerSec)}/s), ` +
      `corpus ${r.corpusStart} -> ${r.corpusEnd}${r.coverageBlocks !== undefined ? `, ${r.coverageBlocks} blocks` : ''}, ` +
      `slowest input ${r.slowestMs.toFixed(1)} ms (${r.slowestBytes} bytes), ${r.findings.length} finding(s)`,
  ];
  for (const [why, n] of Object.entries(r.known)) lines.push(`  known (not failing) x${n}: ${why}`);
  for (const f of r.findings) lines.push(`  - ${f.signature} (x${f.count})${f.savedAs ? ` -> ${f.savedAs}` : ''}`);
  return lines.join('\n');
}

export const command: Command = {
  summary: 'fuzz a parser or transform with corpus-driven mutation (npm run fuzz)',
  usage: USAGE,
  async run(args) {
    let values: Record<string, string | boolean | undefined>;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        allowPositionals: false,
        options: {
          target: { type: 'string' },
          time: { type: 'string' },
          seed: { type: 'string' },
          corpus: { type: 'string' },
          grow: { type: 'boolean' },
          'no-coverage': { type: 'boolean' },
          'no-save': { type: 'boolean' },
          list: { type: 'boolean' },
        },
      }));
    } catch (e) {
      process.stderr.write(`linnet fuzz: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (values.list) {
      for (const name of targetNames()) {
        const t = loadTarget(name)!;
        const seeds = readCorpus(corpusDir(name)).length;
        const regs = readRegressions(name).length;
        process.stdout.write(`${name} (${seeds} seeds, ${regs} regressions)\n${t.properties.map((p) => `  - ${p}`).join('\n')}\n`);
      }
      return 0;
    }
    const name = values.target as string | undefined;
    if (name === undefined) {
      process.stderr.write(`linnet fuzz: --target is required (one of ${targetNames().join(', ')}, or all)\n`);
      return 2;
    }
    const names = name === 'all' ? targetNames() : [name];
    for (const n of names) {
      if (!loadTarget(n)) throw new ConfigError('--target', n, `one of ${targetNames().join(', ')}, all`);
    }
    const timeText = (values.time as string | undefined) ?? '60';
    if (!/^\d+(\.\d+)?$/.test(timeText) || Number(timeText) <= 0) throw new ConfigError('--time', timeText, 'seconds, a positive number');
    const seedText = values.seed as string | undefined;
    if (seedText !== undefined && !/^-?\d{1,10}$/.test(seedText)) throw new ConfigError('--seed', seedText, 'an integer');
    const seed = seedText !== undefined ? Number(seedText) | 0 : (Math.random() * 0x7fffffff) | 0;

    let found = 0;
    for (const n of names) {
      const target = loadTarget(n)!;
      const dir = (values.corpus as string | undefined) ?? corpusDir(n);
      const seeds = readCorpus(dir).map((f) => f.bytes);
      // Regressions seed the search as well: the neighbourhood of an old bug is a good place to look.
      seeds.push(...readRegressions(n).map((f) => f.bytes));
      process.stdout.write(`[${n}] seed ${seed}, ${seeds.length} seed inputs from ${dir}\n`);
      const report = await runFuzz({
        target,
        timeMs: Number(timeText) * 1000,
        seed,
        seeds,
        coverage: values['no-coverage'] !== true,
        saveFindings: values['no-save'] !== true,
        growDir: values.grow ? dir : undefined,
        log: (l) => process.stdout.write(l + '\n'),
      });
      process.stdout.write(summary(report) + '\n');
      found += report.findings.length;
    }
    return found > 0 ? 1 : 0;
  },
};
