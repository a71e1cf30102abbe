/** One line of `linnet check`: √ ok, ‼ warning, × failure, each with a hint for what to do. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  category: string;
  name: string;
  status: CheckStatus;
  /** What was found (shown after the name when not ok). */
  detail?: string;
  /** What to do about it (shown for ‼ and ×). */
  hint?: string;
}

export const SYMBOL: Record<CheckStatus, string> = { ok: '√', warn: '‼', fail: '×' };

export function ok(category: string, name: string, detail?: string): CheckResult {
  return { category, name, status: 'ok', detail };
}
export function warn(category: string, name: string, detail: string, hint: string): CheckResult {
  return { category, name, status: 'warn', detail, hint };
}
export function fail(category: string, name: string, detail: string, hint: string): CheckResult {
  return { category, name, status: 'fail', detail, hint };
}

/** Grouped by category, as `linkerd check` prints it. */
export function formatResults(results: readonly CheckResult[]): string {
  const lines: string[] = [];
  let category: string | undefined;
  for (const r of results) {
    if (r.category !== category) {
      if (category !== undefined) lines.push('');
      lines.push(r.category, '-'.repeat(r.category.length));
      category = r.category;
    }
    lines.push(`${SYMBOL[r.status]} ${r.name}`);
    if (r.status !== 'ok' && r.detail) lines.push(`    ${r.detail}`);
    if (r.status !== 'ok' && r.hint) lines.push(`    hint: ${r.hint}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('', failed > 0 ? `Status check results are × (${failed} failed, ${warned} warnings)` : warned > 0 ? `Status check results are √ with ${warned} warning(s) ‼` : 'Status check results are √');
  return lines.join('\n') + '\n';
}
