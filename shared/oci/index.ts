/**
 * The OCI engine's public surface: build a Flux artifact, push it to a
 * registry or an OCI image layout, read it back, delete it. Only
 * re-exports; see each module for the contract.
 */
export {
  buildFluxArtifact,
  confighubAnnotations,
  extractContent,
  type ArtifactInput,
  type Blob,
  type ConfighubIds,
  type FluxArtifact,
} from './artifact.js';
export { clearAuthCache } from './auth.js';
export { parseChallenges, type Challenge } from './challenge.js';
export { ANNOTATION, MEDIA_TYPE } from './constants.js';
export type {
  CredentialProvider,
  CredentialRequest,
  RegistryCredential,
} from './credential.js';
export { redactUrl } from './endpoint.js';
export {
  InvalidReferenceError,
  OciError,
  type OciErrorCode,
  type ReferenceField,
} from './errors.js';
export { createLayoutStore, layoutDirectory } from './layout.js';
export {
  DOCKER_HUB_API_HOST,
  formatRepository,
  parseRepositoryPrefix,
  revisionTag,
  unitRepository,
  validateSlug,
  validateTag,
  type Repository,
  type RepositoryPrefix,
} from './reference.js';
export {
  createRegistryClient,
  type RegistryClientOptions,
} from './registry.js';
export type {
  ArtifactStore,
  ManifestInfo,
  OperationOptions,
  PulledArtifact,
  PushOptions,
  PushResult,
} from './types.js';
