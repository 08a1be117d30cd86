/**
 * ConfigHub's ActionResult, as its bridge workers send it (confighub/sdk
 * `bridge-worker/api/operation_status.go`): Go JSON, so byte fields travel
 * base64 and an absent time is left out.
 */
import type { Action } from '../event/types.js';

/** The Status values a worker sends (ActionStatusType). */
export type ActionStatus = 'Progressing' | 'Completed' | 'Failed';

/**
 * The Result values a worker sends (ActionResultType). ConfigHub defines no
 * Finalize result: its FluxOCIWorker completes Finalize with `None`.
 */
export type ActionResultType =
  | 'None'
  | 'ApplyCompleted'
  | 'ApplyFailed'
  | 'DestroyCompleted'
  | 'DestroyFailed'
  | 'RefreshAndNoDrift'
  | 'RefreshAndDrifted'
  | 'RefreshFailed'
  | 'ImportCompleted'
  | 'ImportFailed';

/** ConfigHub refuses longer messages (MaxActionResultMessageLength). */
export const MAX_MESSAGE_LENGTH = 1024;

/** One entry of an Apply's Outputs, as ConfigHub's FluxOCIWorker writes it. */
export interface ApplyOutput {
  /** `<registry>/<name>@sha256:…` */
  Digest: string;
  /** `<registry>/<name>:<tag>` */
  URL: string;
}

/** An ActionResult on the wire. */
export interface ActionResult {
  UnitID: string;
  SpaceID: string;
  QueuedOperationID: string;
  RevisionNum: number;
  Action: Action;
  Result: ActionResultType;
  Status: ActionStatus;
  Message: string;
  /** RFC 3339. */
  StartedAt: string;
  /** RFC 3339; absent while Progressing. */
  TerminatedAt?: string;
  /** Base64 configuration data (Import). */
  Data?: string;
  /** Base64 live state (Apply, Refresh, Import). */
  LiveState?: string;
  /** Base64 of the JSON outputs (Apply: a list of {@link ApplyOutput}). */
  Outputs?: string;
}

/** Sends ActionResults to ConfigHub, or wherever the deployment says. */
export interface ActionResultReporter {
  /**
   * Delivers one result. Rejects with {@link ReportError} when every attempt
   * failed; never puts the worker secret in the error.
   */
  report(result: ActionResult, options?: ReportOptions): Promise<void>;
}

export interface ReportOptions {
  /** Stops waiting and retrying when aborted. */
  signal?: AbortSignal;
  /**
   * Attempts for this result; the reporter's default otherwise. Progress
   * reports use 1: they are superseded by the final one anyway.
   */
  attempts?: number;
}
