/**
 * The embedded SQS-compatible queue of the local stack and the tests: fauxqs,
 * with a FIFO queue and a FIFO dead-letter queue redriven after the same
 * receive count as the deployed stack.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';

/** Lambda's and the CDK stack's default: five receives, then the DLQ. */
export const DEFAULT_MAX_RECEIVE_COUNT = 5;

export interface EmbeddedQueueOptions {
  /** Receives before SQS moves a message to the DLQ. */
  maxReceiveCount?: number;
  /** Seconds a received message stays invisible (scaled down locally). */
  visibilityTimeoutSeconds?: number;
  /** Queue name stem; `.fifo` is appended. */
  name?: string;
  region?: string;
}

export interface EmbeddedQueue {
  /** `http://127.0.0.1:<port>`: the SQS endpoint. */
  endpoint: string;
  region: string;
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
  /** A client pointed at the embedded endpoint. */
  sqs: SQSClient;
  /** Builds another client for the endpoint (e.g. with other middleware). */
  client(): SQSClient;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs on a free loopback port and creates the queue pair.
 * `startFauxqs` binds every interface, so the server is built with
 * `buildApp` and listens on 127.0.0.1 only.
 */
export async function startEmbeddedQueue(
  options: EmbeddedQueueOptions = {},
): Promise<EmbeddedQueue> {
  const region = options.region ?? 'us-east-1';
  const maxReceiveCount = options.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT;
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 30;
  const stem = options.name ?? 'confighub-flux-oci';

  const app = buildApp({ logger: false, defaultRegion: region });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const endpoint = new URL(address).origin;
  const client = (): SQSClient =>
    new SQSClient({
      endpoint,
      region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  const sqs = client();

  try {
    const dlq = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${stem}-dlq.fifo`,
        Attributes: {
          FifoQueue: 'true',
          MessageRetentionPeriod: String(14 * 24 * 3600),
        },
      }),
    );
    const dlqUrl = required(dlq.QueueUrl, 'DLQ url');
    const dlqArn = await queueArn(sqs, dlqUrl);
    const main = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${stem}.fifo`,
        Attributes: {
          FifoQueue: 'true',
          VisibilityTimeout: String(visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount,
          }),
        },
      }),
    );
    const queueUrl = required(main.QueueUrl, 'queue url');
    return {
      endpoint,
      region,
      queueUrl,
      queueArn: await queueArn(sqs, queueUrl),
      dlqUrl,
      dlqArn,
      maxReceiveCount,
      visibilityTimeoutSeconds,
      sqs,
      client,
      async stop() {
        sqs.destroy();
        await app.close();
      },
    };
  } catch (error) {
    sqs.destroy();
    await app.close();
    throw error;
  }
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['QueueArn'],
    }),
  );
  return required(attributes.Attributes?.QueueArn, 'queue ARN');
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) {
    throw new Error(`the embedded queue returned no ${what}`);
  }
  return value;
}
