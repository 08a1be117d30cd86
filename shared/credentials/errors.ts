/**
 * Errors of the credentials resolver. None of them ever carries a secret
 * value: messages name sources, secret ids, registries and rules only.
 */

/** Where a credential was looked for. */
export type CredentialSourceName =
  | 'ecr'
  | 'ecr-public'
  | 'target-secret'
  | 'kubernetes-secret'
  | 'worker-secret'
  | 'docker-config'
  | 'anonymous';

/** Why a source gave no credential. */
export type AttemptReason =
  /** The source is not set up (no secret named, AUTH_METHOD says otherwise). */
  | 'not-configured'
  /** The source does not apply to this registry (e.g. ECR for ghcr.io). */
  | 'not-applicable'
  | 'not-found'
  | 'access-denied'
  | 'throttled'
  | 'unavailable'
  /** The secret is not in any accepted format. */
  | 'malformed'
  /** The secret has no entry for this registry. */
  | 'no-entry'
  /** The entry for this registry has no usable credential. */
  | 'unusable'
  /** The registry refused this credential and reading it again gave the same. */
  | 'refused';

/** One source tried, and why it gave nothing. */
export interface CredentialAttempt {
  source: CredentialSourceName;
  reason: AttemptReason;
  /** For the person fixing it: secret id, file, keys seen. Never a value. */
  detail: string;
}

/** Reasons after which the same request may succeed later. */
const TRANSIENT_REASONS: ReadonlySet<AttemptReason> = new Set([
  'throttled',
  'unavailable',
]);

export type CredentialsErrorCode =
  /** Every source was tried and none gave a credential. */
  | 'NO_CREDENTIALS'
  /** ECR repository lookup or creation failed. */
  | 'REPOSITORY_UNAVAILABLE'
  /** The ECR repository's tags are immutable but the target moves `Tag`. */
  | 'IMMUTABLE_REPOSITORY';

/** Base class of the resolver's errors. */
export class CredentialsError extends Error {
  override readonly name: string = 'CredentialsError';
  readonly code: CredentialsErrorCode;
  /** True when the same request may succeed later (throttling, outage). */
  readonly retryable: boolean;
  /** The registry host the credential was for. */
  readonly registry: string;
  /** Every source tried, in order, with its reason. */
  readonly attempts: readonly CredentialAttempt[];

  constructor(
    code: CredentialsErrorCode,
    registry: string,
    message: string,
    options: {
      attempts?: readonly CredentialAttempt[];
      retryable?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.registry = registry;
    this.attempts = options.attempts ?? [];
    this.retryable = options.retryable ?? false;
  }
}

/** Builds the error for "every source failed", listing each attempt. */
export function noCredentialsError(
  registry: string,
  repository: string,
  attempts: readonly CredentialAttempt[],
): CredentialsError {
  const retryable = attempts.some((a) => TRANSIENT_REASONS.has(a.reason));
  const tried = attempts
    .map((a, i) => `${i + 1}. ${a.source}: ${a.reason} (${a.detail})`)
    .join('; ');
  return new CredentialsError(
    'NO_CREDENTIALS',
    registry,
    `no usable credentials for ${registry}/${repository}; tried ${tried}`,
    { attempts, retryable },
  );
}

/** True when an attempt failed for a reason that may pass (throttling, outage). */
export function isTransient(attempt: CredentialAttempt): boolean {
  return TRANSIENT_REASONS.has(attempt.reason);
}

export type SecretFormatErrorCode = 'MALFORMED' | 'UNUSABLE';

/**
 * A registry secret could not be read as credentials. The message says which
 * format was expected and which part is wrong, never what the value was.
 */
export class SecretFormatError extends Error {
  override readonly name = 'SecretFormatError';
  readonly code: SecretFormatErrorCode;

  constructor(code: SecretFormatErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
