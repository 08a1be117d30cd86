/**
 * The push function: turns queued ConfigHub events into Flux OCI artifacts
 * and reports each outcome to ConfigHub. One code path for Lambda and the
 * local stack; the entry points differ only in the dependencies they pass.
 */
import {
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  SendMessageCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';

import {
  truncateUtf8,
  type ActionResult,
  type ActionResultReporter,
  type ActionResultType,
  type ReportOptions,
} from '../../shared/confighub/index.js';
import { parseQueuedEvent } from '../../shared/event/schema.js';
import type {
  Action,
  QueuedEvent,
  TargetParams,
} from '../../shared/event/types.js';
import type { Log } from '../../shared/log.js';
import type { ArtifactStore } from '../../shared/oci/index.js';
import { unitRepository, type Repository } from '../../shared/oci/reference.js';
import { runAction, type ActionOutcome } from './actions.js';
import { startDeadline, type Deadline } from './deadline.js';
import {
  classifyFailure,
  PushError,
  type ClassifiedFailure,
} from './errors.js';
import { scopedLog, type ScopedLog } from './scoped-log.js';

type MetricUnitValue = (typeof MetricUnit)[keyof typeof MetricUnit];

/** The part of Powertools' Metrics the handler uses. */
export interface PushMetrics {
  addMetric(name: string, unit: MetricUnitValue, value: number): void;
  singleMetric(): {
    addDimension(name: string, value: string): void;
    addMetric(name: string, unit: MetricUnitValue, value: number): void;
  };
}

/** What the handler is built from. */
export interface PushHandlerDeps {
  /**
   * The store for one message's repository and target: in Lambda a
   * registry client with the credential resolver's provider for the
   * target; locally a registry client or an OCI layout. `scope.log`
   * carries the action's keys.
   */
  storeFor(
    repo: Repository,
    target: TargetParams,
    scope: { log: Log },
  ): ArtifactStore;
  /** Creates the repository before an Apply when the registry needs it (ECR). */
  ensureRepository?(
    repo: Repository,
    target: TargetParams,
    scope: { log: Log; signal: AbortSignal },
  ): Promise<void>;
  /** Sends parked messages to the DLQ. */
  sqs: Pick<SQSClient, 'send'>;
  dlqUrl: string;
  /** The source queue's redrive maxReceiveCount: the last receive is parked by us. */
  maxReceiveCount: number;
  reporter: ActionResultReporter;
  /** Powertools' Logger in Lambda; any {@link Log} elsewhere. */
  log: Log;
  /** Powertools' Metrics (EMF) in Lambda; omitted: no metrics. */
  metrics?: PushMetrics;
  now?: () => Date;
  /** ConfigHub's base URL, for the artifacts' source annotation. */
  confighubUrl?: string;
  /** Stop registry work this long before the Lambda deadline; 5000 ms. */
  deadlineMarginMs?: number;
  /** Stop reporting and DLQ sends this long before the deadline; 1000 ms. */
  finalMarginMs?: number;
}

export type PushHandler = (
  event: SQSEvent,
  context: Context,
) => Promise<SQSBatchResponse>;

/** Metric names, as they appear in CloudWatch. */
export const METRIC = {
  pushes: 'Pushes',
  failures: 'Failures',
  pushDuration: 'PushDuration',
  bytesPushed: 'BytesPushed',
  deadLettered: 'DeadLettered',
  reportFailures: 'ReportFailures',
} as const;

/** The message attributes the webhook sets, kept on a DLQ copy. */
const KEPT_ATTRIBUTES = [
  'Action',
  'UnitSlug',
  'RevisionNum',
  'QueuedOperationID',
];

const FAILED_RESULT: Record<Action, ActionResultType> = {
  Apply: 'ApplyFailed',
  Destroy: 'DestroyFailed',
  Refresh: 'RefreshFailed',
  Import: 'ImportFailed',
  Finalize: 'None',
};

/**
 * Builds the SQS FIFO batch handler. Within a batch a failed message fails
 * itself and the later messages of its unit (message group), which are
 * reported in `batchItemFailures` without being processed; other units go
 * on. Nothing survives from one invocation to the next.
 */
export function createPushHandler(deps: PushHandlerDeps): PushHandler {
  const now = deps.now ?? (() => new Date());
  const margins = {
    workMarginMs: deps.deadlineMarginMs ?? 5_000,
    finalMarginMs: deps.finalMarginMs ?? 1_000,
  };

  return async (event, context) => {
    const deadline = startDeadline(context, margins);
    const processor = new SqsFifoPartialProcessorAsync();
    try {
      const response = await processPartialResponse(
        event,
        (record: SQSRecord) => processRecord(deps, now, deadline, record),
        processor,
        { context, skipGroupOnError: true, throwOnFullBatchFailure: false },
      );
      if (response.batchItemFailures.length > 0) {
        deps.log.info('batch finished with failed messages', {
          records: event.Records.length,
          failed: response.batchItemFailures.length,
        });
      }
      return response;
    } finally {
      deadline.dispose();
    }
  };
}

async function processRecord(
  deps: PushHandlerDeps,
  now: () => Date,
  deadline: Deadline,
  record: SQSRecord,
): Promise<void> {
  const receiveCount = receiveCountOf(record);
  const base = scopedLog(deps.log, {
    messageId: record.messageId,
    receiveCount,
  });

  if (deadline.work.aborted) {
    countFailure(deps, 'transient');
    base.warn('message not started: the invocation is out of time', {
      failureClass: 'transient',
    });
    throw deadline.work.reason instanceof Error
      ? deadline.work.reason
      : new PushError('DEADLINE', 'the invocation is out of time');
  }

  let event: QueuedEvent;
  try {
    event = parseQueuedEvent(record.body);
  } catch (error) {
    const failure: ClassifiedFailure = {
      failureClass: 'permanent',
      kind: 'PushError:BAD_MESSAGE',
      reason: `the message body is not a queued event this function understands: ${error instanceof Error ? error.message : String(error)}`,
    };
    countFailure(deps, 'permanent');
    base.error('message refused; parking it in the DLQ', {
      failureClass: failure.failureClass,
      error: failure.reason,
    });
    await deadLetter(deps, now, deadline, record, failure, receiveCount, base);
    return;
  }

  const payload = event.Payload;
  // Resolved up front so the registry is on every line; a bad reference
  // is raised inside the action's try below, where it is classified.
  let repo: Repository | undefined;
  let repoError: unknown;
  try {
    repo = unitRepository(payload.TargetParams.Repository, payload.UnitSlug);
  } catch (error) {
    repoError = error;
  }
  const log = scopedLog(deps.log, {
    messageId: record.messageId,
    receiveCount,
    unit: payload.UnitSlug,
    unitId: payload.UnitID,
    revision: payload.RevisionNum,
    operationId: payload.QueuedOperationID,
    action: event.Action,
    ...(repo && { registry: repo.registry, repository: repo.name }),
  });
  const startedAt = now();
  const started = performance.now();
  const resultBase = {
    UnitID: payload.UnitID,
    SpaceID: payload.SpaceID,
    QueuedOperationID: payload.QueuedOperationID,
    RevisionNum: payload.RevisionNum,
    Action: event.Action,
    StartedAt: startedAt.toISOString(),
  };
  const report = (result: ActionResult, options: ReportOptions = {}) =>
    deliver(deps, log, result, { signal: deadline.final, ...options });

  log.info('action started');
  await report(
    {
      ...resultBase,
      Status: 'Progressing',
      Result: 'None',
      Message: `${event.Action} of revision ${payload.RevisionNum} started (attempt ${receiveCount} of ${deps.maxReceiveCount})`,
    },
    { attempts: 1 },
  );

  let outcome: ActionOutcome;
  try {
    if (repo === undefined) throw repoError;
    const unitRepo = repo;
    const store = deps.storeFor(unitRepo, payload.TargetParams, { log });
    outcome = await runAction({
      event,
      repo: unitRepo,
      store,
      signal: deadline.work,
      ...(deps.confighubUrl !== undefined && {
        confighubUrl: deps.confighubUrl,
      }),
      ...(deps.ensureRepository !== undefined && {
        ensureRepository: async () => {
          await deps.ensureRepository?.(unitRepo, payload.TargetParams, {
            log,
            signal: deadline.work,
          });
        },
      }),
      log,
    });
  } catch (error) {
    const failure = deadline.work.aborted
      ? deadlineFailure(deadline)
      : classifyFailure(error);
    const durationMs = Math.round(performance.now() - started);
    log.set({ durationMs });
    countFailure(deps, failure.failureClass);
    const lastReceive = receiveCount >= deps.maxReceiveCount;

    if (failure.failureClass === 'transient' && !lastReceive) {
      log.warn('action failed; SQS will deliver the message again', {
        failureClass: failure.failureClass,
        errorKind: failure.kind,
        error: failure.reason,
      });
      await report(
        {
          ...resultBase,
          Status: 'Progressing',
          Result: 'None',
          Message: `attempt ${receiveCount} of ${deps.maxReceiveCount} failed (transient): ${failure.reason}; it will be retried`,
        },
        { attempts: 1 },
      );
      throw error;
    }

    log.error(
      failure.failureClass === 'permanent'
        ? 'action failed permanently; parking the message in the DLQ'
        : 'action failed on its last allowed receive; parking the message in the DLQ',
      {
        failureClass: failure.failureClass,
        errorKind: failure.kind,
        error: failure.reason,
      },
    );
    await report({
      ...resultBase,
      Status: 'Failed',
      Result: FAILED_RESULT[event.Action],
      Message:
        failure.failureClass === 'permanent'
          ? `${failure.reason} (not retried: the message is in the dead-letter queue for replay once the cause is fixed)`
          : `${failure.reason} (failed on all ${deps.maxReceiveCount} attempts; the message is in the dead-letter queue for replay)`,
      TerminatedAt: now().toISOString(),
    });
    await deadLetter(deps, now, deadline, record, failure, receiveCount, log);
    return;
  }

  const durationMs = Math.round(performance.now() - started);
  log.set({ durationMs, ...(outcome.digest && { digest: outcome.digest }) });
  await report({
    ...resultBase,
    Status: outcome.status,
    Result: outcome.result,
    Message: outcome.message,
    TerminatedAt: now().toISOString(),
    ...(outcome.data && { Data: base64(outcome.data) }),
    ...(outcome.liveState && { LiveState: base64(outcome.liveState) }),
    ...(outcome.outputs && {
      Outputs: base64(Buffer.from(JSON.stringify(outcome.outputs))),
    }),
  });
  if (outcome.push) {
    deps.metrics?.addMetric(METRIC.pushes, MetricUnit.Count, 1);
    deps.metrics?.addMetric(
      METRIC.pushDuration,
      MetricUnit.Milliseconds,
      durationMs,
    );
    deps.metrics?.addMetric(
      METRIC.bytesPushed,
      MetricUnit.Bytes,
      outcome.push.uploadedBytes,
    );
  }
  log.info('action finished', {
    status: outcome.status,
    result: outcome.result,
    ...(outcome.push && {
      uploadedBlobs: outcome.push.uploadedBlobs,
      uploadedBytes: outcome.push.uploadedBytes,
      requests: outcome.push.requests,
    }),
  });
}

/**
 * Sends an ActionResult; a result that cannot be delivered is logged and
 * counted, and never fails the message: the registry work is done, and
 * redoing it would not make the report arrive.
 */
async function deliver(
  deps: PushHandlerDeps,
  log: ScopedLog,
  result: ActionResult,
  options: ReportOptions,
): Promise<void> {
  try {
    await deps.reporter.report(result, options);
  } catch (error) {
    deps.metrics?.addMetric(METRIC.reportFailures, MetricUnit.Count, 1);
    log.error('could not deliver the action result to ConfigHub', {
      status: result.Status,
      result: result.Result,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * Parks a message in the DLQ with why it failed. Throws when the send
 * fails, so the message fails too and SQS keeps it: nothing is lost.
 */
async function deadLetter(
  deps: PushHandlerDeps,
  now: () => Date,
  deadline: Deadline,
  record: SQSRecord,
  failure: ClassifiedFailure,
  receiveCount: number,
  log: Log,
): Promise<void> {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const name of KEPT_ATTRIBUTES) {
    const value = record.messageAttributes[name];
    if (value?.stringValue !== undefined) {
      attributes[name] = {
        DataType: value.dataType,
        StringValue: value.stringValue,
      };
    }
  }
  attributes.FailureClass = {
    DataType: 'String',
    StringValue: failure.failureClass,
  };
  attributes.FailureReason = {
    DataType: 'String',
    StringValue: truncateUtf8(`${failure.kind}: ${failure.reason}`, 1024),
  };
  attributes.FailedAt = {
    DataType: 'String',
    StringValue: now().toISOString(),
  };
  attributes.ReceiveCount = {
    DataType: 'Number',
    StringValue: String(receiveCount),
  };

  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: deps.dlqUrl,
        MessageBody: record.body,
        MessageGroupId: record.attributes.MessageGroupId ?? 'unknown-unit',
        // The message id: a redelivery of this same message after a crash
        // dedups in the DLQ, while a replayed copy (new id) can fail again.
        MessageDeduplicationId: record.messageId,
        MessageAttributes: attributes,
      }),
      { abortSignal: deadline.final },
    );
  } catch (error) {
    log.error('could not send the message to the DLQ; SQS keeps it', {
      error: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
  deps.metrics?.addMetric(METRIC.deadLettered, MetricUnit.Count, 1);
  log.info('message parked in the DLQ', { failureClass: failure.failureClass });
}

function countFailure(deps: PushHandlerDeps, failureClass: string): void {
  if (!deps.metrics) return;
  const metric = deps.metrics.singleMetric();
  metric.addDimension('FailureClass', failureClass);
  metric.addMetric(METRIC.failures, MetricUnit.Count, 1);
}

function deadlineFailure(deadline: Deadline): ClassifiedFailure {
  const reason: unknown = deadline.work.reason;
  return {
    failureClass: 'transient',
    kind: 'PushError:DEADLINE',
    reason:
      reason instanceof Error
        ? reason.message
        : 'the invocation ran out of time',
  };
}

function receiveCountOf(record: SQSRecord): number {
  const count = Number.parseInt(record.attributes.ApproximateReceiveCount, 10);
  return Number.isSafeInteger(count) && count > 0 ? count : 1;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
