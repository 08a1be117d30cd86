/**
 * Facts about the queue pair read from the queue service: ARNs, the redrive
 * policy, depths, and the half of the pair a user did not name.
 */
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DlqError } from './errors.js';

/** Both queues, by URL. */
export interface QueuePair {
  queueUrl: string;
  dlqUrl: string;
}

/** `GetQueueAttributes QueueArn`. */
export async function queueArn(
  sqs: SQSClient,
  queueUrl: string,
): Promise<string> {
  const arn = (await attributes(sqs, queueUrl, ['QueueArn'])).QueueArn;
  if (arn === undefined) {
    throw new DlqError(
      'queue-request',
      `the queue service returned no QueueArn for ${queueUrl}`,
    );
  }

  return arn;
}

/** The source queue's redrive policy, when it has one. */
export async function redrivePolicy(
  sqs: SQSClient,
  queueUrl: string,
): Promise<
  { deadLetterTargetArn: string; maxReceiveCount: number } | undefined
> {
  const text = (await attributes(sqs, queueUrl, ['RedrivePolicy']))
    .RedrivePolicy;
  if (text === undefined || text === '') {
    return undefined;
  }
  const policy = JSON.parse(text) as {
    deadLetterTargetArn?: unknown;
    maxReceiveCount?: unknown;
  };
  if (typeof policy.deadLetterTargetArn !== 'string') {
    return undefined;
  }

  return {
    deadLetterTargetArn: policy.deadLetterTargetArn,
    maxReceiveCount: Number(policy.maxReceiveCount),
  };
}

/** Messages in the queue: visible, in flight and delayed, approximately. */
export async function queueDepth(
  sqs: SQSClient,
  queueUrl: string,
): Promise<number> {
  const found = await attributes(sqs, queueUrl, [
    'ApproximateNumberOfMessages',
    'ApproximateNumberOfMessagesNotVisible',
    'ApproximateNumberOfMessagesDelayed',
  ]);

  return (
    Number(found.ApproximateNumberOfMessages ?? 0) +
    Number(found.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(found.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/**
 * Completes a pair of which only one URL is known: the DLQ from the source
 * queue's redrive policy, the source from the DLQ's only source queue.
 */
export async function completeQueuePair(
  sqs: SQSClient,
  known: { queueUrl?: string; dlqUrl?: string },
): Promise<QueuePair> {
  if (known.queueUrl !== undefined && known.dlqUrl !== undefined) {
    return { queueUrl: known.queueUrl, dlqUrl: known.dlqUrl };
  }

  if (known.queueUrl !== undefined) {
    const policy = await redrivePolicy(sqs, known.queueUrl);
    if (policy === undefined) {
      throw new DlqError(
        'queue-unknown',
        `${known.queueUrl} has no redrive policy, so it has no DLQ: pass --dlq-url`,
      );
    }
    return {
      queueUrl: known.queueUrl,
      dlqUrl: await queueUrlOfArn(sqs, policy.deadLetterTargetArn),
    };
  }

  if (known.dlqUrl !== undefined) {
    const sources = await sqs.send(
      new ListDeadLetterSourceQueuesCommand({ QueueUrl: known.dlqUrl }),
    );
    const urls = sources.queueUrls ?? [];
    const [only] = urls;
    if (only === undefined || urls.length > 1) {
      throw new DlqError(
        'queue-unknown',
        `${known.dlqUrl} is the DLQ of ${urls.length} queues (${urls.join(', ') || 'none'}): pass --queue-url to say where messages go back to`,
      );
    }
    return { queueUrl: only, dlqUrl: known.dlqUrl };
  }

  throw new DlqError(
    'queue-unknown',
    'no queue given: pass --queue-url and --dlq-url, or --stack NAME',
  );
}

/** `arn:aws:sqs:REGION:ACCOUNT:NAME` → its queue URL. */
async function queueUrlOfArn(sqs: SQSClient, arn: string): Promise<string> {
  const [, , , , account, name] = arn.split(':');
  if (account === undefined || name === undefined) {
    throw new DlqError('queue-unknown', `not an SQS queue ARN: ${arn}`);
  }
  const found = await sqs.send(
    new GetQueueUrlCommand({
      QueueName: name,
      QueueOwnerAWSAccountId: account,
    }),
  );
  if (found.QueueUrl === undefined) {
    throw new DlqError('queue-unknown', `no queue URL for ${arn}`);
  }

  return found.QueueUrl;
}

async function attributes(
  sqs: SQSClient,
  queueUrl: string,
  names: QueueAttributeName[],
): Promise<Record<string, string>> {
  const answer = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: names,
    }),
  );

  return answer.Attributes ?? {};
}
