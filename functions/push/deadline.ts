/**
 * The invocation's clock: two signals derived from the Lambda context, so
 * work stops cleanly before Lambda kills the function half-way.
 */
import type { Context } from 'aws-lambda';

import { PushError } from './errors.js';

export interface Deadline {
  /** Aborted `workMarginMs` before the deadline: stops registry work. */
  work: AbortSignal;
  /** Aborted `finalMarginMs` before the deadline: stops reporting and DLQ sends. */
  final: AbortSignal;
  /** Clears the timers. */
  dispose(): void;
}

export interface DeadlineMargins {
  workMarginMs: number;
  finalMarginMs: number;
}

export function startDeadline(
  context: Context,
  margins: DeadlineMargins,
): Deadline {
  const remaining = context.getRemainingTimeInMillis();
  const work = new AbortController();
  const final = new AbortController();
  const arm = (controller: AbortController, marginMs: number, what: string) => {
    const fire = () =>
      controller.abort(
        new PushError(
          'DEADLINE',
          `${what} stopped ${marginMs} ms before the Lambda deadline (the function had ${remaining} ms); SQS will deliver the message again`,
        ),
      );
    const delay = remaining - marginMs;
    if (delay <= 0) {
      fire();
      return undefined;
    }
    const timer = setTimeout(fire, delay);
    timer.unref();
    return timer;
  };
  const timers = [
    arm(work, margins.workMarginMs, 'work'),
    arm(final, margins.finalMarginMs, 'reporting'),
  ];
  return {
    work: work.signal,
    final: final.signal,
    dispose() {
      for (const timer of timers) clearTimeout(timer);
    },
  };
}
