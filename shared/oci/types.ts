/**
 * The shape every artifact destination shares: a registry, or an OCI image
 * layout directory. Callers (the push function, the local stack) depend on
 * this interface only.
 */
import type { FluxArtifact } from './artifact.js';
import type { Repository } from './reference.js';

/** A manifest a tag points at, as far as callers care. */
export interface ManifestInfo {
  digest: string;
  annotations: Record<string, string>;
}

/** What to tag, and the moving tag whose current target the caller judges. */
export interface PushOptions {
  /** Always written, e.g. `['rev7']`. */
  tags: string[];
  /**
   * An extra tag such as `latest`, read in the same round trip as the blob
   * checks; moved only when `shouldMove` says so (the never-backwards rule
   * lives in the caller).
   */
  movingTag?: {
    tag: string;
    shouldMove(current: ManifestInfo | undefined): boolean;
  };
  signal?: AbortSignal;
}

export interface PushResult {
  /** The manifest digest (`sha256:…`). */
  digest: string;
  /** Tags now pointing at `digest`. */
  tagged: string[];
  /** The moving tag, left where it was because `shouldMove` said no. */
  keptTag?: { tag: string; current: ManifestInfo };
  uploadedBlobs: number;
  /** Blob bytes sent, including a single-POST probe the registry ignored. */
  uploadedBytes: number;
  /** HTTP requests sent, not counting authentication (ping, token). */
  requests: number;
  /**
   * Sequential rounds of requests (parallel ones count once), as planned:
   * retries and re-authentication are not included. Absent for stores
   * that send no requests.
   */
  roundTrips?: number;
}

/** An artifact read back: its digest, annotations and manifest.yaml. */
export interface PulledArtifact {
  digest: string;
  annotations: Record<string, string>;
  content: Uint8Array;
}

export interface OperationOptions {
  signal?: AbortSignal;
}

/** A place artifacts are pushed to and read from. */
export interface ArtifactStore {
  push(
    repo: Repository,
    artifact: FluxArtifact,
    options: PushOptions,
  ): Promise<PushResult>;
  /** Undefined when the tag does not exist. */
  pull(
    repo: Repository,
    tag: string,
    options?: OperationOptions,
  ): Promise<PulledArtifact | undefined>;
  /** Undefined when the tag does not exist. */
  inspect(
    repo: Repository,
    tag: string,
    options?: OperationOptions,
  ): Promise<ManifestInfo | undefined>;
  /** Deletes the manifest the tag points at; undefined when there is none. */
  delete(
    repo: Repository,
    tag: string,
    options?: OperationOptions,
  ): Promise<{ digest: string } | undefined>;
}
