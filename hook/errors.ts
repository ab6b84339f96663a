/**
 * Few error classes . An error means "could not check";
 * a failed check is a Report, not an error. Only cli.ts turns these into exit codes:
 * usage 2, infrastructure 3, internal 3 (and says it is a bug).
 */

export type ErrorKind = 'usage' | 'infrastructure' | 'internal';

export interface GuardErrorOptions {
  remedy?: string;
  /** True when the same call may succeed later (5xx, timeouts, connection resets). */
  transient?: boolean;
  cause?: unknown;
}

export class GuardError extends Error {
  readonly kind: ErrorKind;
  readonly remedy: string;
  readonly transient: boolean;

  constructor(kind: ErrorKind, message: string, options: GuardErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'GuardError';
    this.kind = kind;
    this.remedy = options.remedy ?? '';
    this.transient = options.transient ?? false;
  }
}

/** A bad flag, a version that is not semver, a missing value: exit 2. */
export function usageError(message: string, remedy = ''): GuardError {
  return new GuardError('usage', message, { remedy });
}

/** The API, the disk or Qdrant did not let us check: exit 3. */
export function infraError(message: string, options: GuardErrorOptions = {}): GuardError {
  return new GuardError('infrastructure', message, options);
}

/** Adds "while ..." context to a lower error without losing its kind or remedy. */
export function wrapError(err: unknown, context: string): GuardError {
  if (err instanceof GuardError) {
    return new GuardError(err.kind, `${context}: ${err.message}`, {
      remedy: err.remedy,
      transient: err.transient,
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new GuardError('internal', `${context}: ${message}`, {
    remedy: 'This is a bug in qdrant-upgrade-guard; please report it with this output.',
    cause: err,
  });
}

export function exitCodeOfError(err: GuardError): number {
  return err.kind === 'usage' ? 2 : 3;
}
