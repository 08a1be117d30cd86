/**
 * The wire event, validated and normalised: what ConfigHub posts to the
 * webhook (Go JSON, so byte fields are base64) and what the webhook puts on
 * the queue. Every bad field is reported, each with its path.
 *
 * Rules a reviewer may look for:
 * - a body is `{"Action","Payload"}` or the stream envelope
 *   `{"Event":"BridgeWorkerEvent","Data":{"Action","Payload"}}`;
 *   `{"Event":"WorkerEvent",…}` (e.g. a Heartbeat) is recognised and is not
 *   an operation;
 * - duplicate JSON keys are refused anywhere in the body (see `json.ts`);
 * - keys are matched to fields as Go's decoder matches them, ignoring case;
 *   two keys naming one field (`UnitSlug`, `unitslug`) are refused, and the
 *   event is queued under the canonical names (see `keys.ts`);
 * - unknown keys are dropped, as Go's decoder does, so a field ConfigHub
 *   adds later does not break delivery;
 * - ids are compared and queued in lowercase, so one operation always has
 *   one deduplication id.
 */
import { isScalar, LineCounter, parseAllDocuments } from 'yaml';
import * as z from 'zod/mini';

import { targetParamsSchema } from '../credentials/target-params.js';
import { InvalidReferenceError } from '../oci/errors.js';
import { validateSlug } from '../oci/reference.js';
import { decodeStrictBase64, decodeUtf8 } from './base64.js';
import { EventValidationError, type EventIssue } from './errors.js';
import { formatPath, parseStrictJson } from './json.js';
import {
  canonicalKeys,
  collisionMessage,
  goObject,
  isPlainObject,
  knownFields,
  type KnownFields,
} from './keys.js';
import { ACTIONS, type OperationPayload, type QueuedEvent } from './types.js';

/** The only toolchain and provider type this bridge publishes. */
export const TOOLCHAIN_TYPE = 'Kubernetes/YAML';
export const PROVIDER_TYPE = 'FluxOCIWriter';
/** The envelope names of ConfigHub's worker stream. */
export const OPERATION_EVENT = 'BridgeWorkerEvent';
export const WORKER_EVENT = 'WorkerEvent';

/** An operation as received: the queued event without the webhook's stamp. */
export type WireOperation = Omit<QueuedEvent, 'acceptedAt' | 'schemaVersion'>;

/** What a webhook body turned out to be. */
export type ParsedWireEvent =
  | { kind: 'operation'; event: WireOperation }
  | { kind: 'worker-event'; action: string }
  | { kind: 'invalid'; issues: EventIssue[] };

/** Slugs longer than this cannot fit a 255-character repository name. */
const MAX_SLUG_LENGTH = 255;
/** A worker event's action: a short identifier such as `Heartbeat`. */
const WORKER_ACTION = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** The fields read from a webhook body: either form of it. */
const WIRE_ROOT = knownFields(['Event', 'Data', 'Action', 'Payload']);
/** The fields read from the envelope's `Data`. */
const ENVELOPE_DATA = knownFields(['Action', 'Payload']);
/** The fields read from a queue message body. */
const QUEUED_ROOT = knownFields([
  'schemaVersion',
  'acceptedAt',
  'Action',
  'Payload',
]);

/**
 * Parses a webhook body. Returns the normalised operation, a recognised
 * worker event, or every issue found.
 */
export function parseWireEvent(body: string): ParsedWireEvent {
  const json = parseStrictJson(body);
  if (!json.ok) return { kind: 'invalid', issues: [json.problem] };

  if (!isPlainObject(json.value)) {
    return invalid('', `must be a JSON object, got ${describe(json.value)}`);
  }
  const root = goKeys(json.value, WIRE_ROOT, []);
  if (!root.ok) return { kind: 'invalid', issues: root.issues };
  if (!('Event' in root.value)) return operationOrIssues(root.value, []);

  const { Event: name, Data: rawData } = root.value;
  if (name !== OPERATION_EVENT && name !== WORKER_EVENT) {
    return invalid(
      'Event',
      `must be "${OPERATION_EVENT}" (an operation) or "${WORKER_EVENT}", got ${describe(name)}`,
    );
  }
  const data = isPlainObject(rawData)
    ? goKeys(rawData, ENVELOPE_DATA, ['Data'])
    : { ok: true as const, value: rawData };
  if (!data.ok) return { kind: 'invalid', issues: data.issues };
  if (name === WORKER_EVENT) return workerEvent(data.value);
  if (!isPlainObject(data.value)) {
    return invalid(
      'Data',
      `must be an object with Action and Payload, got ${describe(data.value)}`,
    );
  }
  return operationOrIssues(data.value, ['Data']);
}

