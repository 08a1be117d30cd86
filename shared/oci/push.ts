/**
 * Pushing one artifact to a registry in three rounds of parallel requests:
 *
 * 1. HEAD both blobs, and GET the moving tag's manifest (its annotations
 *    feed the caller's never-backwards rule);
 * 2. upload the blobs not known to exist, with one POST each where the
 *    registry takes single-POST uploads, else POST then PUT;
 * 3. PUT the same manifest bytes to every tag.
 *
 * A first revision of a new unit with one extra tag costs 7 requests in 3
 * rounds where single POSTs work, and 9 in 4 on registries that need POST
 * then PUT (distribution 2.8). Pushing the same revision again costs 5 in 2
 * and sends no blob data.
 */
import { silentLog } from '../log.js';
import { MEDIA_TYPE, REGISTRY_CODE } from './constants.js';
import type { Blob, FluxArtifact } from './artifact.js';
import { parseManifest } from './artifact.js';
import { OciError } from './errors.js';
import { formatRepository, validateTag } from './reference.js';
import { InvalidReferenceError } from './errors.js';
import {
  getManifest,
  headBlob,
  headManifest,
  putManifest,
  putUpload,
  startUpload,
  type RegistryContext,
} from './protocol.js';
import type { ManifestInfo, PushOptions, PushResult } from './types.js';

/**
 * Whether each registry origin completed a single-POST upload (true) or
 * answered it with a session to PUT into (false). Module scope: a warm
 * container stops sending blob bytes twice after the first probe.
 */
const singlePostByOrigin = new Map<string, boolean>();

/** Forgets what was learnt about single-POST uploads (tests). */
export function clearUploadCache(): void {
  singlePostByOrigin.clear();
}

/** Checks tags before anything is sent: bad input writes nothing. */
export function validatePushOptions(options: PushOptions): void {
  if (options.tags.length === 0 && !options.movingTag) {
    throw new InvalidReferenceError(
      'Tag',
      '',
      'a push needs at least one tag (the revision tag rev<N>)',
    );
  }
  for (const tag of options.tags) validateTag(tag);
  if (options.movingTag) validateTag(options.movingTag.tag);
}

/** Pushes blobs and manifest, then tags; see the module comment. */
export async function pushArtifact(
  ctx: RegistryContext,
  artifact: FluxArtifact,
  options: PushOptions,
): Promise<PushResult> {
  const manifest = artifact.manifest;
  const moving = options.movingTag;
  const blobs = uniqueByDigest([artifact.config, artifact.layer]);

  // Round 1: what exists, and where the moving tag points.
  const readMoving =
    moving && !options.tags.includes(moving.tag)
      ? readManifestInfo(ctx, moving.tag)
      : Promise.resolve(undefined);
  const [presence, current] = await Promise.all([
    Promise.all(blobs.map((b) => headBlob(ctx, b.digest))),
    readMoving,
  ]);
  let roundTrips = 1;

  // Round 2: uploads of the blobs not known to exist.
  const missing = blobs.filter((_, i) => presence[i] !== 'present');
  const uploads = await Promise.all(missing.map((b) => uploadBlob(ctx, b)));
  roundTrips += Math.max(0, ...uploads.map((u) => u.requests));

  // Round 3: the same manifest bytes under every tag.
  const { write, tagged, keptTag } = planTags(
    options,
    current,
    manifest.digest,
  );
  const puts = await Promise.all(write.map((t) => putTag(ctx, t, manifest)));
  roundTrips += Math.max(0, ...puts);

  (ctx.log ?? silentLog).debug('artifact pushed', {
    registry: ctx.repo.registry,
    repository: ctx.repo.name,
    digest: manifest.digest,
    tagged,
    requests: ctx.counter.requests,
  });

  return {
    digest: manifest.digest,
    tagged,
    ...(keptTag ? { keptTag } : {}),
    uploadedBlobs: uploads.length,
    uploadedBytes: uploads.reduce((sum, u) => sum + u.bytes, 0),
    requests: ctx.counter.requests,
    roundTrips,
  };
}

/** Which tags to write, given where the moving tag points now. */
export function planTags(
  options: PushOptions,
  current: ManifestInfo | undefined,
  digest: string,
): { write: string[]; tagged: string[]; keptTag?: PushResult['keptTag'] } {
  const write = [...new Set(options.tags)];
  const tagged = [...write];
  const moving = options.movingTag;
  if (!moving || write.includes(moving.tag)) return { write, tagged };

  if (current?.digest === digest) {
    // Already there: no request needed, whatever the rule would say.
    tagged.push(moving.tag);
  } else if (moving.shouldMove(current)) {
    write.push(moving.tag);
    tagged.push(moving.tag);
  } else if (current) {
    return { write, tagged, keptTag: { tag: moving.tag, current } };
  }

  return { write, tagged };
}

/** The manifest a tag points at, with its annotations; undefined if none. */
export async function readManifestInfo(
  ctx: RegistryContext,
  tag: string,
): Promise<ManifestInfo | undefined> {
  const remote = await getManifest(ctx, tag);
  if (!remote) return undefined;
  const what = `${formatRepository(ctx.repo)}:${tag}`;

  return {
    digest: remote.digest,
    annotations: parseManifest(remote.bytes, what).annotations,
  };
}

