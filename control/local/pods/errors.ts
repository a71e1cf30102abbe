/** Typed errors of the pod helper, so a failing test says what broke and what to look at. */
import { LinnetError } from '../../../core/errors';

export type PodErrorCode =
  | 'LINNET_POD_COMMAND_FAILED'
  | 'LINNET_POD_TIMEOUT'
  | 'LINNET_POD_PROXY_NOT_READY'
  | 'LINNET_POD_PROXY_EXITED'
  | 'LINNET_POD_ADMIN_UNREACHABLE'
  | 'LINNET_POD_BAD_NAME'
  | 'LINNET_POD_STAGE_FAILED';

export class PodError extends LinnetError {
  constructor(code: PodErrorCode, message: string, hint: string, cause?: unknown) {
    super(code, message, { hint, cause });
    this.name = 'PodError';
  }
}
