/** Typed errors of the bench suite: a failed measurement says which tool, and what to check. */
import { LinnetError } from '../core/errors';

export type BenchErrorCode =
  | 'LINNET_BENCH_BAD_ARGS'
  | 'LINNET_BENCH_TOOL_MISSING'
  | 'LINNET_BENCH_TOOL_FAILED'
  | 'LINNET_BENCH_PARSE'
  | 'LINNET_BENCH_NEEDS_ROOT'
  | 'LINNET_BENCH_BAD_RESULTS';

export class BenchError extends LinnetError {
  constructor(code: BenchErrorCode, message: string, hint: string, cause?: unknown) {
    super(code, message, { hint, cause });
    this.name = 'BenchError';
  }
}
