/**
 * What a fuzz target is, and the one error a target throws when a property breaks.
 *
 * A target takes one input (bytes), calls a library entry point directly and checks the
 * properties it states. It returns normally when every property holds; anything it throws is a
 * finding (a PropertyViolation naming the property, or an unexpected exception that escaped the
 * code under test). Targets decide themselves which typed errors are a proper refusal.
 */
import { LinnetError } from '../core/errors';

export interface FuzzTarget {
  name: string;
  /** One line each: what must hold for every input. */
  properties: readonly string[];
  /** Checks one input; sync or async. Throws only on a finding. */
  run(input: Buffer): void | Promise<void>;
  /** Tokens the mutator inserts whole (header names, annotation keys, ...). */
  dictionary?: readonly (string | Buffer)[];
  /** Inputs larger than this are cut before run (default 64 KiB). */
  maxInputBytes?: number;
  /**
   * Findings already reported and not yet fixed (the code is someone else's, or the difference is
   * accepted): matched against the error message, counted and listed, but neither saved nor
   * failing. Each says why, so the list stays honest.
   */
  known?: readonly { match: RegExp; why: string }[];
}

export class PropertyViolation extends LinnetError {
  constructor(readonly target: string, readonly property: string, detail: string, cause?: unknown) {
    super('LINNET_FUZZ_PROPERTY', `${target}: property ${property} violated: ${detail}`, {
      hint: 'a bug in the code under test; the input is saved under fuzz/regressions/ and replayed by npm test',
      cause,
    });
    this.name = 'PropertyViolation';
  }
}

/** Reports a broken property; never returns. */
export type Fail = (property: string, detail: string, cause?: unknown) => never;

/**
 * A checker bound to one target: `fail('idempotent', 'second inject changed ...')`. Declare it
 * `const fail: Fail = violations(name)` so TypeScript knows the calls do not return.
 */
export function violations(target: string): Fail {
  return (property, detail, cause) => {
    throw new PropertyViolation(target, property, detail, cause);
  };
}

/** Short, printable description of an unexpected exception, for property messages. */
export function describeError(e: unknown): string {
  if (e instanceof LinnetError) return `${e.name} ${e.code}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `non-Error thrown: ${String(e)}`;
}

/**
 * Runs f; a LinnetError whose code is in `allowed` is a proper refusal (returned), anything else
 * thrown is a violation of the target's `typed-errors` property.
 */
export function refusalOrValue<T>(
  fail: (property: string, detail: string, cause?: unknown) => never,
  what: string,
  allowed: readonly string[],
  f: () => T,
): { ok: true; value: T } | { ok: false; error: LinnetError } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof LinnetError && allowed.includes(e.code)) return { ok: false, error: e };
    return fail('typed-errors', `${what} threw ${describeError(e)}`, e);
  }
}

export async function refusalOrValueAsync<T>(
  fail: (property: string, detail: string, cause?: unknown) => never,
  what: string,
  allowed: readonly string[],
  f: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: LinnetError }> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    if (e instanceof LinnetError && allowed.includes(e.code)) return { ok: false, error: e };
    return fail('typed-errors', `${what} threw ${describeError(e)}`, e);
  }
}
