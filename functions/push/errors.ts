/**
 * Errors the push function raises itself, and the one rule that sorts any
 * failure into transient (let SQS retry) or permanent (report and park in
 * the DLQ at once).
 */
import { OciError } from '../../shared/oci/errors.js';
import { AWS_THROTTLING_NAMES } from '../../shared/secrets/aws-errors.js';
import { SecretSourceError } from '../../shared/secrets/source.js';

export type PushErrorCode =
  /** The message body is not a QueuedEvent this version understands. */
  | 'BAD_MESSAGE'
  /** Destroy on a target whose AllowDeletion is false. */
  | 'DELETION_NOT_ALLOWED'
  /** The invocation ran out of time before or during the action. */
  | 'DEADLINE'
  /** The artifact read back is not one this bridge wrote (no manifest.yaml). */
  | 'NOT_AN_ARTIFACT';

const RETRYABLE_CODES: ReadonlySet<PushErrorCode> = new Set(['DEADLINE']);

/** A failure found by the push function itself. */
export class PushError extends Error {
  override readonly name = 'PushError';
  readonly code: PushErrorCode;
  readonly retryable: boolean;

  constructor(
    code: PushErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.retryable = RETRYABLE_CODES.has(code);
  }
}

/** What to do with a failed message. */
export type FailureClass = 'transient' | 'permanent';

export interface ClassifiedFailure {
  failureClass: FailureClass;
  /** A short machine-friendly reason, e.g. `OciError:IMMUTABLE_TAG`. */
  kind: string;
  /** The error's message: what an operator reads in the DLQ and ConfigHub. */
  reason: string;
}

/** Node and undici error codes of connections that may work next time. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Sorts a failure by its type, never by message text: errors that carry
 * `retryable` (OciError, SecretSourceError, the credentials resolver's
 * CredentialsError, PushError) decide for themselves; AWS SDK errors by
 * their throttling names, `$retryable` and server faults; Node network
 * errors by their codes. Anything else is transient: a retry costs little,
 * and after MAX_RECEIVE_COUNT receives it lands in the DLQ with its reason.
 */
export function classifyFailure(error: unknown): ClassifiedFailure {
  const reason = error instanceof Error ? error.message : String(error);
  const kind = describeKind(error);
  return { failureClass: failureClassOf(error, 0), kind, reason };
}

function failureClassOf(error: unknown, depth: number): FailureClass {
  if (typeof error !== 'object' || error === null || depth > 5) {
    return 'transient';
  }
  if (error instanceof OciError || error instanceof SecretSourceError) {
    return error.retryable ? 'transient' : 'permanent';
  }
  if (error instanceof PushError) {
    return error.retryable ? 'transient' : 'permanent';
  }
  const candidate = error as {
    name?: unknown;
    code?: unknown;
    retryable?: unknown;
    $retryable?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    cause?: unknown;
  };
  // The credentials resolver's CredentialsError, and any error of ours that
  // states whether it is worth retrying.
  if (typeof candidate.retryable === 'boolean') {
    return candidate.retryable ? 'transient' : 'permanent';
  }
  if (typeof candidate.name === 'string') {
    if (candidate.name === 'AbortError' || candidate.name === 'TimeoutError') {
      return 'transient';
    }
    if (AWS_THROTTLING_NAMES.has(candidate.name)) return 'transient';
  }
  if (candidate.$retryable !== undefined) return 'transient';
  if (candidate.$metadata !== undefined) {
    // An AWS service answered: a server fault may pass, a client fault will not.
    return candidate.$fault === 'server' ? 'transient' : 'permanent';
  }
  if (
    typeof candidate.code === 'string' &&
    TRANSIENT_NETWORK_CODES.has(candidate.code)
  ) {
    return 'transient';
  }
  if (candidate.cause !== undefined) {
    return failureClassOf(candidate.cause, depth + 1);
  }
  return 'transient';
}

function describeKind(error: unknown): string {
  if (typeof error !== 'object' || error === null) return typeof error;
  const { name, code } = error as { name?: unknown; code?: unknown };
  const label = typeof name === 'string' ? name : 'Error';
  return typeof code === 'string' ? `${label}:${code}` : label;
}
