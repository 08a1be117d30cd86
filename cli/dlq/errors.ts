/** Errors of the dead-letter queue tools. */

export type DlqErrorCode =
  /** The source queue or the DLQ could not be determined. */
  | 'queue-unknown'
  /** The queue service rejected or failed a request. */
  | 'queue-request'
  /** The queue service offers no message move tasks (fauxqs). */
  | 'move-task-unsupported'
  /** A move task already runs; a second one cannot start. */
  | 'move-task-running'
  /** No move task is running where one was expected. */
  | 'move-task-not-running'
  /** A move task ended FAILED or CANCELLED. */
  | 'move-task-failed'
  /** Options that do not go together. */
  | 'invalid-option';

/** A DLQ operation failed; the message says what to do about it. */
export class DlqError extends Error {
  override readonly name = 'DlqError';

  constructor(
    readonly code: DlqErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
