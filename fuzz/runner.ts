/**
 * The fuzz loop: fast-check draws inputs from the target's corpus through mutation
 * (fuzz/mutate.ts), in rounds, until the time is up. A failing input is shrunk by fast-check
 * (fewer edits), then byte-minimised while it fails the same way, and saved as a regression.
 * Findings are deduplicated by signature, so one bug does not stop the search for the next.
 * With coverage on, inputs that reach new blocks of the project's code join the corpus.
 */
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { CoverageTracker } from './coverage';
import { regressionsDir, saveInput } from './corpus';
import { minimize } from './minimize';
import { mutantArbitrary, type MutationContext, type Mutant } from './mutate';
import { describeError, PropertyViolation, type FuzzTarget } from './target';

export interface RunOptions {
  target: FuzzTarget;
  timeMs: number;
  seed: number;
  seeds: readonly Buffer[];
  coverage: boolean;
  /** Save findings as regressions (fuzz/regressions/<target>/). */
  saveFindings: boolean;
  /** Where inputs with new coverage are written; undefined: kept in memory only. */
  growDir?: string;
  log?: (line: string) => void;
  progressEveryMs?: number;
  minimizeMs?: number;
}

export interface Finding {
  signature: string;
  message: string;
  input: Buffer;
  /** How many generated inputs hit this signature. */
  count: number;
  savedAs?: string;
}

export interface RunReport {
  target: string;
  execs: number;
  ms: number;
  execsPerSec: number;
  corpusStart: number;
  corpusEnd: number;
  coverageBlocks: number | undefined;
  findings: Finding[];
  /** Known (listed, unfixed) findings hit, by their reason. */
  known: Record<string, number>;
  slowestMs: number;
  slowestBytes: number;
}

