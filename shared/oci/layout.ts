/**
 * An OCI image layout directory as an artifact store (image spec, "OCI
 * Image Layout"): `oci-layout`, `index.json` whose entries carry
 * `org.opencontainers.image.ref.name`, and `blobs/sha256/<hex>`. One layout
 * per repository, at `<root>/<registry>/<name>/`, so that
 * `skopeo copy oci:<dir>:<tag> …` reads it. Files are written to a temporary
 * name and renamed; pushes to one directory are serialised within the
 * process (another process writing the same layout is not coordinated).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MEDIA_TYPE } from './constants.js';
import {
  extractContent,
  parseManifest,
  type Blob,
  type FluxArtifact,
} from './artifact.js';
import { isSha256Digest, sha256Digest } from './digest.js';
import { OciError } from './errors.js';
import { planTags, validatePushOptions } from './push.js';
import { formatRepository, validateTag, type Repository } from './reference.js';
import type { ArtifactStore, ManifestInfo, PushResult } from './types.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const LAYOUT_FILE = 'oci-layout';
const INDEX_FILE = 'index.json';

interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: IndexEntry[];
}

/** The pushes under way per layout directory, chained one after another. */
const locks = new Map<string, Promise<unknown>>();

/**
 * The directory of a repository's layout. The registry's `:port` becomes
 * `_port`: skopeo's `oci:` reference splits the path at the first colon.
 */
export function layoutDirectory(root: string, repo: Repository): string {
  return join(
    root,
    repo.registry.replaceAll(':', '_'),
    ...repo.name.split('/'),
  );
}

/** Creates a store that writes OCI image layouts under `root`. */
export function createLayoutStore(root: string): ArtifactStore {
  return {
    async push(repo, artifact, options) {
      validatePushOptions(options);
      const dir = layoutDirectory(root, repo);
      return serialised(dir, () => pushToLayout(dir, artifact, options));
    },

    async pull(repo, tag) {
      validateTag(tag);
      const dir = layoutDirectory(root, repo);
      const entry = findTag(await readIndex(dir), tag);
      if (!entry) return undefined;
      const what = `${dir}:${tag}`;
      const parsed = parseManifest(await readBlob(dir, entry.digest), what);
      const layer = parsed.layers.find(
        (l) => l.mediaType === MEDIA_TYPE.fluxContent,
      );
      if (!layer) {
        throw new OciError(
          'INVALID_ARTIFACT',
          `${what} (${formatRepository(repo)}) holds no layer of media type ${MEDIA_TYPE.fluxContent}`,
          { digest: entry.digest },
        );
      }

      return {
        digest: entry.digest,
        annotations: parsed.annotations,
        content: await extractContent(await readBlob(dir, layer.digest)),
      };
    },

    async inspect(repo, tag) {
      validateTag(tag);
      const dir = layoutDirectory(root, repo);
      return manifestInfo(dir, findTag(await readIndex(dir), tag));
    },

    async delete(repo, tag) {
      validateTag(tag);
      const dir = layoutDirectory(root, repo);
      return serialised(dir, async () => {
        const index = await readIndex(dir);
        const entry = findTag(index, tag);
        if (!entry) return undefined;
        // Like a registry: deleting the manifest removes every tag on it.
        // Blobs stay; nothing else in the layout refers to them.
        index.manifests = index.manifests.filter(
          (m) => m.digest !== entry.digest,
        );
        await writeAtomic(join(dir, INDEX_FILE), serialiseIndex(index));

        return { digest: entry.digest };
      });
    },
  };
}

async function pushToLayout(
  dir: string,
  artifact: FluxArtifact,
  options: Parameters<ArtifactStore['push']>[2],
): Promise<PushResult> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  if (!(await exists(join(dir, LAYOUT_FILE)))) {
    await writeAtomic(
      join(dir, LAYOUT_FILE),
      JSON.stringify({ imageLayoutVersion: '1.0.0' }),
    );
  }

  let uploadedBlobs = 0;
  let uploadedBytes = 0;
  for (const blob of [artifact.config, artifact.layer, artifact.manifest]) {
    if (await writeBlob(dir, blob)) {
      uploadedBlobs++;
      uploadedBytes += blob.size;
    }
  }

  const index = await readIndex(dir);
  const current = options.movingTag
    ? await manifestInfo(dir, findTag(index, options.movingTag.tag))
    : undefined;
  const digest = artifact.manifest.digest;
  const { write, tagged, keptTag } = planTags(options, current, digest);
  index.manifests = index.manifests.filter(
    (m) => !write.includes(m.annotations?.[REF_NAME] ?? ''),
  );
  for (const tag of write) {
    index.manifests.push({
      mediaType: artifact.manifest.mediaType,
      digest,
      size: artifact.manifest.size,
      annotations: { [REF_NAME]: tag },
    });
  }
  await writeAtomic(join(dir, INDEX_FILE), serialiseIndex(index));

  return {
    digest,
    tagged,
    ...(keptTag ? { keptTag } : {}),
    uploadedBlobs,
    uploadedBytes,
    requests: 0,
  };
}

async function serialised<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const previous = locks.get(dir) ?? Promise.resolve();
  // Run after the previous push whether it succeeded or not.
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  locks.set(dir, settled);
  try {
    return await next;
  } finally {
    if (locks.get(dir) === settled) locks.delete(dir);
  }
}

async function readIndex(dir: string): Promise<ImageIndex> {
  let text: string;
  try {
    text = await readFile(join(dir, INDEX_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.ociIndex,
        manifests: [],
      };
    }
    throw error;
  }
  try {
    const index = JSON.parse(text) as ImageIndex;
    if (!Array.isArray(index.manifests)) throw new TypeError('no manifests');
    return index;
  } catch (error) {
    throw new OciError(
      'INVALID_ARTIFACT',
      `${join(dir, INDEX_FILE)} is not an OCI image index; move the directory aside or repair it`,
      { cause: error },
    );
  }
}

function serialiseIndex(index: ImageIndex): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: index.manifests,
  });
}

function findTag(index: ImageIndex, tag: string): IndexEntry | undefined {
  return index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
}

async function manifestInfo(
  dir: string,
  entry: IndexEntry | undefined,
): Promise<ManifestInfo | undefined> {
  if (!entry) return undefined;
  const bytes = await readBlob(dir, entry.digest);

  return {
    digest: entry.digest,
    annotations: parseManifest(bytes, `${dir}@${entry.digest}`).annotations,
  };
}

function blobPath(dir: string, digest: string): string {
  if (!isSha256Digest(digest)) {
    throw new OciError(
      'INVALID_ARTIFACT',
      `digest ${JSON.stringify(digest)} is not a sha256 digest`,
    );
  }
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

async function readBlob(dir: string, digest: string): Promise<Uint8Array> {
  const bytes = await readFile(blobPath(dir, digest));
  if (sha256Digest(bytes) !== digest) {
    throw new OciError(
      'DIGEST_MISMATCH',
      `${blobPath(dir, digest)} does not hash to its name; the layout was altered`,
      { digest },
    );
  }
  return bytes;
}

/** Writes a blob unless it is there; true when written. */
async function writeBlob(dir: string, blob: Blob): Promise<boolean> {
  const path = blobPath(dir, blob.digest);
  if (await exists(path)) return false;
  await writeAtomic(path, blob.bytes);
  return true;
}

async function writeAtomic(
  path: string,
  data: string | Uint8Array,
): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, data, { mode: 0o644 });
  await rename(temp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
