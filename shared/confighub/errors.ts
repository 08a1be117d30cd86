/**
 * Errors raised while reporting to ConfigHub. A literal `name`, a closed
 * `code`, and what a caller branches on; never the worker secret.
 */

export type ReportErrorCode =
  /** ConfigHub answered 4xx other than 401/408/429: resending will not help. */
  | 'REJECTED'
  /** ConfigHub refused the worker secret, even after reading it afresh. */
  | 'UNAUTHORIZED'
  /** Network errors, timeouts, 408, 429 or 5xx on every attempt. */
  | 'UNAVAILABLE'
  /** The worker secret could not be read. */
  | 'SECRET_UNAVAILABLE'
  /** The caller aborted (the invocation's deadline). */
  | 'ABORTED';

/** An ActionResult could not be delivered. */
export class ReportError extends Error {
  override readonly name = 'ReportError';
  readonly code: ReportErrorCode;
  /** The last HTTP status, when ConfigHub answered. */
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(
    code: ReportErrorCode,
    message: string,
    options: { status?: number; attempts: number; cause?: unknown },
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.status = options.status;
    this.attempts = options.attempts;
  }
}