/** Uploads one blob; returns sequential requests and blob bytes sent. */
async function uploadBlob(
  ctx: RegistryContext,
  blob: Blob,
): Promise<{ requests: number; bytes: number }> {
  const origin = ctx.base.origin;
  const data = { digest: blob.digest, bytes: blob.bytes };

  if (singlePostByOrigin.get(origin) !== false) {
    const start = await startUpload(ctx, data);
    if (start.kind === 'created') {
      singlePostByOrigin.set(origin, true);
      return { requests: 1, bytes: blob.size };
    }
    // distribution 2.8 ignores `?digest=` and the body and answers 202
    // with a session (TOOL-NOTES, docker-registry); others refuse with 4xx.
    singlePostByOrigin.set(origin, false);
    (ctx.log ?? silentLog).debug('registry takes no single-POST uploads', {
      registry: ctx.repo.registry,
      status: start.kind === 'refused' ? start.response.status : 202,
    });
    if (start.kind === 'session') {
      await finishUpload(ctx, start.location, data);
      return { requests: 2, bytes: 2 * blob.size };
    }
    const session = await startUpload(ctx);
    if (session.kind !== 'session') throw unexpectedUploadStart(ctx);
    await finishUpload(ctx, session.location, data);
    return { requests: 3, bytes: 2 * blob.size };
  }

  const session = await startUpload(ctx);
  if (session.kind !== 'session') throw unexpectedUploadStart(ctx);
  await finishUpload(ctx, session.location, data);

  return { requests: 2, bytes: blob.size };
}

/**
 * PUTs the blob into its session. When the answer to a first PUT is lost
 * (the connection dropped after the registry stored the blob), the
 * transport's retry finds the session closed: 404 BLOB_UPLOAD_UNKNOWN. A
 * HEAD then tells whether the blob arrived; only if not is that an error.
 */
async function finishUpload(
  ctx: RegistryContext,
  location: URL,
  data: { digest: string; bytes: Uint8Array },
): Promise<void> {
  try {
    await putUpload(ctx, location, data);
  } catch (error) {
    const closed =
      error instanceof OciError &&
      error.registryCodes.includes(REGISTRY_CODE.blobUploadUnknown);
    if (!closed || (await headBlob(ctx, data.digest)) !== 'present') {
      throw error;
    }
    (ctx.log ?? silentLog).debug('blob upload session closed; blob present', {
      registry: ctx.repo.registry,
      digest: data.digest,
    });
  }
}

function unexpectedUploadStart(ctx: RegistryContext): OciError {
  return new OciError(
    'REGISTRY_ERROR',
    `POST blob upload ${formatRepository(ctx.repo)}: the registry did not open an upload session`,
    { registry: ctx.repo.registry },
  );
}

const REFUSAL_CODES: readonly string[] = [
  REGISTRY_CODE.tagInvalid,
  REGISTRY_CODE.manifestInvalid,
  REGISTRY_CODE.denied,
  REGISTRY_CODE.unsupported,
];

/**
 * PUTs the manifest under one tag; returns the sequential requests sent
 * (2 when a refusal made it look at what the tag holds).
 */
async function putTag(
  ctx: RegistryContext,
  tag: string,
  manifest: Blob,
): Promise<number> {
  try {
    await putManifest(ctx, tag, manifest);
    return 1;
  } catch (error) {
    if (!(error instanceof OciError) || !isRefusal(error)) throw error;

    // An immutable tag that already holds our digest is success (ECR:
    // 400 TAG_INVALID "...cannot be overwritten because the repository is
    // immutable"; others answer MANIFEST_INVALID or DENIED).
    const existing = await headManifest(ctx, tag);
    if (existing?.digest === manifest.digest) {
      (ctx.log ?? silentLog).debug('tag already holds this manifest', {
        registry: ctx.repo.registry,
        tag,
      });
      return 2;
    }
    throw classifyRefusal(ctx, tag, error, existing?.digest);
  }
}

function isRefusal(error: OciError): boolean {
  return (
    error.status === 415 ||
    ((error.status === 400 || error.status === 403 || error.status === 409) &&
      error.registryCodes.some((c) => REFUSAL_CODES.includes(c)))
  );
}

function classifyRefusal(
  ctx: RegistryContext,
  tag: string,
  error: OciError,
  existingDigest: string | undefined,
): OciError {
  const name = `${formatRepository(ctx.repo)}:${tag}`;
  const codes = error.registryCodes;
  const options = {
    cause: error,
    status: error.status,
    registry: ctx.repo.registry,
    registryCodes: codes,
  };

  if (existingDigest && !codes.includes(REGISTRY_CODE.unsupported)) {
    return new OciError(
      'IMMUTABLE_TAG',
      `PUT manifest ${name}: the registry refused to overwrite the tag, which holds ${existingDigest} (registry said: ${error.message}); the repository's tags are immutable. Make tags mutable (ECR: imageTagMutability MUTABLE) or leave the Tag parameter empty`,
      { ...options, digest: existingDigest },
    );
  }
  if (
    error.status === 415 ||
    codes.includes(REGISTRY_CODE.manifestInvalid) ||
    codes.includes(REGISTRY_CODE.unsupported)
  ) {
    return new OciError(
      'UNSUPPORTED_MEDIA_TYPE',
      `PUT manifest ${name}: ${ctx.repo.registry} refused the Flux artifact (manifest ${MEDIA_TYPE.ociManifest}, config ${MEDIA_TYPE.fluxConfig}, layer ${MEDIA_TYPE.fluxContent}); this registry does not store OCI artifacts with these media types. Use a registry that accepts OCI artifacts (registry said: ${error.message})`,
      { ...options, digest: undefined },
    );
  }

  return error;
}

function uniqueByDigest(blobs: Blob[]): Blob[] {
  const seen = new Set<string>();
  return blobs.filter((b) => !seen.has(b.digest) && seen.add(b.digest));
}
