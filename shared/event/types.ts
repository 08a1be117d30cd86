/**
 * The event contract: what ConfigHub sends a FluxOCIWriter worker, and the
 * normalised form the webhook puts on the queue for the push function.
 */

/** Actions ConfigHub sends bridge workers. */
export const ACTIONS = [
  'Apply',
  'Destroy',
  'Refresh',
  'Import',
  'Finalize',
] as const;
export type Action = (typeof ACTIONS)[number];

/** How the worker authenticates to the registry (FluxOCIWriter `Provider`). */
export const PROVIDERS = ['Generic', 'AWS', 'GCP', 'Azure', 'None'] as const;
export type Provider = (typeof PROVIDERS)[number];

/**
 * A FluxOCIWriter target's parameters, normalised: `AllowDeletion` is a
 * boolean, an empty `Tag` is absent.
 */
export interface TargetParams {
  /** Registry host and repository prefix, e.g. `ghcr.io/acme`. */
  Repository: string;
  /** Extra tag moved to each new revision, e.g. `latest`. */
  Tag?: string;
  Provider: Provider;
  AllowDeletion: boolean;
  /** Kubernetes secret reference kept from targets made for ConfigHub's Kubernetes worker. */
  KubernetesSecretName?: string;
  KubernetesSecretNamespace?: string;
  /** Secrets Manager secret (ARN or name) with registry credentials. Lambda-only addition. */
  SecretId?: string;
}

/** One ConfigHub bridge-worker operation, as the push function receives it. */
export interface OperationPayload {
  QueuedOperationID: string;
  UnitID: string;
  SpaceID: string;
  UnitSlug: string;
  ToolchainType: string;
  ProviderType: string;
  RevisionNum: number;
  /** The unit's configuration, base64 as on the wire (kept byte for byte). */
  Data: string;
  /** Base64 live state, or null. */
  LiveState: string | null;
  TargetParams: TargetParams;
  ExtraParams: unknown;
}

/** The body of a queue message: the normalised event and when it was accepted. */
export interface QueuedEvent {
  schemaVersion: 1;
  /** RFC 3339 time the webhook accepted the event; the artifact's `created`. */
  acceptedAt: string;
  Action: Action;
  Payload: OperationPayload;
}
