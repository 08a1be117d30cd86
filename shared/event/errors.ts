/**
 * Errors of the event contract. A literal `name` (minifiers rename classes),
 * a closed `code`, and the issues a caller reports field by field.
 */

/** One bad field: a dotted path into the body and what is wrong with it. */
export interface EventIssue {
  /** e.g. `Payload.UnitSlug`; `''` for the body as a whole. */
  path: string;
  message: string;
}

export type EventErrorCode = 'INVALID_EVENT';

/** A body is not a valid event (or queued event); every issue is listed. */
export class EventValidationError extends Error {
  override readonly name = 'EventValidationError';
  readonly code: EventErrorCode = 'INVALID_EVENT';
  readonly issues: readonly EventIssue[];

  constructor(what: string, issues: readonly EventIssue[]) {
    super(`${what} is not valid: ${formatIssues(issues)}`);
    this.issues = issues;
  }
}

/** `Payload.UnitSlug: …; Action: …` — one line for logs and errors. */
export function formatIssues(issues: readonly EventIssue[]): string {
  return issues
    .map((issue) =>
      issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`,
    )
    .join('; ');
}