/**
 * Parses a queue message body written by the webhook. Throws
 * {@link EventValidationError} listing every issue, so a message that does
 * not hold a valid event is a permanent failure.
 */
export function parseQueuedEvent(body: string): QueuedEvent {
  const json = parseStrictJson(body);
  if (!json.ok) throw new EventValidationError('queued event', [json.problem]);

  if (!isPlainObject(json.value)) {
    throw new EventValidationError('queued event', [
      {
        path: '',
        message: `must be a JSON object, got ${describe(json.value)}`,
      },
    ]);
  }
  const canonical = goKeys(json.value, QUEUED_ROOT, []);
  if (!canonical.ok) {
    throw new EventValidationError('queued event', canonical.issues);
  }
  const root = canonical.value;
  const issues: EventIssue[] = [];
  if (root.schemaVersion !== 1) {
    issues.push({
      path: 'schemaVersion',
      message: `must be 1, got ${describe(root.schemaVersion)}`,
    });
  }
  const acceptedAt = z.iso
    .datetime({ offset: true })
    .safeParse(root.acceptedAt);
  if (!acceptedAt.success) {
    issues.push({
      path: 'acceptedAt',
      message: `must be an RFC 3339 time, got ${describe(root.acceptedAt)}`,
    });
  }
  const operation = validateOperation(root, []);
  if (
    issues.length > 0 ||
    operation.event === undefined ||
    !acceptedAt.success
  ) {
    throw new EventValidationError('queued event', [
      ...issues,
      ...operation.issues,
    ]);
  }
  return {
    schemaVersion: 1,
    acceptedAt: acceptedAt.data,
    ...operation.event,
  };
}

function workerEvent(data: unknown): ParsedWireEvent {
  const action = isPlainObject(data) ? data.Action : undefined;
  if (typeof action !== 'string' || !WORKER_ACTION.test(action)) {
    return invalid(
      'Data.Action',
      `must name the worker event, e.g. "Heartbeat", got ${describe(action)}`,
    );
  }
  if ((ACTIONS as readonly string[]).includes(action)) {
    // Answering 200 here would drop the operation without a trace.
    return invalid(
      'Data.Action',
      `"${action}" is an operation, not a worker event; send it as {"Event":"${OPERATION_EVENT}","Data":{…}} or as {"Action","Payload"}`,
    );
  }
  return { kind: 'worker-event', action };
}

function operationOrIssues(
  container: Record<string, unknown>,
  prefix: PropertyKey[],
): ParsedWireEvent {
  const { event, issues } = validateOperation(container, prefix);
  return event === undefined
    ? { kind: 'invalid', issues }
    : { kind: 'operation', event };
}

/** Validates `{Action, Payload}`; the payload's rules depend on the action. */
function validateOperation(
  container: Record<string, unknown>,
  prefix: PropertyKey[],
): { event?: WireOperation; issues: EventIssue[] } {
  const action = actionSchema.safeParse(container.Action);
  const payloadSchema =
    action.success && action.data === 'Apply' ? applyPayload : otherPayload;
  const payload = payloadSchema.safeParse(container.Payload);

  const issues = [
    ...(action.success ? [] : toIssues(action.error, [...prefix, 'Action'])),
    ...(payload.success ? [] : toIssues(payload.error, [...prefix, 'Payload'])),
  ];
  if (!action.success || !payload.success) return { issues };
  return { event: { Action: action.data, Payload: payload.data }, issues };
}

/** {@link canonicalKeys} with its collisions as issues at `prefix`. */
function goKeys(
  object: Record<string, unknown>,
  fields: KnownFields,
  prefix: PropertyKey[],
):
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; issues: EventIssue[] } {
  const result = canonicalKeys(object, fields);
  if (result.ok) return result;
  return {
    ok: false,
    issues: result.collisions.map((collision) => ({
      path: formatPath([...prefix, collision.field]),
      message: collisionMessage(collision),
    })),
  };
}

function toIssues(
  error: z.core.$ZodError,
  prefix: PropertyKey[],
): EventIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

