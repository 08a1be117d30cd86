/**
 * `dlq replay` by receive-and-send: chosen DLQ messages go back to the source
 * queue with fresh deduplication ids, each unit's in the DLQ's order, and
 * each leaves the DLQ only once its send succeeded.
 *
 * The DLQ's order is the order to keep: a unit's messages reach the DLQ in
 * the order the FIFO queue delivered them (a later message of a unit waits
 * while an earlier one is retried), which is the order ConfigHub sent them.
 * Re-sorting by revision is not possible beyond one receive anyway: SQS
 * returns no more of a unit while one of its messages is in flight.
 *
 * A replay moves what was in the DLQ when it started. A message that fails
 * permanently again is parked anew while the replay still scans, and would
 * otherwise be found and sent back forever; it waits for the next replay.
 */
import {
  DeleteMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Log } from '../../shared/log.js';
import { silentLog } from '../../shared/log.js';
import {
  freshDeduplicationId,
  replayAttributes,
  toDlqEntry,
  type DlqEntry,
} from './entry.js';
import { DlqError } from './errors.js';
import { queueDepth, redrivePolicy } from './queues.js';
import { receiveBatches, releaseMessages } from './scan.js';

/** Which messages to replay; all of them when empty. */
export interface ReplaySelection {
  /** Unit slug (or unit id). */
  unit?: string;
  /** QueuedOperationID. */
  operation?: string;
  /** At most this many messages. */
  max?: number;
}

export type ReplayEvent =
  | { type: 'selected'; entry: DlqEntry; selected: number }
  | { type: 'moved'; entry: DlqEntry }
  | { type: 'failed'; entry: DlqEntry; error: unknown }
  | { type: 'held-back'; entry: DlqEntry };

export interface ReplayOptions {
  queueUrl: string;
  dlqUrl: string;
  selection?: ReplaySelection;
  /** Select and report, but send, delete and change nothing. */
  dryRun?: boolean;
  /** How long scanned messages stay hidden; must outlast the run (300 s). */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait of each receive (1 s). */
  waitTimeSeconds?: number;
  signal?: AbortSignal;
  log?: Log;
  onEvent?: (event: ReplayEvent) => void;
  now?: () => Date;
}

export interface ReplayReport {
  /** The DLQ's approximate depth before the replay. */
  approximateTotal: number;
  /** DLQ messages looked at. */
  scanned: number;
  /** Sent back and deleted from the DLQ. */
  moved: DlqEntry[];
  /** Dry run: what would have been sent back. */
  wouldMove: DlqEntry[];
  /** The send failed: still in the DLQ. */
  failed: { entry: DlqEntry; error: unknown }[];
  /** Not sent because an earlier message of its unit failed: still in the DLQ. */
  heldBack: DlqEntry[];
  /** Sent, but the DLQ delete failed: replayed and still in the DLQ. */
  notDeleted: { entry: DlqEntry; error: unknown }[];
  /** Messages left hidden until their visibility timeout ends. */
  notReleased: number;
  /** Reached the DLQ after the replay started (e.g. failed again): left for the next one. */
  arrivedDuringReplay: number;
}

/** True when every selected message ended up back in the source queue. */
export function replaySucceeded(report: ReplayReport): boolean {
  return (
    report.failed.length === 0 &&
    report.heldBack.length === 0 &&
    report.notDeleted.length === 0
  );
}

/**
 * Moves the selected DLQ messages back to the source queue.
 *
 * Messages not selected stay hidden until the scan ends, then become visible
 * again; so does a message whose send failed, which also keeps the rest of
 * its unit in the DLQ (the FIFO group stays locked), so no later revision of
 * that unit overtakes it.
 */
