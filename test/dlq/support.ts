/**
 * DLQ test helpers: events shaped as the webhook queues them, put into the
 * DLQ the two ways they get there (the push function, or SQS redrive).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { QueuedEvent } from '../../shared/event/types.js';
import type { EmbeddedQueue } from '../support/queue.js';

export interface TestEvent {
  unitId: string;
  slug: string;
  revision: number;
  operationId: string;
  action?: QueuedEvent['Action'];
}

export function queuedEvent(event: TestEvent): QueuedEvent {
  return {
    schemaVersion: 1,
    acceptedAt: '2025-01-02T03:04:05Z',
    Action: event.action ?? 'Apply',
    Payload: {
      QueuedOperationID: event.operationId,
      UnitID: event.unitId,
      SpaceID: 'space-1',
      UnitSlug: event.slug,
      ToolchainType: 'Kubernetes/YAML',
      ProviderType: 'FluxOCIWriter',
      RevisionNum: event.revision,
      Data: Buffer.from(`rev: ${event.revision}\n`).toString('base64'),
      LiveState: null,
      TargetParams: {
        Repository: '127.0.0.1:5000/acme',
        Provider: 'Generic',
        AllowDeletion: false,
      },
      ExtraParams: null,
    },
  };
}

/** The message the webhook sends: group = unit, dedup = operation. */
function queueMessage(queueUrl: string, event: TestEvent, extra = {}) {
  return new SendMessageCommand({
    QueueUrl: queueUrl,
    MessageBody: JSON.stringify(queuedEvent(event)),
    MessageGroupId: event.unitId,
    MessageDeduplicationId: event.operationId,
    MessageAttributes: {
      Action: { DataType: 'String', StringValue: event.action ?? 'Apply' },
      UnitSlug: { DataType: 'String', StringValue: event.slug },
      RevisionNum: { DataType: 'Number', StringValue: String(event.revision) },
      QueuedOperationID: { DataType: 'String', StringValue: event.operationId },
      ...extra,
    },
  });
}

/** As the push function moves a permanent failure to the DLQ. */
export async function failPermanently(
  queue: EmbeddedQueue,
  event: TestEvent,
  reason = 'credentials refused',
): Promise<void> {
  await queue.sqs.send(
    queueMessage(queue.dlqUrl, event, {
      FailureClass: { DataType: 'String', StringValue: 'permanent' },
      FailureReason: { DataType: 'String', StringValue: reason },
      FailedAt: { DataType: 'String', StringValue: '2025-01-02T03:05:00Z' },
      ReceiveCount: { DataType: 'Number', StringValue: '1' },
    }),
  );
}

/**
 * As the webhook queues an event that then fails every receive until SQS
 * redrives it to the DLQ.
 */
export async function failUntilRedriven(
  queue: EmbeddedQueue,
  event: TestEvent,
): Promise<void> {
  await queue.sqs.send(queueMessage(queue.queueUrl, event));
  for (let receive = 0; receive <= queue.maxReceiveCount; receive += 1) {
    await queue.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.queueUrl,
        VisibilityTimeout: 0,
      }),
    );
  }
}

export interface QueueCounts {
  visible: number;
  inFlight: number;
}

export async function counts(
  sqs: SQSClient,
  queueUrl: string,
): Promise<QueueCounts> {
  const answer = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
      ],
    }),
  );

  return {
    visible: Number(answer.Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(answer.Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

/**
 * Consumes a queue in FIFO order, deleting nothing but hiding each message
 * for a minute: every message once, each unit's in order.
 */
export async function drain(
  sqs: SQSClient,
  queueUrl: string,
): Promise<Message[]> {
  const received: Message[] = [];
  for (;;) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (answer.Messages === undefined || answer.Messages.length === 0) {
      return received;
    }
    received.push(...answer.Messages);
    // Delete so that the next message of each FIFO group becomes available.
    for (const message of answer.Messages) {
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
    }
  }
}

/** "slug@rev" of a received queue message, from its body. */
export function label(message: Message): string {
  const event = JSON.parse(message.Body ?? '{}') as QueuedEvent;

  return `${event.Payload.UnitSlug}@${event.Payload.RevisionNum}`;
}

/** A `.local/stack.json` for the embedded queue, in a temp dir. */
export async function localStackFile(
  queue: EmbeddedQueue,
): Promise<{ file: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dlq-stack-'));
  const file = join(dir, 'stack.json');
  await writeFile(
    file,
    JSON.stringify({
      webhookUrl: 'http://127.0.0.1:9/webhook',
      sqsEndpoint: queue.endpoint,
      region: queue.region,
      queueUrl: queue.queueUrl,
      dlqUrl: queue.dlqUrl,
      signingSecret: 'test-signing-secret',
    }),
  );

  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A stream that keeps what is written to it. */
export class Capture extends Writable {
  text = '';
  isTTY = false;

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.text += chunk.toString();
    done();
  }
}
