/**
 * Reading a FIFO DLQ without consuming it. Received messages stay invisible
 * (held) until the caller is done, then become visible again at once.
 *
 * Releasing each batch immediately does not work on a FIFO queue: the next
 * receive returns the same heads of the same message groups again, and the
 * other groups are never reached. While a group has a message in flight, SQS
 * returns nothing more of it, so holding is also what keeps a unit's order.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Log } from '../../shared/log.js';
import { silentLog } from '../../shared/log.js';
import { SYSTEM_ATTRIBUTES } from './entry.js';

/** SQS's limit for ReceiveMessage and the *Batch calls. */
const SQS_BATCH_LIMIT = 10;

export interface ReceiveOptions {
  queueUrl: string;
  /** How long received messages stay hidden; must outlast the whole run. */
  visibilityTimeoutSeconds: number;
  /** Long-poll wait of each receive; 0 for short polling. */
  waitTimeSeconds: number;
  signal?: AbortSignal;
  log?: Log;
}

/**
 * Yields batches of newly received messages until the queue has nothing
 * visible left, the signal aborts, or a message comes back a second time
 * (its visibility timeout ran out: the run took too long). A returning
 * message is released again at once and not yielded twice.
 */
export async function* receiveBatches(
  sqs: SQSClient,
  options: ReceiveOptions,
): AsyncGenerator<Message[]> {
  const log = options.log ?? silentLog;
  const seen = new Set<string>();

  while (options.signal?.aborted !== true) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: SQS_BATCH_LIMIT,
        VisibilityTimeout: options.visibilityTimeoutSeconds,
        WaitTimeSeconds: options.waitTimeSeconds,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
      }),
      { abortSignal: options.signal },
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) {
      return;
    }

    const fresh = messages.filter((m) => !seen.has(m.MessageId ?? ''));
    const returned = messages.filter((m) => seen.has(m.MessageId ?? ''));
    for (const message of fresh) {
      seen.add(message.MessageId ?? '');
    }
    if (fresh.length > 0) {
      yield fresh;
    }
    if (returned.length > 0) {
      log.warn('messages came back before the run ended; stopping the scan', {
        count: returned.length,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      });
      await releaseMessages(sqs, options.queueUrl, returned, log);
      return;
    }
  }
}

/**
 * Makes held messages visible again (visibility timeout 0). Returns how many
 * could not be released; those reappear when their timeout ends.
 */
export async function releaseMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Pick<Message, 'ReceiptHandle'>[],
  log: Log = silentLog,
): Promise<number> {
  let failed = 0;
  for (let start = 0; start < messages.length; start += SQS_BATCH_LIMIT) {
    const chunk = messages.slice(start, start + SQS_BATCH_LIMIT);
    try {
      const answer = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
      failed += answer.Failed?.length ?? 0;
      for (const entry of answer.Failed ?? []) {
        log.warn('could not make a message visible again', {
          code: entry.Code,
          reason: entry.Message,
        });
      }
    } catch (error) {
      // Releasing is best effort: the messages come back on their own when
      // the visibility timeout ends; the caller reports the count.
      failed += chunk.length;
      log.warn('could not make messages visible again', {
        count: chunk.length,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  return failed;
}
