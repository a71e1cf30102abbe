import { LinnetError } from '../../core/errors';

export type InstallErrorCode =
  | 'LINNET_INSTALL_INPUT' // a flag or file that cannot be used
  | 'LINNET_INSTALL_CERTS' // given certificates that do not fit together
  | 'LINNET_INSTALL_INVALID'; // a manifest that fails the Kubernetes schema (a bug in install)

export class InstallError extends LinnetError {
  constructor(code: InstallErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'InstallError';
  }
}