function invalid(path: string, message: string): ParsedWireEvent {
  return { kind: 'invalid', issues: [{ path, message }] };
}

const actionSchema = z.enum(ACTIONS, {
  error: (issue) =>
    issue.input === undefined
      ? `is required: one of ${ACTIONS.join(', ')}`
      : `must be one of ${ACTIONS.join(', ')}, got ${describe(issue.input)}`,
});

function uuid(what: string) {
  return z.pipe(
    z.uuid({
      error: (issue) =>
        issue.input === undefined
          ? `is required: the ${what} (a UUID)`
          : `must be a UUID such as 3f0a9b7c-1d2e-4f50-8a6b-9c0d1e2f3a41, got ${describe(issue.input)}`,
    }),
    z.transform((value: string) => value.toLowerCase()),
  );
}

function literalText(expected: string, why: string) {
  return z.literal(expected, {
    error: (issue) =>
      `must be "${expected}" (${why}), got ${describe(issue.input)}`,
  });
}

const unitSlug = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? 'is required: the unit slug, which names the repository'
        : `must be a string, got ${describe(issue.input)}`,
  })
  .check(
    z.superRefine((value, ctx) => {
      if (value.length > MAX_SLUG_LENGTH) {
        ctx.addIssue({
          code: 'custom',
          message: `is ${value.length} characters; a repository path component can be at most ${MAX_SLUG_LENGTH}`,
        });
        return;
      }
      try {
        validateSlug(value);
      } catch (error) {
        if (!(error instanceof InvalidReferenceError)) throw error;
        // The path already names the field; keep the value and the rule.
        ctx.addIssue({
          code: 'custom',
          message: error.message.slice(error.field.length + 1),
        });
      }
    }),
  );

/**
 * A revision is a whole number from 1 to 2^53 - 1: JSON numbers past that
 * are rounded by every JavaScript parser, so the value read would not be
 * the one sent. The message says so rather than echo the rounded value as
 * if it were not an integer.
 */
const revisionNum = z
  .int({
    error: (issue) =>
      issue.input === undefined
        ? 'is required: the revision being applied (a positive integer)'
        : typeof issue.input === 'number' &&
            Number.isInteger(issue.input) &&
            !Number.isSafeInteger(issue.input)
          ? `must be a positive integer no larger than ${Number.MAX_SAFE_INTEGER} (2^53 - 1); larger numbers cannot be read exactly`
          : `must be a positive integer (revisions start at 1), got ${describe(issue.input)}`,
  })
  .check(
    z.gte(1, {
      error: (issue) =>
        `must be a positive integer (revisions start at 1), got ${describe(issue.input)}`,
    }),
  );

/** `Data`: base64 of UTF-8 YAML; for Apply, at least one document. */
function unitData(requireContent: boolean) {
  return z.pipe(
    z.union([z.string(), z.null()], {
      error: (issue) =>
        `must be base64 text or null, got ${describe(issue.input)}`,
    }),
    z.transform((value: string | null, ctx): string => {
      const text = value ?? '';
      const problem = checkUnitData(text, requireContent);
      if (problem !== undefined) {
        ctx.issues.push({ code: 'custom', message: problem, input: value });
      }
      return text;
    }),
  );
}

/** The first problem with a unit's `Data`, or `undefined` when it is valid. */
function checkUnitData(
  base64: string,
  requireContent: boolean,
): string | undefined {
  const empty =
    'must not be empty for Apply: an empty artifact would make Flux prune everything it applied from this unit';
  if (base64 === '') return requireContent ? empty : undefined;

  const decoded = decodeStrictBase64(base64);
  if (!decoded.ok) return decoded.reason;
  const text = decodeUtf8(decoded.bytes);
  if (text === undefined) return 'must be base64 of UTF-8 text (YAML)';

  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, {
    lineCounter,
    prettyErrors: false,
  });
  const errors =
    'empty' in documents
      ? documents.errors
      : documents.flatMap((document) => document.errors);
  const first = errors[0];
  if (first !== undefined) {
    const { line, col } = lineCounter.linePos(first.pos[0]);
    return `is not valid YAML: line ${line}, column ${col}: ${first.message}`;
  }

  const hasContent =
    !('empty' in documents) &&
    documents.some(
      (document) =>
        document.contents !== null &&
        !(isScalar(document.contents) && document.contents.value === null),
    );
  return requireContent && !hasContent
    ? `${empty} (it holds only comments or empty documents)`
    : undefined;
}

