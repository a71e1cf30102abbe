import { LinnetError } from '../../core/errors';

/**
 * A manifest or annotation the injector cannot use. `doc` names the document (file and index or
 * kind/name) and `field` the JSON path inside it, so a user can find the line to fix.
 */
export class InjectError extends LinnetError {
  readonly doc: string | undefined;
  readonly field: string | undefined;
  constructor(code: InjectErrorCode, message: string, opts: { doc?: string; field?: string; hint?: string; cause?: unknown } = {}) {
    const where = [opts.doc, opts.field].filter(Boolean).join(': ');
    super(code, where ? `${where}: ${message}` : message, { hint: opts.hint, cause: opts.cause });
    this.name = 'InjectError';
    this.doc = opts.doc;
    this.field = opts.field;
  }

  /** The same error, now naming the document it came from. */
  inDocument(doc: string): InjectError {
    if (this.doc) return this;
    const bare = this.field && this.message.startsWith(`${this.field}: `) ? this.message.slice(this.field.length + 2) : this.message;
    return new InjectError(this.code as InjectErrorCode, bare, { doc, field: this.field, hint: this.hint, cause: this.cause });
  }
}

export type InjectErrorCode =
  | 'LINNET_INJECT_BAD_ANNOTATION' // a config.linnet.io/* value that does not parse
  | 'LINNET_INJECT_BAD_MANIFEST' // YAML/JSON that does not parse, or a workload missing a required field
  | 'LINNET_INJECT_INPUT' // a file or folder that cannot be read
  | 'LINNET_INJECT_TLS'; // the webhook's certificate or key is unusable