/** What makes two failures "the same bug": the property and the message shape, not the data. */
export function signatureOf(e: unknown): string {
  // The first line, up to where the data starts (a quote, a brace, a bracket), digits folded.
  const norm = (s: string) =>
    s
      .split('\n')[0]!
      .split(/["{[]/)[0]!
      .replace(/\d+/g, 'N')
      .trim()
      .slice(0, 100);
  if (e instanceof PropertyViolation) return `${e.property}: ${norm(e.message.replace(/^.*?violated: /, ''))}`;
  if (e instanceof Error) return `uncaught ${e.name}: ${norm(e.message)}`;
  return `uncaught ${typeof e}`;
}

const BATCH = 64;

export async function runFuzz(o: RunOptions): Promise<RunReport> {
  const log = o.log ?? (() => {});
  const t = o.target;
  const maxBytes = t.maxInputBytes ?? 64 * 1024;
  const corpus: Buffer[] = o.seeds.length ? o.seeds.map((b) => b.subarray(0, maxBytes)) : [Buffer.alloc(0)];
  const ctx: MutationContext = {
    corpus,
    dictionary: (t.dictionary ?? []).map((d) => (typeof d === 'string' ? Buffer.from(d, 'latin1') : d)),
    maxBytes,
  };
  const corpusStart = corpus.length;
  const known = new Map<string, Finding>();
  const cov = o.coverage ? new CoverageTracker() : undefined;
  let execs = 0;
  let slowestMs = 0;
  let slowestBytes = 0;
  let recent: Buffer[] = [];
  const knownHits: Record<string, number> = {};
  const knownReason = (e: unknown): string | undefined => {
    const msg = e instanceof Error ? e.message : String(e);
    return t.known?.find((k) => k.match.test(msg))?.why;
  };

  const once = async (bytes: Buffer): Promise<unknown> => {
    const t0 = performance.now();
    try {
      await t.run(bytes);
      return undefined;
    } catch (e) {
      return e ?? new Error('threw undefined');
    } finally {
      const dt = performance.now() - t0;
      if (dt > slowestMs) {
        slowestMs = dt;
        slowestBytes = bytes.length;
      }
    }
  };

  // A batch reached new blocks: replay it input by input to find which to keep.
  const attribute = async (batch: Buffer[], fresh: Set<string>) => {
    for (const b of batch) {
      if (fresh.size === 0) break;
      await once(b);
      const mine = cov!.takeFresh();
      let hit = false;
      for (const k of mine) if (fresh.has(k)) hit = true;
      if (!hit) continue;
      cov!.commit(mine);
      for (const k of mine) fresh.delete(k);
      corpus.push(b);
      if (o.growDir) saveInput(o.growDir, b);
    }
    cov!.commit(fresh);
  };

  if (cov) {
    for (const s of corpus) await once(s);
    cov.take();
  }

  const start = performance.now();
  const deadline = start + o.timeMs;
  let nextProgress = start + (o.progressEveryMs ?? 2000);
  const progress = () => {
    const s = (performance.now() - start) / 1000;
    log(
      `[${t.name}] ${s.toFixed(1)}s ${execs} execs ${Math.round(execs / Math.max(s, 0.001))}/s corpus ${corpus.length}` +
        (cov ? ` blocks ${cov.blocks}` : '') +
        ` findings ${known.size}`,
    );
  };

  // Awaiting a target resolves only microtasks: without a turn of the event loop now and then,
  // the timers and immediates that targets leave behind (a closing H2Connection's 1 s destroy
  // timer) never run, and what they hold piles up until the heap is exhausted (h2-connection ran
  // out of 4 GB after 119k executions).
  let lastTurn = performance.now();
  const property = fc.asyncProperty(mutantArbitrary(ctx), async (m: Mutant) => {
    execs++;
    if (performance.now() - lastTurn > 20) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastTurn = performance.now();
    }
    const err = await once(m.bytes);
    if (cov) {
      recent.push(m.bytes);
      if (recent.length >= BATCH) {
        const batch = recent;
        recent = [];
        const fresh = cov.takeFresh();
        if (fresh.size > 0) await attribute(batch, fresh);
      }
    }
    const now = performance.now();
    if (now >= nextProgress) {
      nextProgress = now + (o.progressEveryMs ?? 2000);
      progress();
    }
    if (err === undefined) return;
    const k = knownReason(err);
    if (k !== undefined) {
      knownHits[k] = (knownHits[k] ?? 0) + 1;
      return;
    }
    const f = known.get(signatureOf(err));
    if (f) {
      f.count++;
      return;
    }
    throw err;
  });

  for (let round = 0; performance.now() < deadline; round++) {
    const details = await fc.check(property, {
      numRuns: 5000,
      seed: (o.seed + round * 7919) | 0,
      interruptAfterTimeLimit: Math.max(1, Math.round(deadline - performance.now())),
      markInterruptAsFailure: false,
    });
    if (!details.failed || details.counterexample === null) continue;
    const [m] = details.counterexample as [Mutant];
    const err = details.errorInstance;
    const sig = signatureOf(err);
    const sameFailure = async (b: Buffer) => {
      const e = await once(b);
      return e !== undefined && signatureOf(e) === sig && knownReason(e) === undefined;
    };
    const input = (await sameFailure(m.bytes)) ? await minimize(m.bytes, sameFailure, o.minimizeMs ?? 5000) : m.bytes;
    const message = describeError(err);
    const f: Finding = { signature: sig, message, input, count: 1 };
    if (o.saveFindings) {
      f.savedAs = saveInput(regressionsDir(t.name), input, `${message}\n\nsignature: ${sig}\nfound by: linnet fuzz --target ${t.name} --seed ${o.seed}\n`);
    }
    known.set(sig, f);
    log(`[${t.name}] FINDING ${sig}\n  ${message.split('\n')[0]}${f.savedAs ? `\n  saved ${f.savedAs}` : ''}`);
  }
  const ms = performance.now() - start;
  progress();
  const coverageBlocks = cov?.blocks;
  cov?.stop();
  return {
    target: t.name,
    execs,
    ms,
    execsPerSec: execs / (ms / 1000),
    corpusStart,
    corpusEnd: corpus.length,
    coverageBlocks,
    findings: [...known.values()],
    known: knownHits,
    slowestMs,
    slowestBytes,
  };
}
