/** Tiny flag reading for the bench apps (they run inside pods, started by the runner). */
import { parseArgs } from 'node:util';

export function flags(spec: Record<string, 'string' | 'boolean'>): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [k, t] of Object.entries(spec)) options[k] = { type: t };
  return parseArgs({ options, strict: true }).values as Record<string, string | boolean | undefined>;
}

export function ports(v: string | boolean | undefined): number[] {
  return typeof v === 'string' && v ? v.split(',').map(Number) : [];
}

/** The report line the runner reads (see parsers.parseAppReport). */
export function report(r: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(r) + '\n');
}
