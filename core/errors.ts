/**
 * Typed errors shared by every part of Linnet. Each carries a stable `code` (what a program
 * matches on) and a `hint` (what a person should do about it). Modules define their own codes by
 * extending LinnetError; nothing throws bare strings or plain Errors across a module boundary.
 */
export class LinnetError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LinnetError';
    this.code = code;
    this.hint = options.hint;
  }

  /** One line for a log or stderr: `CODE: message (hint)`. */
  describe(): string {
    return `${this.code}: ${this.message}${this.hint ? ` (${this.hint})` : ''}`;
  }
}

/** A configuration value that cannot be used: names the variable and the accepted form. */
export class ConfigError extends LinnetError {
  readonly variable: string;
  constructor(variable: string, value: string, accepted: string) {
    super('LINNET_CONFIG_INVALID', `${variable}=${JSON.stringify(value)} is not valid; expected ${accepted}`, {
      hint: `fix or unset ${variable}`,
    });
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** The platform lacks something the proxy needs (the native addon, SO_ORIGINAL_DST, ...). */
export class PlatformError extends LinnetError {
  constructor(message: string, hint: string, cause?: unknown) {
    super('LINNET_PLATFORM_UNSUPPORTED', message, { hint, cause });
    this.name = 'PlatformError';
  }
}
