/** `dlq list`: what is in the DLQ and why, leaving every message in place. */
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import type { Log } from '../../shared/log.js';
import { silentLog } from '../../shared/log.js';
import { toDlqEntry, type DlqEntry } from './entry.js';
import { queueDepth, redrivePolicy } from './queues.js';
import { receiveBatches, releaseMessages } from './scan.js';

export interface ListOptions {
  dlqUrl: string;
  /** The source queue, read for its maxReceiveCount; optional. */
  queueUrl?: string;
  /** At most this many messages (default 100). */
  max?: number;
  /** How long listed messages stay hidden if the release fails (30 s). */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait of each receive (1 s). */
  waitTimeSeconds?: number;
  signal?: AbortSignal;
  log?: Log;
}

export interface DlqListing {
  entries: DlqEntry[];
  /** The DLQ's approximate depth before listing. */
  approximateTotal: number;
  /** Listed messages the queue service did not make visible again. */
  notReleased: number;
}

/**
 * Receives up to `max` messages, keeps them hidden while listing, then makes
 * them all visible again, also when listing fails half-way.
 */
export async function listDlq(
  sqs: SQSClient,
  options: ListOptions,
): Promise<DlqListing> {
  const max = options.max ?? 100;
  const log = options.log ?? silentLog;
  const approximateTotal = await queueDepth(sqs, options.dlqUrl);
  const maxReceiveCount =
    options.queueUrl === undefined
      ? undefined
      : (await redrivePolicy(sqs, options.queueUrl))?.maxReceiveCount;

  const held: Message[] = [];
  let notReleased = 0;
  try {
    for await (const batch of receiveBatches(sqs, {
      queueUrl: options.dlqUrl,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
      waitTimeSeconds: options.waitTimeSeconds ?? 1,
      signal: options.signal,
      log,
    })) {
      held.push(...batch);
      if (held.length >= max) {
        break;
      }
    }
  } finally {
    notReleased = await releaseMessages(sqs, options.dlqUrl, held, log);
  }

  return {
    entries: held
      .slice(0, max)
      .map((message) => toDlqEntry(message, maxReceiveCount)),
    approximateTotal,
    notReleased,
  };
}
