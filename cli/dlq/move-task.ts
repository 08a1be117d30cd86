/**
 * `dlq replay` of everything through SQS's own redrive: a message move task
 * from the DLQ to the source queue, polled until it ends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelMessageMoveTaskCommand,
  ListMessageMoveTasksCommand,
  SQSServiceException,
  StartMessageMoveTaskCommand,
  UnsupportedOperation,
  type ListMessageMoveTasksResultEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DlqError } from './errors.js';

/** A move task as ListMessageMoveTasks reports it. */
export interface MoveTask {
  /** Only while the task runs. */
  taskHandle?: string;
  status: string;
  moved: number;
  /** Messages the task set out to move, when known. */
  toMove?: number;
  failureReason?: string;
  startedAt?: string;
  sourceArn?: string;
  destinationArn?: string;
}

/**
 * True when the queue service has no move tasks at all: fauxqs answers
 * `InvalidAction` (checked with fauxqs 2.4.1), SQS `UnsupportedOperation`.
 */
export function isMoveTaskUnsupported(error: unknown): boolean {
  if (error instanceof UnsupportedOperation) {
    return true;
  }

  return error instanceof SQSServiceException && error.name === 'InvalidAction';
}

/**
 * Starts moving every DLQ message back. Without `destinationArn`, SQS sends
 * each message back to the queue it was dead-lettered from.
 */
export async function startMoveTask(
  sqs: SQSClient,
  options: { dlqArn: string; destinationArn?: string },
): Promise<string> {
  const answer = await sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: options.dlqArn,
      DestinationArn: options.destinationArn,
    }),
  );
  if (answer.TaskHandle === undefined) {
    throw new DlqError(
      'queue-request',
      `StartMessageMoveTask for ${options.dlqArn} returned no task handle`,
    );
  }

  return answer.TaskHandle;
}

/** The DLQ's move tasks, newest first (SQS keeps the last ten). */
export async function listMoveTasks(
  sqs: SQSClient,
  dlqArn: string,
): Promise<MoveTask[]> {
  const answer = await sqs.send(
    new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 10 }),
  );

  return (answer.Results ?? []).map(toMoveTask);
}

/** The running task, if any. */
export async function runningMoveTask(
  sqs: SQSClient,
  dlqArn: string,
): Promise<MoveTask | undefined> {
  return (await listMoveTasks(sqs, dlqArn)).find(
    (task) => task.status === 'RUNNING',
  );
}

const FINAL_STATUSES = new Set(['COMPLETED', 'CANCELLED', 'FAILED']);

export interface WaitOptions {
  /** Between polls; 2 s by default. */
  intervalMs?: number;
  signal?: AbortSignal;
  onProgress?: (task: MoveTask) => void;
}

/**
 * Polls the newest move task of the DLQ until it is COMPLETED, CANCELLED or
 * FAILED, and returns it. Throws `move-task-failed` unless it COMPLETED.
 */
export async function waitForMoveTask(
  sqs: SQSClient,
  dlqArn: string,
  options: WaitOptions = {},
): Promise<MoveTask> {
  const intervalMs = options.intervalMs ?? 2000;
  for (;;) {
    const [task] = await listMoveTasks(sqs, dlqArn);
    if (task === undefined) {
      throw new DlqError(
        'move-task-not-running',
        `no move task found for ${dlqArn} after starting one`,
      );
    }
    options.onProgress?.(task);

    if (FINAL_STATUSES.has(task.status)) {
      if (task.status !== 'COMPLETED') {
        throw new DlqError(
          'move-task-failed',
          `the move task from ${dlqArn} ended ${task.status} after moving ${task.moved} messages${task.failureReason === undefined ? '' : `: ${task.failureReason}`}; the rest is still in the DLQ, fix the cause and run replay again`,
        );
      }
      return task;
    }
    await sleep(intervalMs, undefined, { signal: options.signal });
  }
}

/** Cancels the running move task; messages already moved stay moved. */
export async function cancelMoveTask(
  sqs: SQSClient,
  dlqArn: string,
): Promise<{ task: MoveTask; moved: number }> {
  const task = await runningMoveTask(sqs, dlqArn);
  if (task?.taskHandle === undefined) {
    throw new DlqError(
      'move-task-not-running',
      `no move task is running for ${dlqArn}: nothing to cancel`,
    );
  }
  const answer = await sqs.send(
    new CancelMessageMoveTaskCommand({ TaskHandle: task.taskHandle }),
  );

  return { task, moved: answer.ApproximateNumberOfMessagesMoved ?? task.moved };
}

function toMoveTask(entry: ListMessageMoveTasksResultEntry): MoveTask {
  return {
    taskHandle: entry.TaskHandle,
    status: entry.Status ?? 'UNKNOWN',
    moved: entry.ApproximateNumberOfMessagesMoved ?? 0,
    toMove: entry.ApproximateNumberOfMessagesToMove,
    failureReason: entry.FailureReason,
    startedAt:
      entry.StartedTimestamp === undefined
        ? undefined
        : new Date(entry.StartedTimestamp).toISOString(),
    sourceArn: entry.SourceArn,
    destinationArn: entry.DestinationArn,
  };
}
