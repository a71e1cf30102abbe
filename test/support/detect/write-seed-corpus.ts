/**
 * Writes the seed corpus of the `detect` fuzz target into fuzz/corpus/detect/ as binary files:
 * real ClientHellos and first bytes of real HTTP/1, h2, Redis and SMTP clients, captured live
 * (real-hellos.ts, real-clients.ts), and the hand-written protocol samples of samples.ts.
 * Run from the repository root after a build:  node dist/test/support/detect/write-seed-corpus.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureRealClients } from './real-clients';
import { captureRealHellos } from './real-hellos';
import { SAMPLES } from './samples';

async function main(): Promise<void> {
  const dir = join(process.cwd(), 'fuzz', 'corpus', 'detect');
  mkdirSync(dir, { recursive: true });
  for (const h of await captureRealHellos()) writeFileSync(join(dir, `${h.name}.bin`), h.bytes);
  for (const c of await captureRealClients()) writeFileSync(join(dir, `${c.name}.bin`), c.bytes);
  for (const s of SAMPLES) writeFileSync(join(dir, `${s.name}.bin`), s.bytes);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
