/**
 * Registry credentials: target parameter rules, the resolver the push
 * function calls, and the secret formats it reads. Re-exports only.
 */
export {
  createCredentialResolver,
  kubernetesSecretId,
  credentialFingerprint,
  AUTH_METHODS,
  DEFAULT_REGISTRY_SECRET_PREFIX,
  type AuthMethod,
  type CredentialResolver,
  type CredentialResolverDeps,
  type CredentialsConfig,
  type ResolvedCredential,
  type ResolveOptions,
} from './resolver.js';
export {
  parseTargetParams,
  formatTargetParamsIssues,
  targetParamsSchema,
  type ParseTargetParamsResult,
  type TargetParamsIssue,
} from './target-params.js';
export {
  parseRegistrySecret,
  findEntry,
  entryCredential,
  normaliseRegistryKey,
  type AuthEntry,
  type EntryMatch,
  type RegistryAuthConfig,
  type RegistryKey,
  type SecretFormat,
} from './docker-config.js';
export {
  parseEcrHost,
  isTagImmutable,
  ECR_PUBLIC_REGION,
  TOKEN_REFRESH_MARGIN_MS,
  type EcrHost,
  type EnsureRepositoryResult,
  type TagMutability,
} from './ecr.js';
export {
  CredentialsError,
  SecretFormatError,
  type AttemptReason,
  type CredentialAttempt,
  type CredentialSourceName,
  type CredentialsErrorCode,
} from './errors.js';
