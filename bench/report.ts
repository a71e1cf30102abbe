/**
 * Writes a run's outputs: results.json (the versioned schema), report.md, and one SVG per
 * scenario; and, for a full run, bench/RESULTS.md with its charts under bench/results/.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderMarkdown } from './markdown';
import type { BenchResults } from './schema';
import { idleConnsChart, latencyChart, soakChart, throughputChart } from './svg';

export interface Written {
  json: string;
  markdown: string;
  charts: string[];
}

export function chartFiles(results: BenchResults): { title: string; name: string; svg: string }[] {
  return results.scenarios
    .filter((s) => s.status === 'ok')
    .map((s) => ({ title: s.title, name: `${s.id}.svg`, svg: chartOf(s) }));
}

function chartOf(s: BenchResults['scenarios'][number]): string {
  if (s.kind === 'latency') return latencyChart(s);
  if (s.kind === 'soak') return soakChart(s);
  if (s.kind === 'idle-conns') return idleConnsChart(s);
  return throughputChart(s);
}

export function writeReport(results: BenchResults, dir: string, extra = ''): Written {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'results.json');
  writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
  const charts = chartFiles(results);
  for (const c of charts) writeFileSync(join(dir, c.name), c.svg);
  const markdown = join(dir, 'report.md');
  writeFileSync(markdown, renderMarkdown(results, charts.map((c) => ({ title: c.title, file: c.name }))) + extra);
  return { json, markdown, charts: charts.map((c) => join(dir, c.name)) };
}

/** bench/RESULTS.md and bench/results/ (committed): the latest full run, with how it was taken. */
export function publishResults(results: BenchResults, benchDir: string, preface: string): string {
  const resultsDir = join(benchDir, 'results');
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  const charts = chartFiles(results);
  for (const c of charts) writeFileSync(join(resultsDir, c.name), c.svg);
  writeFileSync(join(resultsDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const md = renderMarkdown(results, charts.map((c) => ({ title: c.title, file: relative(benchDir, join(resultsDir, c.name)) })));
  const file = join(benchDir, 'RESULTS.md');
  writeFileSync(file, md.replace(/^# Linnet bench results\n/, `# Linnet bench results\n\n${preface.trim()}\n`));
  return file;
}
