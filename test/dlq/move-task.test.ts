import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  UnsupportedOperation,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { runDlqCli } from '../../cli/dlq/main.js';
import { isMoveTaskUnsupported } from '../../cli/dlq/move-task.js';
import { Capture } from './support.js';

const QUEUE_URL =
  'https://sqs.eu-west-1.amazonaws.com/123456789012/bridge-queue.fifo';
const DLQ_URL =
  'https://sqs.eu-west-1.amazonaws.com/123456789012/bridge-dlq.fifo';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:bridge-queue.fifo';
const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:bridge-dlq.fifo';
const STARTED = 1_735_787_045_000;

const AWS_FLAGS = ['--queue-url', QUEUE_URL, '--dlq-url', DLQ_URL];

function task(status: string, moved: number, handle?: string) {
  return {
    TaskHandle: handle,
    Status: status,
    SourceArn: DLQ_ARN,
    DestinationArn: QUEUE_ARN,
    ApproximateNumberOfMessagesMoved: moved,
    ApproximateNumberOfMessagesToMove: 3,
    StartedTimestamp: STARTED,
  };
}

describe('dlq replay (command) with SQS move tasks', () => {
  const sqs = mockClient(SQSClient);
  let client: SQSClient;

  const run = async (args: string[]) => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await runDlqCli(
      [...args, ...AWS_FLAGS],
      { stdout, stderr, env: {} },
      { createSqs: () => client, pollIntervalMs: 0 },
    );
    return { code, stdout: stdout.text, stderr: stderr.text };
  };

  beforeEach(() => {
    sqs.reset();
    client = new SQSClient({ region: 'eu-west-1' });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL })
      .resolves({ Attributes: { QueueArn: QUEUE_ARN } })
      .on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL })
      .resolves({ Attributes: { QueueArn: DLQ_ARN } });
  });

  afterEach(() => {
    sqs.reset();
  });

  describe('when replaying everything', () => {
    it('starts a task from the DLQ to the queue and polls it to COMPLETED', async () => {
      sqs
        .on(StartMessageMoveTaskCommand)
        .resolves({ TaskHandle: 'handle-1' })
        .on(ListMessageMoveTasksCommand)
        .resolvesOnce({ Results: [task('COMPLETED', 5)] })
        .resolvesOnce({ Results: [task('RUNNING', 0, 'handle-1')] })
        .resolvesOnce({ Results: [task('RUNNING', 2, 'handle-1')] })
        .resolves({ Results: [task('COMPLETED', 3)] });

      const result = await run(['replay']);

      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(
        sqs
          .commandCalls(StartMessageMoveTaskCommand)
          .map((call) => call.args[0].input),
        [{ SourceArn: DLQ_ARN, DestinationArn: QUEUE_ARN }],
      );
      // One look for a running task, then three polls.
      assert.equal(sqs.commandCalls(ListMessageMoveTasksCommand).length, 4);
      assert.match(result.stderr, /RUNNING .*: 2 of 3 message\(s\) moved/);
      assert.match(
        result.stdout,
        /redrive task COMPLETED: 3 message\(s\) moved back to /,
      );
    });
  });

  describe('when the task fails', () => {
    it('reports the reason and exits 1', async () => {
      sqs
        .on(StartMessageMoveTaskCommand)
        .resolves({ TaskHandle: 'handle-1' })
        .on(ListMessageMoveTasksCommand)
        .resolvesOnce({ Results: [] })
        .resolves({
          Results: [
            {
              ...task('FAILED', 1),
              FailureReason: 'AWS.SimpleQueueService.AccessDenied',
            },
          ],
        });

      const result = await run(['replay']);

      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /ended FAILED after moving 1 messages: AWS.SimpleQueueService.AccessDenied; the rest is still in the DLQ/,
      );
    });
  });

  describe('when a task is already running', () => {
    it('starts none and points at --status and --cancel', async () => {
      sqs
        .on(ListMessageMoveTasksCommand)
        .resolves({ Results: [task('RUNNING', 1, 'handle-0')] });

      const result = await run(['replay']);

      assert.equal(result.code, 1);
      assert.equal(sqs.commandCalls(StartMessageMoveTaskCommand).length, 0);
      assert.match(
        result.stderr,
        /already running .*replay --status.*replay --cancel/,
      );
    });
  });

  describe('when asked for the status', () => {
    it('prints the newest task', async () => {
      sqs
        .on(ListMessageMoveTasksCommand)
        .resolves({ Results: [task('RUNNING', 2, 'handle-1')] });

      const result = await run(['replay', '--status']);

      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        /^redrive task RUNNING \(started 2025-01-02T03:04:05\.000Z\): 2 of 3 message\(s\) moved/,
      );
    });
  });

  describe('when cancelling', () => {
    it('cancels the running task by its handle', async () => {
      sqs
        .on(ListMessageMoveTasksCommand)
        .resolves({ Results: [task('RUNNING', 2, 'handle-1')] })
        .on(CancelMessageMoveTaskCommand)
        .resolves({ ApproximateNumberOfMessagesMoved: 2 });

      const result = await run(['replay', '--cancel']);

      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(
        sqs
          .commandCalls(CancelMessageMoveTaskCommand)
          .map((call) => call.args[0].input),
        [{ TaskHandle: 'handle-1' }],
      );
      assert.match(result.stdout, /2 message\(s\) were moved/);
    });

    it('says so when no task runs and exits 1', async () => {
      sqs
        .on(ListMessageMoveTasksCommand)
        .resolves({ Results: [task('COMPLETED', 3)] });

      const result = await run(['replay', '--cancel']);

      assert.equal(result.code, 1);
      assert.equal(sqs.commandCalls(CancelMessageMoveTaskCommand).length, 0);
      assert.match(
        result.stderr,
        /no move task is running for .*nothing to cancel/,
      );
    });
  });
});

describe('isMoveTaskUnsupported', () => {
  describe('when SQS answers UnsupportedOperation', () => {
    it('is true', () => {
      const error = new UnsupportedOperation({
        message: 'unsupported',
        $metadata: {},
      });

      assert.equal(isMoveTaskUnsupported(error), true);
    });
  });

  describe('when the error is anything else', () => {
    it('is false', () => {
      assert.equal(isMoveTaskUnsupported(new Error('InvalidAction')), false);
    });
  });
});
