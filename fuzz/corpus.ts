/**
 * Corpora and regressions on disk. A corpus is a folder of files, one input each (any name);
 * a regression is `fuzz/regressions/<target>/<hash>.bin` plus `<hash>.txt`, the finding it
 * reproduced. Folders are found from the source tree, so dist/ code reads the committed files.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root: dist/fuzz/.. /.. from compiled code, fuzz/.. from tsx. */
export function repoRoot(): string {
  let dir = resolve(__dirname, '..');
  if (!existsSync(join(dir, 'package.json'))) dir = resolve(dir, '..');
  return dir;
}

export function corpusDir(target: string): string {
  return join(repoRoot(), 'fuzz', 'corpus', target);
}

export function regressionsDir(target: string): string {
  return join(repoRoot(), 'fuzz', 'regressions', target);
}

export interface CorpusFile {
  name: string;
  bytes: Buffer;
}

/** Every regular file of a folder (sorted by name); a missing folder is an empty corpus. */
export function readCorpus(dir: string, only?: (name: string) => boolean): CorpusFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.') && (only ? only(n) : true))
    .sort()
    .map((name) => ({ name, path: join(dir, name) }))
    .filter((f) => statSync(f.path).isFile())
    .map((f) => ({ name: f.name, bytes: readFileSync(f.path) }));
}

export function inputHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** Writes an input under its hash; returns the path (unchanged when it is already there). */
export function saveInput(dir: string, bytes: Buffer, note?: string, ext = '.bin'): string {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, inputHash(bytes));
  if (!existsSync(base + ext)) writeFileSync(base + ext, bytes);
  if (note !== undefined) writeFileSync(base + '.txt', note.endsWith('\n') ? note : note + '\n');
  return base + ext;
}

/** Regression inputs of a target: the .bin files (the .txt beside each is for people). */
export function readRegressions(target: string): CorpusFile[] {
  return readCorpus(regressionsDir(target), (n) => n.endsWith('.bin'));
}
