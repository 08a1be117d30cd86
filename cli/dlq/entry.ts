/**
 * One dead-letter message as operators see it: which unit, revision and
 * action, why it failed, and the attributes it goes back to the queue with.
 */
import { randomUUID } from 'node:crypto';
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';

/** Attributes the push function adds when it moves a message to the DLQ. */
export const FAILURE_ATTRIBUTES = [
  'FailureClass',
  'FailureReason',
  'FailedAt',
  'ReceiveCount',
] as const;

/** System attributes every receive asks for. */
export const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'SentTimestamp',
  'MessageGroupId',
  'SequenceNumber',
] as const;

export interface DlqEntry {
  messageId: string;
  receiptHandle: string;
  /** The queue body, kept byte for byte for the replay. */
  body: string;
  unitSlug?: string;
  /** The unit's id: the FIFO message group. */
  unitId?: string;
  revision?: number;
  action?: string;
  operationId?: string;
  /** `permanent` or `transient` as the push function recorded it. */
  failureClass: string;
  /** Why it failed; for SQS redrives, that no reason was recorded. */
  failureReason: string;
  /** True when SQS moved the message after too many receives. */
  redriven: boolean;
  /** RFC 3339: FailedAt, or when the message entered the DLQ. */
  failedAt?: string;
  /** Receives in the source queue before the message failed, when known. */
  receiveCount?: number;
  /** Receives in the DLQ itself, listings included. */
  dlqReceiveCount: number;
  messageAttributes: Record<string, MessageAttributeValue>;
}

/** What the body of a queue message tells when attributes are missing. */
interface BodyFields {
  unitSlug?: string;
  unitId?: string;
  revision?: number;
  action?: string;
  operationId?: string;
}

/**
 * Reads a received DLQ message. `maxReceiveCount` is the source queue's
 * redrive setting: a redriven message was received exactly that often.
 */
export function toDlqEntry(
  message: Message,
  maxReceiveCount: number | undefined,
): DlqEntry {
  const attributes = message.MessageAttributes ?? {};
  const system = message.Attributes ?? {};
  const body = message.Body ?? '';
  const fromBody = readBody(body);
  const text = (name: string): string | undefined =>
    attributes[name]?.StringValue;

  const failureClass = text('FailureClass');
  const redriven = failureClass === undefined;
  const sentTimestamp = Number(system.SentTimestamp);

  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body,
    unitSlug: text('UnitSlug') ?? fromBody.unitSlug,
    unitId: fromBody.unitId ?? system.MessageGroupId,
    revision: toNumber(text('RevisionNum')) ?? fromBody.revision,
    action: text('Action') ?? fromBody.action,
    operationId: text('QueuedOperationID') ?? fromBody.operationId,
    failureClass: failureClass ?? 'transient',
    failureReason: redriven
      ? 'not recorded: SQS moved it after the push function failed every receive (crash or timeout)'
      : (text('FailureReason') ?? 'not recorded'),
    redriven,
    failedAt:
      text('FailedAt') ??
      (Number.isFinite(sentTimestamp)
        ? new Date(sentTimestamp).toISOString()
        : undefined),
    receiveCount:
      toNumber(text('ReceiveCount')) ??
      (redriven ? maxReceiveCount : undefined),
    dlqReceiveCount: toNumber(system.ApproximateReceiveCount) ?? 0,
    messageAttributes: attributes,
  };
}

/** "transient (redriven after 5 receives)", or the recorded class. */
export function describeFailureClass(entry: DlqEntry): string {
  if (!entry.redriven) {
    return entry.failureClass;
  }
  const receives =
    entry.receiveCount === undefined ? 'repeated' : String(entry.receiveCount);

  return `transient (redriven after ${receives} receives)`;
}

/**
 * The attributes a replayed message carries: the original ones without the
 * failure record (the next failure writes a fresh one), plus ReplayedAt.
 */
export function replayAttributes(
  entry: DlqEntry,
  replayedAt: Date,
): Record<string, MessageAttributeValue> {
  const dropped = new Set<string>(FAILURE_ATTRIBUTES);
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(entry.messageAttributes)) {
    if (dropped.has(name) || value.DataType === undefined) {
      continue;
    }
    // Received values carry empty list fields that SendMessage rejects.
    out[name] =
      value.BinaryValue === undefined
        ? { DataType: value.DataType, StringValue: value.StringValue }
        : { DataType: value.DataType, BinaryValue: value.BinaryValue };
  }
  out.ReplayedAt = {
    DataType: 'String',
    StringValue: replayedAt.toISOString(),
  };

  return out;
}

/** SQS allows deduplication ids of at most 128 characters. */
const MAX_DEDUPLICATION_ID = 128;

/**
 * A deduplication id no earlier send used. The original id (the operation
 * id) would be dropped as a duplicate within SQS's five-minute window; one id
 * per replay attempt still lets SDK retries of the same send deduplicate.
 */
export function freshDeduplicationId(entry: DlqEntry): string {
  const suffix = `-replay-${randomUUID()}`;
  const stem = (entry.operationId ?? entry.messageId).slice(
    0,
    MAX_DEDUPLICATION_ID - suffix.length,
  );

  return `${stem}${suffix}`;
}

function readBody(body: string): BodyFields {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    // A body that is not JSON still lists and replays; its fields come from
    // the message attributes alone.
    return {};
  }
  if (!isRecord(json)) {
    return {};
  }
  const payload = isRecord(json.Payload) ? json.Payload : {};

  return {
    unitSlug: asString(payload.UnitSlug),
    unitId: asString(payload.UnitID),
    revision:
      typeof payload.RevisionNum === 'number' ? payload.RevisionNum : undefined,
    action: asString(json.Action),
    operationId: asString(payload.QueuedOperationID),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function toNumber(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  const number = Number(value);

  return Number.isFinite(number) ? number : undefined;
}
