/**
 * Errors raised by the OCI engine. Every error carries a literal `name`
 * (minifiers rename classes), a closed `code`, and the fields a caller
 * branches on.
 */

/** What went wrong, as a caller branches on it. */
export type OciErrorCode =
  | 'INVALID_REFERENCE'
  | 'REGISTRY_ERROR'
  | 'AUTH_FAILED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'DIGEST_MISMATCH'
  | 'NOT_FOUND'
  | 'DELETE_REFUSED'
  | 'IMMUTABLE_TAG'
  | 'INVALID_ARTIFACT'
  | 'UNSAFE_ENDPOINT'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'ABORTED';

export interface OciErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  status?: number;
  registry?: string;
  /** The `errors[].code` values of the registry's error body, if any. */
  registryCodes?: readonly string[];
  /** The digest the error is about (a mismatch, an immutable tag). */
  digest?: string;
}

/** Base class of every error the OCI engine throws. */
export class OciError extends Error {
  override readonly name: string = 'OciError';
  readonly code: OciErrorCode;
  /** True when the same request may succeed later (429, 5xx, network). */
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly registry: string | undefined;
  /** The registry's spec error codes (`DENIED`, `MANIFEST_INVALID`, …). */
  readonly registryCodes: readonly string[];
  readonly digest: string | undefined;

  constructor(
    code: OciErrorCode,
    message: string,
    options: OciErrorOptions = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.registry = options.registry;
    this.registryCodes = options.registryCodes ?? [];
    this.digest = options.digest;
  }
}

/** The field of a ConfigHub target or event a reference was built from. */
export type ReferenceField = 'Repository' | 'UnitSlug' | 'Tag';

/**
 * A repository, slug or tag breaks the distribution grammar. Names the field,
 * the offending part and the rule, so the person fixing the target can act.
 */
export class InvalidReferenceError extends OciError {
  override readonly name = 'InvalidReferenceError';
  readonly field: ReferenceField;
  readonly value: string;

  constructor(field: ReferenceField, value: string, rule: string) {
    super('INVALID_REFERENCE', `${field} ${JSON.stringify(value)}: ${rule}`);
    this.field = field;
    this.value = value;
  }
}
