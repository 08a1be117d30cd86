/**
 * A {@link SecretSource} over AWS Secrets Manager, with values cached for a
 * few minutes across warm invocations by Powertools' SecretsProvider.
 */
import { GetParameterError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import {
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

import { awsErrorKind, errorName } from './aws-errors.js';
import {
  SecretSourceError,
  type GetSecretOptions,
  type SecretSource,
  type SecretValue,
} from './source.js';

/** How long a secret stays cached: rotation is picked up on a 401 anyway. */
export const DEFAULT_SECRET_MAX_AGE_SECONDS = 300;

export interface SecretsManagerSourceOptions {
  /** Built once per container by the caller; a default client otherwise. */
  client?: SecretsManagerClient;
  /** Seconds a fetched value is served from memory; default 300. */
  maxAgeSeconds?: number;
}

/** Reads secrets from Secrets Manager by ARN or name. */
export function createSecretsManagerSource(
  options: SecretsManagerSourceOptions = {},
): SecretSource {
  const provider = new SecretsProvider({
    awsSdkV3Client: options.client ?? new SecretsManagerClient({}),
  });
  const maxAge = options.maxAgeSeconds ?? DEFAULT_SECRET_MAX_AGE_SECONDS;

  return {
    async get(id: string, get: GetSecretOptions = {}): Promise<SecretValue> {
      const stage = get.stage ?? 'AWSCURRENT';
      // Powertools keys its cache by name only, not by VersionStage: a
      // non-current stage is always fetched and never cached, so it can
      // neither be served for AWSCURRENT nor shadow it.
      const current = stage === 'AWSCURRENT';
      let value: string | Uint8Array | undefined;
      try {
        value = await provider.get(id, {
          maxAge: current ? maxAge : 0,
          forceFetch: get.forceFetch === true || !current,
          sdkOptions: { VersionStage: stage },
        });
      } catch (error) {
        throw toSourceError(id, unwrap(error));
      }
      if (typeof value === 'string') return { text: value };
      if (value instanceof Uint8Array) return { binary: value };
      throw new SecretSourceError(
        'NOT_FOUND',
        id,
        `secret ${id} (${stage}) has neither SecretString nor SecretBinary`,
      );
    },
  };
}

/** Powertools wraps SDK errors in GetParameterError with the SDK error as cause. */
function unwrap(error: unknown): unknown {
  if (error instanceof GetParameterError && error.cause !== undefined) {
    return error.cause;
  }
  return error;
}

/** Classifies an SDK failure by its exception type, never by its message. */
export function toSourceError(id: string, error: unknown): SecretSourceError {
  if (error instanceof ResourceNotFoundException) {
    return new SecretSourceError(
      'NOT_FOUND',
      id,
      `secret ${id} does not exist in Secrets Manager (ResourceNotFoundException); create it or fix the secret name`,
      { cause: error },
    );
  }
  const name = errorName(error) || 'unknown error';
  switch (awsErrorKind(error)) {
    case 'access-denied':
      return new SecretSourceError(
        'ACCESS_DENIED',
        id,
        `reading secret ${id} was denied (${name}); grant secretsmanager:GetSecretValue on it (and kms:Decrypt on its key) to the function's role`,
        { cause: error },
      );
    case 'throttled':
      return new SecretSourceError(
        'THROTTLED',
        id,
        `reading secret ${id} was throttled (${name}); retry later`,
        { cause: error },
      );
    case 'unavailable':
      return new SecretSourceError(
        'UNAVAILABLE',
        id,
        `reading secret ${id} failed (${name}); retry later`,
        { cause: error },
      );
  }
}
