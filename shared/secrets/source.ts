/**
 * Where secrets come from. The functions read Secrets Manager; the local
 * stack reads a file. Both sit behind this one interface so the same code
 * path runs in Lambda and locally.
 */

/** A secret's value: text (SecretString) or bytes (SecretBinary). */
export interface SecretValue {
  text?: string;
  binary?: Uint8Array;
  /** The version id, when the source has versions. */
  versionId?: string;
}

export type SecretStage = 'AWSCURRENT' | 'AWSPREVIOUS';

export interface GetSecretOptions {
  /** Which version stage to read; AWSCURRENT by default. */
  stage?: SecretStage;
  /** Skip the cache: used once after a 401 so a rotated secret is picked up. */
  forceFetch?: boolean;
}

/** Reads secrets by ARN or name. */
export interface SecretSource {
  /**
   * Returns the secret's value. Rejects with {@link SecretSourceError}
   * (`NOT_FOUND`, `ACCESS_DENIED`, `THROTTLED`, `UNAVAILABLE`); never puts a
   * secret value in an error.
   */
  get(id: string, options?: GetSecretOptions): Promise<SecretValue>;
}

export type SecretSourceErrorCode =
  'NOT_FOUND' | 'ACCESS_DENIED' | 'THROTTLED' | 'UNAVAILABLE';

/** A secret could not be read. Carries the id, never the value. */
export class SecretSourceError extends Error {
  override readonly name = 'SecretSourceError';
  readonly code: SecretSourceErrorCode;
  readonly secretId: string;
  readonly retryable: boolean;

  constructor(
    code: SecretSourceErrorCode,
    secretId: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.secretId = secretId;
    this.retryable = code === 'THROTTLED' || code === 'UNAVAILABLE';
  }
}
