/**
 * A stand-in for Lambda's SQS event source mapping: polls the queue, hands
 * the push handler Lambda-shaped batches, and deletes only the messages the
 * handler did not report as failed. Failed messages stay in the queue until
 * their visibility timeout ends, as with Lambda, so SQS counts the receive
 * and redrives to the DLQ after maxReceiveCount.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
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
  /** The function timeout the handler sees through getRemainingTimeInMillis. */
  functionTimeoutMs?: number;
  functionName?: string;
  log: Log;
}

export interface EventSource {
  /** Resolves once the current batch (if any) has finished. */
  stop(): Promise<void>;
  /** Invocations so far, for progress output. */
  readonly invocations: number;
}

/** Starts polling; returns a handle to stop it. */
export function startEventSource(options: EventSourceOptions): EventSource {
  const batchSize = options.batchSize ?? 10;
  const timeoutMs = options.functionTimeoutMs ?? 60_000;
  const functionName = options.functionName ?? 'push';
  let running = true;
  let invocations = 0;
  const abort = new AbortController();

  const loop = async (): Promise<void> => {
    while (running) {
      let messages: Message[];
      try {
        const received = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: 1,
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

      invocations += 1;
      const event: SQSEvent = {
        Records: messages.map((m) => toRecord(m, options)),
      };
      const context = lambdaContext(functionName, timeoutMs);
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
        continue;
      }
      const done = messages.filter(
        (m) => m.MessageId !== undefined && !failed.has(m.MessageId),
      );
      if (done.length > 0) {
        await options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: done.map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle,
            })),
          }),
        );
      }
    }
  };

  const finished = loop();
  return {
    get invocations() {
      return invocations;
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

function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
