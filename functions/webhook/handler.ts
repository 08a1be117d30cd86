/**
 * The webhook: checks a ConfigHub event's signature, validates it, and puts
 * it on the FIFO queue. It answers 2xx only once the message is in the
 * queue (or, for a worker event such as a Heartbeat, when nothing needs to
 * be queued), so ConfigHub retries everything else that can succeed later.
 */
import {
  SendMessageCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';

import { decodeUtf8 } from '../../shared/event/base64.js';
import type { EventIssue } from '../../shared/event/errors.js';
import {
  parseWireEvent,
  type WireOperation,
} from '../../shared/event/schema.js';
import type { QueuedEvent } from '../../shared/event/types.js';
import type { Log } from '../../shared/log.js';
import type { SecretSource } from '../../shared/secrets/source.js';
import {
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  verifySignature,
  type SigningSecret,
  type VerifyResult,
} from '../../shared/signing/signature.js';
import { createSigningKeyring } from './signing-keys.js';

/** The one route the webhook serves. */
export const WEBHOOK_PATH = '/webhook';
/**
 * Largest request body accepted. A bigger body cannot fit the queue message
 * either: the queued event carries the body's fields nearly byte for byte.
 */
export const DEFAULT_MAX_BODY_BYTES = 262_144;
/**
 * Largest queue message sent: SQS's classic 256 KiB limit. SendMessage now
 * takes up to 1 MiB (AWS raised it in August 2025), but a queue's own
 * `MaximumMessageSize` may still be 256 KiB, so the default stays there.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;
/** Seconds ConfigHub is asked to wait before retrying after a 503. */
const RETRY_AFTER_SECONDS = 5;

/** The logger the handler writes to; Powertools' Logger fits as it is. */
export interface WebhookLog extends Log {
  /** Tags later lines with the operation id (Powertools' correlation id). */
  setCorrelationId?(value: string): void;
}

export interface WebhookDeps {
  sqs: SQSClient;
  /** The FIFO queue's URL. */
  queueUrl: string;
  /** Where the signing secret is read (current and previous version). */
  secrets: SecretSource;
  /** ARN or name of the signing secret. */
  signingSecretId: string;
  /** Largest distance between the signature's time and now; default 300. */
  toleranceSeconds?: number;
  /** Largest body in bytes; default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** Largest queue message; default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  maxMessageBytes?: number;
  log: WebhookLog;
  now?: () => Date;
}

export type WebhookHandler = (
  event: APIGatewayProxyEventV2,
  context?: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** Builds the webhook handler; the Lambda entry and the local stack share it. */
export function createWebhookHandler(deps: WebhookDeps): WebhookHandler {
  const now = deps.now ?? (() => new Date());
  const log = deps.log;
  const tolerance = deps.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxMessageBytes = deps.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const keyring = createSigningKeyring({
    source: deps.secrets,
    secretId: deps.signingSecretId,
    log,
    now,
  });

  async function verify(
    header: string | undefined,
    body: Buffer,
  ): Promise<VerifyResult | 'unavailable'> {
    const check = (secrets: readonly SigningSecret[]) =>
      verifySignature({
        header,
        body,
        secrets,
        now: now(),
        toleranceSeconds: tolerance,
      });
    // Header shape and time window first: no secret is read for a request
    // that cannot pass whatever the key.
    const shape = check([]);
    if (!shape.ok && shape.reason !== 'mismatch') return shape;

    let keys = await keyring.get();
    let result = check(keys.secrets);
    if (!result.ok && keyring.claimRefresh()) {
      // The secret may have been rotated since it was cached.
      keys = await keyring.get({ refresh: true });
      result = check(keys.secrets);
    }
    if (!result.ok && keys.unavailable) return 'unavailable';
    return result;
  }

  async function enqueue(
    operation: WireOperation,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    const { Payload: payload } = operation;
    const queued: QueuedEvent = {
      schemaVersion: 1,
      acceptedAt: now().toISOString(),
      ...operation,
    };
    const body = sqsSafeJson(queued);
    const attributes: Record<string, MessageAttributeValue> = {
      Action: { DataType: 'String', StringValue: operation.Action },
      UnitSlug: { DataType: 'String', StringValue: payload.UnitSlug },
      RevisionNum: {
        DataType: 'Number',
        StringValue: String(payload.RevisionNum),
      },
      QueuedOperationID: {
        DataType: 'String',
        StringValue: payload.QueuedOperationID,
      },
    };
    const size = messageSize(body, attributes);
    if (size > maxMessageBytes) {
      log.warn('webhook: event too large for the queue', {
        size,
        limit: maxMessageBytes,
      });
      return json(413, {
        message: `The event makes a queue message of ${size} bytes; the limit is ${maxMessageBytes} bytes. Split the unit's configuration into smaller units.`,
        limitBytes: maxMessageBytes,
      });
    }

    let messageId: string | undefined;
    try {
      const sent = await deps.sqs.send(
        new SendMessageCommand({
          QueueUrl: deps.queueUrl,
          MessageBody: body,
          MessageGroupId: payload.UnitID,
          MessageDeduplicationId: payload.QueuedOperationID,
          MessageAttributes: attributes,
        }),
      );
      messageId = sent.MessageId;
    } catch (error) {
      log.error('webhook: cannot enqueue the event', {
        error: error instanceof Error ? error.name : 'unknown',
        detail: error instanceof Error ? error.message : undefined,
      });
      return unavailable('The queue cannot be reached; retry later.');
    }
    if (messageId === undefined) {
      log.error('webhook: the queue returned no message id');
      return unavailable('The queue did not confirm the message; retry later.');
    }

    log.info('webhook: event queued', {
      messageId,
      action: operation.Action,
      // The same keys as the push function's lines: unit is the slug.
      unit: payload.UnitSlug,
      unitId: payload.UnitID,
      revision: payload.RevisionNum,
    });
    return json(202, {
      messageId,
      queuedOperationId: payload.QueuedOperationID,
    });
  }

  return async function webhook(event) {
    const method = event.requestContext?.http?.method?.toUpperCase();
    if (routePath(event) !== WEBHOOK_PATH) {
      return json(404, {
        message: `Not found; POST events to ${WEBHOOK_PATH}.`,
      });
    }
    if (method !== 'POST') {
      return json(
        405,
        { message: `Method ${method ?? '(none)'} not allowed; use POST.` },
        { allow: 'POST' },
      );
    }
    const contentType = header(event, 'content-type');
    if (!isJsonContentType(contentType)) {
      return json(415, {
        message: `Content-Type must be application/json (UTF-8), got ${contentType === undefined ? 'none' : JSON.stringify(contentType.slice(0, 100))}.`,
      });
    }

    const raw = rawBody(event);
    if (raw.length > maxBodyBytes) {
      return json(413, {
        message: `The body is ${raw.length} bytes; the limit is ${maxBodyBytes} bytes.`,
        limitBytes: maxBodyBytes,
      });
    }

    const signature = await verify(header(event, SIGNATURE_HEADER), raw);
    if (signature === 'unavailable') {
      return unavailable('The signing secret cannot be read; retry later.');
    }
    if (!signature.ok) {
      log.warn('webhook: signature refused', { reason: signature.reason });
      return json(401, { message: 'Unauthorized.' });
    }

    const text = decodeUtf8(raw);
    const parsed =
      text === undefined
        ? invalidBody('is not UTF-8 text')
        : parseWireEvent(text);
    switch (parsed.kind) {
      case 'invalid':
        log.warn('webhook: event refused', {
          fields: parsed.issues.map((issue) => issue.path),
        });
        return json(400, { errors: parsed.issues });
      case 'worker-event':
        log.info('webhook: worker event, not queued', {
          workerEvent: parsed.action,
        });
        return json(200, { workerEvent: parsed.action, queued: false });
      case 'operation':
        log.setCorrelationId?.(parsed.event.Payload.QueuedOperationID);
        return enqueue(parsed.event);
    }
  };
}

function invalidBody(message: string): {
  kind: 'invalid';
  issues: EventIssue[];
} {
  return { kind: 'invalid', issues: [{ path: '', message }] };
}

/** The request path without a named stage's prefix (`/prod/webhook`). */
function routePath(event: APIGatewayProxyEventV2): string {
  const path = event.rawPath ?? event.requestContext?.http?.path ?? '';
  const stage = event.requestContext?.stage;
  if (stage !== undefined && stage !== '$default') {
    const prefix = `/${stage}`;
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      return path.slice(prefix.length) || '/';
    }
  }
  return path;
}

/** A header's value; API Gateway lowercases names, tests may not. */
function header(
  event: APIGatewayProxyEventV2,
  name: string,
): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** `application/json`, optionally with `charset=utf-8`. */
function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const [type, ...parameters] = value.split(';');
  if (type?.trim().toLowerCase() !== 'application/json') return false;
  return parameters.every((parameter) => {
    const [key, val] = parameter.split('=').map((part) => part.trim());
    return key?.toLowerCase() !== 'charset' || /^"?utf-8"?$/i.test(val ?? '');
  });
}