const liveState = z.pipe(
  z.optional(
    z.union([z.string(), z.null()], {
      error: (issue) =>
        `must be base64 text or null, got ${describe(issue.input)}`,
    }),
  ),
  z.transform((value: string | null | undefined, ctx): string | null => {
    if (value === undefined || value === null) return null;
    const decoded = decodeStrictBase64(value);
    if (!decoded.ok) {
      ctx.issues.push({
        code: 'custom',
        message: decoded.reason,
        input: value,
      });
    }
    return value;
  }),
);

/**
 * `TargetParams`: base64 of a JSON object, as ConfigHub sends it, or the
 * object itself; then the shared target-parameter rules.
 */
const targetParams = z.pipe(
  z.pipe(
    z.unknown(),
    z.transform((value: unknown, ctx): unknown => {
      if (value === undefined || value === null) {
        ctx.issues.push({
          code: 'custom',
          message:
            'is required: base64 of a JSON object such as {"Repository":"ghcr.io/acme","Provider":"Generic"}',
          input: value,
        });
        return z.NEVER;
      }
      if (typeof value !== 'string') return value;

      const decoded = decodeStrictBase64(value);
      if (!decoded.ok) {
        ctx.issues.push({
          code: 'custom',
          message: decoded.reason,
          input: value,
        });
        return z.NEVER;
      }
      const text = decodeUtf8(decoded.bytes);
      if (text === undefined) {
        ctx.issues.push({
          code: 'custom',
          message:
            'must be base64 of a JSON object, but the bytes are not UTF-8',
          input: value,
        });
        return z.NEVER;
      }
      const json = parseStrictJson(text);
      if (!json.ok) {
        const { path, message } = json.problem;
        ctx.issues.push({
          code: 'custom',
          path: path === '' ? [] : [path],
          message:
            path === ''
              ? `must be base64 of a JSON object, but the decoded text ${message}`
              : message,
          input: value,
        });
        return z.NEVER;
      }
      return json.value;
    }),
  ),
  targetParamsSchema,
);

function payloadSchema(requireData: boolean) {
  const fields = goObject(
    {
      QueuedOperationID: uuid('operation id'),
      UnitID: uuid('unit id'),
      SpaceID: uuid('space id'),
      UnitSlug: unitSlug,
      ToolchainType: literalText(
        TOOLCHAIN_TYPE,
        'the bridge publishes Kubernetes YAML only',
      ),
      ProviderType: literalText(
        PROVIDER_TYPE,
        'this worker serves FluxOCIWriter targets',
      ),
      RevisionNum: revisionNum,
      Data: unitData(requireData),
      LiveState: liveState,
      TargetParams: targetParams,
      ExtraParams: z.optional(z.unknown()),
    },
    {
      error: (issue) =>
        issue.input === undefined
          ? 'is required: the operation (QueuedOperationID, UnitID, UnitSlug, RevisionNum, Data, TargetParams, …)'
          : `must be an object, got ${describe(issue.input)}`,
    },
  );
  return z.pipe(
    fields,
    z.transform((payload): OperationPayload => ({
      QueuedOperationID: payload.QueuedOperationID,
      UnitID: payload.UnitID,
      SpaceID: payload.SpaceID,
      UnitSlug: payload.UnitSlug,
      ToolchainType: payload.ToolchainType,
      ProviderType: payload.ProviderType,
      RevisionNum: payload.RevisionNum,
      Data: payload.Data,
      LiveState: payload.LiveState,
      TargetParams: payload.TargetParams,
      ExtraParams: payload.ExtraParams ?? null,
    })),
  );
}

const applyPayload = payloadSchema(true);
const otherPayload = payloadSchema(false);

/** Longest piece of a received string echoed back in a message. */
const MAX_ECHO = 80;

/** A received value as a message shows it: type and a bounded excerpt. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return value.length > MAX_ECHO
      ? `a string of ${value.length} characters starting ${JSON.stringify(value.slice(0, MAX_ECHO))}`
      : `string ${JSON.stringify(value)}`;
  }
  // Numbers, booleans and the like: JSON text is what the sender wrote.
  return `${typeof value} ${JSON.stringify(value) ?? typeof value}`;
}