export async function replayMessages(
  sqs: SQSClient,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const selection = options.selection ?? {};
  const max = selection.max ?? Number.POSITIVE_INFINITY;
  if (!(max > 0)) {
    throw new DlqError(
      'invalid-option',
      `--max must be a positive whole number, got ${String(selection.max)}`,
    );
  }
  const log = options.log ?? silentLog;
  const now = options.now ?? (() => new Date());
  // The wall clock, not `now` (which only stamps ReplayedAt): compared with
  // SQS's SentTimestamp. Clock skew can let a re-parked message through once
  // more, never endlessly.
  const startedAt = Date.now();
  const emit = options.onEvent ?? (() => {});
  const fifo = options.queueUrl.endsWith('.fifo');

  const maxReceiveCount = (await redrivePolicy(sqs, options.queueUrl))
    ?.maxReceiveCount;
  const report: ReplayReport = {
    approximateTotal: await queueDepth(sqs, options.dlqUrl),
    scanned: 0,
    moved: [],
    wouldMove: [],
    failed: [],
    heldBack: [],
    notDeleted: [],
    notReleased: 0,
    arrivedDuringReplay: 0,
  };
  const held: Message[] = [];
  const failedUnits = new Set<string>();
  let selected = 0;

  try {
    for await (const batch of receiveBatches(sqs, {
      queueUrl: options.dlqUrl,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 300,
      waitTimeSeconds: options.waitTimeSeconds ?? 1,
      signal: options.signal,
      log,
    })) {
      report.scanned += batch.length;
      const chosen: { message: Message; entry: DlqEntry }[] = [];
      for (const message of batch) {
        const entry = toDlqEntry(message, maxReceiveCount);
        if (Number(message.Attributes?.SentTimestamp) > startedAt) {
          report.arrivedDuringReplay += 1;
          held.push(message);
        } else if (selected < max && matches(entry, selection)) {
          selected += 1;
          chosen.push({ message, entry });
          emit({ type: 'selected', entry, selected });
        } else {
          held.push(message);
        }
      }

      for (const { message, entry } of chosen) {
        const unit = entry.unitId ?? entry.messageId;
        if (options.dryRun === true) {
          report.wouldMove.push(entry);
          held.push(message);
        } else if (failedUnits.has(unit) || options.signal?.aborted === true) {
          report.heldBack.push(entry);
          held.push(message);
          emit({ type: 'held-back', entry });
        } else {
          try {
            await sendBack(sqs, entry, options.queueUrl, {
              fifo,
              replayedAt: now(),
              signal: options.signal,
            });
          } catch (error) {
            log.warn('replay send failed; the message stays in the DLQ', {
              unit: entry.unitSlug,
              revision: entry.revision,
              operation: entry.operationId,
            });
            failedUnits.add(unit);
            report.failed.push({ entry, error });
            held.push(message);
            emit({ type: 'failed', entry, error });
            continue;
          }

          if (!(await deleteFromDlq(sqs, options.dlqUrl, entry, report, log))) {
            held.push(message);
          }
          emit({ type: 'moved', entry });
        }
      }

      if (selected >= max) {
        break;
      }
    }
  } finally {
    report.notReleased = await releaseMessages(sqs, options.dlqUrl, held, log);
  }

  return report;
}

function matches(entry: DlqEntry, selection: ReplaySelection): boolean {
  if (
    selection.unit !== undefined &&
    selection.unit !== entry.unitSlug &&
    selection.unit !== entry.unitId
  ) {
    return false;
  }

  return (
    selection.operation === undefined ||
    selection.operation === entry.operationId
  );
}

async function sendBack(
  sqs: SQSClient,
  entry: DlqEntry,
  queueUrl: string,
  options: { fifo: boolean; replayedAt: Date; signal?: AbortSignal },
): Promise<void> {
  if (options.fifo && entry.unitId === undefined) {
    throw new DlqError(
      'invalid-option',
      `message ${entry.messageId} has no UnitID in its body and no MessageGroupId, so it cannot go back to the FIFO queue`,
    );
  }

  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: entry.body,
      MessageAttributes: replayAttributes(entry, options.replayedAt),
      ...(options.fifo
        ? {
            MessageGroupId: entry.unitId,
            MessageDeduplicationId: freshDeduplicationId(entry),
          }
        : {}),
    }),
    { abortSignal: options.signal },
  );
}

async function deleteFromDlq(
  sqs: SQSClient,
  dlqUrl: string,
  entry: DlqEntry,
  report: ReplayReport,
  log: Log,
): Promise<boolean> {
  try {
    // No abort signal: once sent, the delete should finish.
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: dlqUrl,
        ReceiptHandle: entry.receiptHandle,
      }),
    );
    report.moved.push(entry);

    return true;
  } catch (error) {
    log.warn('replayed message could not be deleted from the DLQ', {
      unit: entry.unitSlug,
      revision: entry.revision,
      operation: entry.operationId,
    });
    report.notDeleted.push({ entry, error });

    return false;
  }
}
