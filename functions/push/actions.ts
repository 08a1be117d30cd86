/**
 * What each ConfigHub action does to the registry. Pure orchestration over
 * an {@link ArtifactStore}: no queue, no reporting, no clock.
 */
import { createHash } from 'node:crypto';

import type {
  ActionResultType,
  ApplyOutput,
} from '../../shared/confighub/types.js';
import type { QueuedEvent } from '../../shared/event/types.js';
import type { Log } from '../../shared/log.js';
import {
  ANNOTATION,
  buildFluxArtifact,
  confighubAnnotations,
  type ArtifactStore,
  type ManifestInfo,
  type PulledArtifact,
  type PushResult,
} from '../../shared/oci/index.js';
import {
  formatRepository,
  revisionTag,
  type Repository,
} from '../../shared/oci/reference.js';
import { PushError } from './errors.js';

/** Everything an action needs; built per message by the handler. */
export interface ActionContext {
  event: QueuedEvent;
  repo: Repository;
  store: ArtifactStore;
  /** Aborted a safety margin before the Lambda deadline. */
  signal: AbortSignal;
  /** ConfigHub's base URL, for the artifact's source annotation. */
  confighubUrl?: string;
  /** Makes sure the repository exists before a push (ECR). */
  ensureRepository?: () => Promise<void>;
  log: Log;
}

/** How an action ended, before it becomes an ActionResult. */
export interface ActionOutcome {
  status: 'Completed' | 'Failed';
  result: ActionResultType;
  message: string;
  data?: Uint8Array;
  liveState?: Uint8Array;
  outputs?: ApplyOutput[];
  /** The manifest digest the action wrote, read or removed. */
  digest?: string;
  /** Apply only: what the push did, for metrics. */
  push?: PushResult;
}

/** Runs the event's action. Throws on failure; the handler classifies. */
export async function runAction(ctx: ActionContext): Promise<ActionOutcome> {
  switch (ctx.event.Action) {
    case 'Apply':
      return apply(ctx);
    case 'Destroy':
      return destroy(ctx);
    case 'Refresh':
      return refresh(ctx);
    case 'Import':
      return importArtifact(ctx);
    case 'Finalize':
      return {
        status: 'Completed',
        // ConfigHub defines no Finalize result; its own worker sends None.
        result: 'None',
        message: 'finalized: a Flux OCI target keeps nothing to clean up',
      };
  }
}

/**
 * Where the artifact came from, for `org.opencontainers.image.source`: the
 * unit's page in ConfigHub when its URL is configured. Without it, a
 * `confighub://space/<id>/unit/<id>` URI still names the unit exactly,
 * where an https URL would have to guess a host. Part of the manifest, so
 * of the digest: changing CONFIGHUB_URL changes later digests.
 */
export function artifactSource(
  confighubUrl: string | undefined,
  spaceId: string,
  unitId: string,
): string {
  const path = `space/${encodeURIComponent(spaceId)}/unit/${encodeURIComponent(unitId)}`;
  return confighubUrl
    ? `${confighubUrl.replace(/\/+$/, '')}/${path}`
    : `confighub://${path}`;
}

/** Flux's revision form `<name>@<algo>:<hex>`: `rev7@sha256:<data digest>`. */
export function artifactRevision(
  revisionNum: number,
  content: Uint8Array,
): string {
  const hex = createHash('sha256').update(content).digest('hex');
  return `${revisionTag(revisionNum)}@sha256:${hex}`;
}

/**
 * The never-backwards rule: the moving tag may go to revision N when it
 * points nowhere yet or at revision N or older (equal: a redelivery, moving
 * is a no-op). A manifest without a readable revision was not written by
 * this bridge; the target's Tag is ours to move, so it moves.
 */
