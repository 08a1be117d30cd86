/**
 * The embedded queue for tests: the local stack's own fauxqs setup (FIFO
 * queue plus FIFO DLQ with redrive), listening on 127.0.0.1 only, plus a
 * helper that drains a queue for assertions.
 */
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';

import {
  startEmbeddedQueue,
  type EmbeddedQueue,
  type EmbeddedQueueOptions,
} from '../../local/queue.js';

export { startEmbeddedQueue, type EmbeddedQueue, type EmbeddedQueueOptions };

export interface TestQueue extends EmbeddedQueue {
  /**
   * Receives every message now visible in `queueUrl` (the main queue by
   * default), with all attributes, and deletes each one, so FIFO groups
   * are not blocked and the next test starts empty.
   */
  receiveAll(queueUrl?: string): Promise<Message[]>;
}

/** Starts the embedded queue pair with a `receiveAll()` helper. */
export async function startTestQueue(
  options: EmbeddedQueueOptions = {},
): Promise<TestQueue> {
  const queue = await startEmbeddedQueue(options);

  async function receiveAll(queueUrl = queue.queueUrl): Promise<Message[]> {
    const all: Message[] = [];
    for (;;) {
      const { Messages: batch = [] } = await queue.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (batch.length === 0) return all;
      for (const message of batch) {
        await queue.sqs.send(
          new DeleteMessageCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
      }
      all.push(...batch);
    }
  }

  return { ...queue, receiveAll };
}
