/**
 * Shrinks a failing input while it keeps failing the same way (same signature): delete chunks
 * from half the input down to single bytes, then simplify bytes to 'a'. Bounded by a time budget,
 * since a finding is worth saving even unminimised.
 */
export type Failing = (input: Buffer) => Promise<boolean>;

export async function minimize(input: Buffer, stillFails: Failing, budgetMs = 5000): Promise<Buffer> {
  const deadline = Date.now() + budgetMs;
  let best = input;
  for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && Date.now() < deadline; chunk = chunk >> 1) {
    let i = 0;
    while (i < best.length && Date.now() < deadline) {
      const cand = Buffer.concat([best.subarray(0, i), best.subarray(i + chunk)]);
      if (await stillFails(cand)) best = cand;
      else i += chunk;
    }
    if (chunk === 1) break;
  }
  // Replace bytes by a plain letter where it does not matter, so what remains stands out.
  for (let i = 0; i < best.length && Date.now() < deadline && best.length <= 4096; i++) {
    if (best[i] === 0x61) continue;
    const cand = Buffer.from(best);
    cand[i] = 0x61;
    if (await stillFails(cand)) best = cand;
  }
  return best;
}
