/**
 * What the OCI engine needs to authenticate: a credential for one registry,
 * and a way to ask for it again after the registry refused it.
 */

/** Credentials for one registry, in the forms docker config entries carry. */
export type RegistryCredential =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token realm. */
  | { kind: 'identityToken'; username?: string; identityToken: string }
  /** A bearer token sent as is (`registrytoken`). */
  | { kind: 'registryToken'; token: string };

export interface CredentialRequest {
  /** The registry as named in the target, e.g. `ghcr.io` or `docker.io`. */
  registry: string;
  /** The repository name being pushed, for path-scoped config entries. */
  repository: string;
  /**
   * True when the registry just refused the previous credential: skip caches
   * so a rotated secret is picked up. Asked at most once per operation.
   */
  refresh?: boolean;
}

/** Supplies credentials to the OCI engine; the credentials resolver is one. */
export type CredentialProvider = (
  request: CredentialRequest,
) => Promise<RegistryCredential>;
