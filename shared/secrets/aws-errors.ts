/**
 * How an AWS SDK failure is classified: by the exception's type (its `name`,
 * which the SDK sets from the service's error code) and HTTP status, never by
 * its message. Access denial and throttling are not modelled as classes in
 * every client, so names are the one rule that works for all of them.
 */

/** What a caller does with an AWS failure. */
export type AwsErrorKind = 'access-denied' | 'throttled' | 'unavailable';

/** AWS error names that mean "slow down", whatever the service. */
export const AWS_THROTTLING_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  // The SDK's own retry strategy counts it as throttling too.
  'LimitExceededException',
]);
const ACCESS_DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);

/** Classifies an SDK error as access denied, throttled, or otherwise unavailable. */
export function awsErrorKind(error: unknown): AwsErrorKind {
  const name = errorName(error);
  const status = httpStatus(error);
  if (ACCESS_DENIED.has(name) || status === 401 || status === 403) {
    return 'access-denied';
  }
  if (
    AWS_THROTTLING_NAMES.has(name) ||
    status === 429 ||
    (error as { $retryable?: { throttling?: boolean } } | null)?.$retryable
      ?.throttling === true
  ) {
    return 'throttled';
  }
  return 'unavailable';
}

/** The exception type, e.g. `AccessDeniedException`; empty if not an Error. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } })
    .$metadata;
  return typeof metadata?.httpStatusCode === 'number'
    ? metadata.httpStatusCode
    : undefined;
}
