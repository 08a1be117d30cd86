/**
 * A stand-in for Lambda's SQS event source mapping: polls the queue, hands
 * the push handler Lambda-shaped batches, and deletes only the messages the
 * handler did not report as failed. Failed messages stay in the queue and
 * come back after the queue's visibility timeout, so SQS counts the receive
 * and redrives to the DLQ after maxReceiveCount.
 *
 * Lambda refuses a mapping whose queue visibility timeout is shorter than
 * the function timeout, so a message never reappears while a handler still
 * works on it. The local queue's timeout is seconds, to make retries quick;
 * so messages are received hidden for the function timeout, and a failed
 * one is hidden again for the queue's timeout once the handler is done.
 */
import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import { localLambdaContext } from '../shared/lambda-context.js';
import type { Log } from '../shared/log.js';

export type SqsBatchHandler = (
  event: SQSEvent,
  context: Context,
) => Promise<SQSBatchResponse | void>;

export interface EventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: SqsBatchHandler;
  /** Messages per invocation (Lambda's batch size); 10 at most for FIFO. */
  batchSize?: number;
  /**
   * Invocations at once; 1. Lambda runs a FIFO queue's message groups
   * concurrently; the queue keeps each group to one batch at a time.
   */
  concurrency?: number;
  /** The function timeout the handler sees through getRemainingTimeInMillis. */
  functionTimeoutMs?: number;
  functionName?: string;
  log: Log;
}

export interface EventSource {
  /** Resolves once the current batches (if any) have finished. */
  stop(): Promise<void>;
  /** Invocations so far, for progress output. */
  readonly invocations: number;
  /** True while a received batch is being handled, deleted or returned. */
  readonly busy: boolean;
}

/** Starts polling; returns a handle to stop it. */
export function startEventSource(options: EventSourceOptions): EventSource {
  const batchSize = options.batchSize ?? 10;
  const concurrency = options.concurrency ?? 1;
  const timeoutMs = options.functionTimeoutMs ?? 60_000;
  const functionName = options.functionName ?? 'push';
  // Hidden while handled: the function timeout and a little more.
  const handlingSeconds = Math.ceil(timeoutMs / 1000) + 5;
  let running = true;
  let invocations = 0;
  let active = 0;
  const abort = new AbortController();
  let retryDelay: Promise<number> | undefined;
  const queueVisibilityTimeout = (): Promise<number> => {
    retryDelay ??= options.sqs
      .send(
        new GetQueueAttributesCommand({
          QueueUrl: options.queueUrl,
          AttributeNames: ['VisibilityTimeout'],
        }),
      )
      .then((answer) => Number(answer.Attributes?.VisibilityTimeout ?? 30))
      .catch((error: unknown) => {
        retryDelay = undefined;
        throw error;
      });
    return retryDelay;
  };

  const loop = async (): Promise<void> => {
    while (running) {
      let messages: Message[];
      try {
        const received = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: 1,
            VisibilityTimeout: handlingSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (!running) return;
        options.log.warn('receive from the queue failed; polling again', {
          error: String(error),
        });
        await delay(500);
        continue;
      }
      if (messages.length === 0) continue;

      active += 1;
      try {
        await invoke(messages);
      } catch (error) {
        // The messages come back when their visibility timeout ends.
        options.log.error('settling a batch with the queue failed', {
          error: String(error),
        });
      } finally {
        active -= 1;
      }
    }
  };

  const invoke = async (messages: Message[]): Promise<void> => {
    invocations += 1;
    const event: SQSEvent = {
      Records: messages.map((m) => toRecord(m, options)),
    };
    const context = localLambdaContext({ functionName, timeoutMs });
    let failed: Set<string>;
    try {
      const response = await options.handler(event, context);
      failed = new Set(
        (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier),
      );
    } catch (error) {
      // A thrown handler fails the whole batch, as in Lambda.
      options.log.error('push handler threw; the whole batch returns', {
        error: String(error),
      });
      failed = new Set(messages.map((m) => m.MessageId ?? ''));
    }
    const done = messages.filter(
      (m) => m.MessageId !== undefined && !failed.has(m.MessageId),
    );
    const retried = messages.filter((m) => !done.includes(m));
    if (done.length > 0) {
      const answer = await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle,
          })),
        }),
      );
      if ((answer.Failed ?? []).length > 0) {
        options.log.warn(
          'handled messages could not be deleted; they come back',
          {
            failed: answer.Failed?.map((f) => f.Code),
          },
        );
      }
    }
    if (retried.length > 0) {
      const retrySeconds = await queueVisibilityTimeout();
      await options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: retried.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: retrySeconds,
          })),
        }),
      );
    }
  };

  const finished = Promise.all(
    Array.from({ length: concurrency }, () => loop()),
  );
  return {
    get invocations() {
      return invocations;
    },
    get busy() {
      return active > 0;
    },
    async stop() {
      running = false;
      abort.abort();
      await finished;
    },
  };
}

function toRecord(message: Message, options: EventSourceOptions): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? String(Date.now()),
    SenderId: system.SenderId ?? 'local',
    ApproximateFirstReceiveTimestamp:
      system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    ...(system.SequenceNumber && { SequenceNumber: system.SequenceNumber }),
    ...(system.MessageGroupId && { MessageGroupId: system.MessageGroupId }),
    ...(system.MessageDeduplicationId && {
      MessageDeduplicationId: system.MessageDeduplicationId,
    }),
  } satisfies SQSRecordAttributes;
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringValue: value.StringValue,
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? randomUUID(),
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