export function mayMoveTag(
  current: ManifestInfo | undefined,
  revisionNum: number,
  log: Log,
): boolean {
  if (current === undefined) return true;
  const currentRevision = recordedRevision(current);
  if (currentRevision === undefined) {
    log.warn(
      'moving tag points at a manifest without a ConfigHub revision; moving it',
      {
        digest: current.digest,
      },
    );
    return true;
  }
  return currentRevision <= revisionNum;
}

function recordedRevision(info: ManifestInfo): number | undefined {
  const raw = info.annotations[ANNOTATION.revisionNum];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

async function apply(ctx: ActionContext): Promise<ActionOutcome> {
  const { event, repo, store, signal } = ctx;
  const payload = event.Payload;
  const revTag = revisionTag(payload.RevisionNum);
  const movingTag = payload.TargetParams.Tag;
  const content = decodeData(payload.Data);

  const artifact = await buildFluxArtifact({
    content,
    created: event.acceptedAt,
    source: artifactSource(ctx.confighubUrl, payload.SpaceID, payload.UnitID),
    revision: artifactRevision(payload.RevisionNum, content),
    annotations: confighubAnnotations({
      spaceId: payload.SpaceID,
      unitId: payload.UnitID,
      unitSlug: payload.UnitSlug,
      revisionNum: payload.RevisionNum,
      queuedOperationId: payload.QueuedOperationID,
    }),
  });
  await ctx.ensureRepository?.();
  const pushed = await store.push(repo, artifact, {
    tags: [revTag],
    ...(movingTag !== undefined && {
      movingTag: {
        tag: movingTag,
        shouldMove: (current: ManifestInfo | undefined) =>
          mayMoveTag(current, payload.RevisionNum, ctx.log),
      },
    }),
    signal,
  });

  const where = formatRepository(repo);
  // rev<N> first, as ConfigHub's own worker lists them.
  const tagged = [...pushed.tagged].sort((a, b) =>
    a === revTag ? -1 : b === revTag ? 1 : 0,
  );
  const outputs = tagged.map((tag) => ({
    Digest: `${where}@${pushed.digest}`,
    URL: `${where}:${tag}`,
  }));
  let message = `pushed ${where}:${revTag} (${pushed.digest})`;
  if (movingTag !== undefined && pushed.tagged.includes(movingTag)) {
    message += ` and pointed ${movingTag} at it`;
  }
  if (pushed.keptTag !== undefined) {
    const kept = pushed.keptTag;
    const keptRevision = recordedRevision(kept.current);
    message += `; kept ${kept.tag} on ${keptRevision === undefined ? kept.current.digest : `revision ${keptRevision} (${kept.current.digest})`}, which is newer than revision ${payload.RevisionNum}: ${kept.tag} never moves backwards`;
  }
  message +=
    pushed.uploadedBlobs === 0
      ? '; every blob was already in the registry'
      : `; uploaded ${pushed.uploadedBlobs} blob(s), ${pushed.uploadedBytes} bytes`;

  return {
    status: 'Completed',
    result: 'ApplyCompleted',
    message,
    liveState: content,
    outputs,
    digest: pushed.digest,
    push: pushed,
  };
}

async function destroy(ctx: ActionContext): Promise<ActionOutcome> {
  const { event, repo, store, signal } = ctx;
  const payload = event.Payload;
  const where = formatRepository(repo);
  const revTag = revisionTag(payload.RevisionNum);
  const movingTag = payload.TargetParams.Tag;

  if (!payload.TargetParams.AllowDeletion) {
    throw new PushError(
      'DELETION_NOT_ALLOWED',
      `deletion is not allowed on this target (AllowDeletion is false): ${where}:${revTag} was left in place; set AllowDeletion to "true" on the target to let Destroy delete artifacts`,
    );
  }

  const revision = await store.inspect(repo, revTag, { signal });
  const tagBefore =
    movingTag === undefined
      ? undefined
      : await store.inspect(repo, movingTag, { signal });

  if (revision === undefined) {
    let message = `nothing to delete: ${where}:${revTag} does not exist`;
    if (movingTag !== undefined && tagBefore !== undefined) {
      message += `; ${movingTag} (${tagBefore.digest}) was left in place: it is not revision ${payload.RevisionNum}'s manifest`;
    }
    return { status: 'Completed', result: 'DestroyCompleted', message };
  }

  // Registries delete manifests, not tags (docker-registry refuses a delete
  // by tag): removing rev<N>'s manifest removes every tag on it, so Tag goes
  // with it exactly when it points at the same digest.
  await store.delete(repo, revTag, { signal });
  const removed = [revTag];
  let kept = '';
  if (movingTag !== undefined && tagBefore !== undefined) {
    if (tagBefore.digest === revision.digest) {
      const tagAfter = await store.inspect(repo, movingTag, { signal });
      if (tagAfter?.digest === revision.digest) {
        await store.delete(repo, movingTag, { signal });
      }
      removed.push(movingTag);
    } else {
      const keptRevision = recordedRevision(tagBefore);
      kept = `; ${movingTag} was left in place: it points at ${keptRevision === undefined ? tagBefore.digest : `revision ${keptRevision} (${tagBefore.digest})`}`;
    }
  }

  return {
    status: 'Completed',
    result: 'DestroyCompleted',
    message: `deleted ${revision.digest} from ${where} (tags ${removed.join(', ')})${kept}`,
    digest: revision.digest,
  };
}

/**
 * What Refresh and Import read: the artifact `Tag` points at, or `rev<N>`'s
 * when the target has no `Tag`.
 */
async function pullLive(ctx: ActionContext): Promise<{
  where: string;
  tag: string;
  pulled: PulledArtifact | undefined;
}> {
  const { event, repo, store, signal } = ctx;
  const payload = event.Payload;
  const tag = payload.TargetParams.Tag ?? revisionTag(payload.RevisionNum);
  const pulled = await store.pull(repo, tag, { signal });

  return { where: formatRepository(repo), tag, pulled };
}

async function refresh(ctx: ActionContext): Promise<ActionOutcome> {
  const payload = ctx.event.Payload;
  const { where, tag, pulled } = await pullLive(ctx);
  if (pulled === undefined) {
    // Nothing live is a difference from the unit's data: report it as drift
    // so ConfigHub shows the unit as not published.
    return {
      status: 'Completed',
      result: 'RefreshAndDrifted',
      message: `drifted: no artifact at ${where}:${tag} (never applied to this target, or deleted outside ConfigHub)`,
    };
  }

  const expected = decodeData(payload.Data);
  const liveRevision = recordedRevision(pulled);
  const holds = liveRevision === undefined ? '' : `, revision ${liveRevision}`;
  if (Buffer.from(pulled.content).equals(expected)) {
    return {
      status: 'Completed',
      result: 'RefreshAndNoDrift',
      message: `no drift: ${where}:${tag} (${pulled.digest}${holds}) holds the unit's data`,
      liveState: pulled.content,
      digest: pulled.digest,
    };
  }
  return {
    status: 'Completed',
    result: 'RefreshAndDrifted',
    message: `drifted: ${where}:${tag} (${pulled.digest}${holds}) differs from revision ${payload.RevisionNum}'s data; LiveState holds the registry's manifest.yaml`,
    liveState: pulled.content,
    digest: pulled.digest,
  };
}

async function importArtifact(ctx: ActionContext): Promise<ActionOutcome> {
  const { where, tag, pulled } = await pullLive(ctx);
  if (pulled === undefined) {
    return {
      status: 'Failed',
      result: 'ImportFailed',
      message: `nothing to import: no artifact at ${where}:${tag}`,
    };
  }
  return {
    status: 'Completed',
    result: 'ImportCompleted',
    message: `imported ${where}:${tag} (${pulled.digest})`,
    data: pulled.content,
    liveState: pulled.content,
    digest: pulled.digest,
  };
}

function decodeData(data: string): Buffer {
  return Buffer.from(data, 'base64');
}
