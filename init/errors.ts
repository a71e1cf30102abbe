/**
 * Errors of `linnet init`. Flag values that cannot be used are ConfigErrors (from proxy/errors)
 * naming the flag; everything that goes wrong around the iptables binaries is an InitError with
 * one of the stable codes below.
 */
import { LinnetError } from '../core/errors';

export type InitErrorCode =
  /** An unknown flag or a stray argument. */
  | 'LINNET_INIT_USAGE'
  /** The iptables-save/-restore binary for the chosen mode is not installed. */
  | 'LINNET_INIT_IPTABLES_MISSING'
  /** The kernel refused: no root / NET_ADMIN in this network namespace. */
  | 'LINNET_INIT_NOT_PERMITTED'
  /** iptables-save failed for another reason. */
  | 'LINNET_INIT_SAVE_FAILED'
  /** iptables-restore rejected the plan. */
  | 'LINNET_INIT_RESTORE_FAILED'
  /** The rules read back after applying are not the planned ones. */
  | 'LINNET_INIT_VERIFY_FAILED';

export class InitError extends LinnetError {
  constructor(code: InitErrorCode, message: string, hint: string, cause?: unknown) {
    super(code, message, { hint, cause });
    this.name = 'InitError';
  }
}