/** The body's bytes exactly as sent, which is what the signature covers. */
function rawBody(event: APIGatewayProxyEventV2): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return event.isBase64Encoded
    ? Buffer.from(event.body, 'base64')
    : Buffer.from(event.body, 'utf8');
}

/**
 * JSON that any SQS accepts. SQS refuses U+FFFE and U+FFFF, which
 * JSON.stringify leaves raw, and fauxqs (the local queue) also refuses
 * characters beyond U+FFFF, which SQS allows. Every such code unit is
 * written as a `\uXXXX` escape instead; outside strings JSON has none, so
 * the parsed value is unchanged.
 */
function sqsSafeJson(value: unknown): string {
  // JSON.stringify already escapes every control character, so the
  // allowed tab, LF and CR never appear raw and need no place in the class.
  return JSON.stringify(value).replace(
    /[^\x20-\uD7FF\uE000-\uFFFD]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** SQS counts the body and each attribute's name, type and value. */
function messageSize(
  body: string,
  attributes: Record<string, MessageAttributeValue>,
): number {
  let size = Buffer.byteLength(body, 'utf8');
  for (const [name, attribute] of Object.entries(attributes)) {
    size += Buffer.byteLength(name, 'utf8');
    size += Buffer.byteLength(attribute.DataType ?? '', 'utf8');
    size += Buffer.byteLength(attribute.StringValue ?? '', 'utf8');
  }
  return size;
}

function unavailable(message: string): APIGatewayProxyStructuredResultV2 {
  return json(503, { message }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
}

function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}
