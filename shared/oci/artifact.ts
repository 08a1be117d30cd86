/**
 * The Flux artifact: a gzip-compressed tar holding `manifest.yaml`, a config
 * blob, and an OCI image manifest naming both with the media types Flux's
 * source-controller expects. Everything is reproducible: the same input
 * gives the same three digests on every run and every machine.
 */
import { promisify } from 'node:util';
import { gunzip, gzip, constants as zlibConstants } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { ANNOTATION, CONTENT_FILE, LIMIT, MEDIA_TYPE } from './constants.js';
import { sha256Digest } from './digest.js';
import { OciError } from './errors.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** What an artifact is built from. */
export interface ArtifactInput {
  /** manifest.yaml, byte for byte (the unit's data). */
  content: Uint8Array;
  /** RFC 3339, from the event's acceptedAt, never the clock. */
  created: string;
  /** org.opencontainers.image.source. */
  source: string;
  /** org.opencontainers.image.revision. */
  revision: string;
  /** Extra annotations, e.g. from {@link confighubAnnotations}. */
  annotations?: Record<string, string>;
}

/** A content-addressed blob: the descriptor fields and its bytes. */
export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Uint8Array;
}

/** The three blobs of a Flux artifact, and the manifest's annotations. */
export interface FluxArtifact {
  config: Blob;
  layer: Blob;
  manifest: Blob;
  annotations: Record<string, string>;
}

/** The ConfigHub identifiers an artifact carries. */
export interface ConfighubIds {
  spaceId: string;
  unitId: string;
  unitSlug: string;
  revisionNum: number;
  queuedOperationId: string;
}

/**
 * The config blob. Flux's source-controller never reads it, so it holds no
 * data of its own: `{}`, as ORAS writes for artifacts without a config
 * (image spec 1.1, "Guidelines for Artifact Usage"). The same two bytes in
 * every repository mean a HEAD finds it after the first push, and nothing
 * in it can drift between machines. Provenance lives in the annotations.
 */
const CONFIG_BYTES = new TextEncoder().encode('{}');

/** Fixed so the layer digest depends on the content only. */
const GZIP_LEVEL = 9;
/** RFC 1952 header: ID1 ID2 CM FLG, MTIME (4 bytes), XFL, OS. */
const GZIP_MTIME_OFFSET = 4;
const GZIP_OS_OFFSET = 9;
/** "Unix", what Node's zlib writes on Linux and macOS; forced elsewhere. */
const GZIP_OS_UNIX = 3;
const TAR_BLOCK = 512;
const RFC3339 =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;
const RESERVED = [ANNOTATION.created, ANNOTATION.source, ANNOTATION.revision];

/** Builds the artifact. Throws INVALID_ARTIFACT for a bad `created`. */
export async function buildFluxArtifact(
  input: ArtifactInput,
): Promise<FluxArtifact> {
  if (!RFC3339.test(input.created) || Number.isNaN(Date.parse(input.created))) {
    throw new OciError(
      'INVALID_ARTIFACT',
      `created ${JSON.stringify(input.created)} is not an RFC 3339 timestamp such as 2025-01-31T12:00:00Z; pass the event's acceptedAt`,
    );
  }
  for (const key of RESERVED) {
    if (input.annotations && key in input.annotations) {
      throw new OciError(
        'INVALID_ARTIFACT',
        `annotations must not set ${key}; pass it as created, source or revision`,
      );
    }
  }

  const annotations = sortKeys({
    ...input.annotations,
    [ANNOTATION.created]: input.created,
    [ANNOTATION.source]: input.source,
    [ANNOTATION.revision]: input.revision,
  });
  const config = blob(MEDIA_TYPE.fluxConfig, CONFIG_BYTES);
  const layer = blob(MEDIA_TYPE.fluxContent, await gzipTar(input.content));

  // Keys in a fixed order; JSON.stringify keeps insertion order. No
  // artifactType: the config media type already names the artifact (image
  // spec 1.1), and Flux CLI's own pushes carry none.
  const manifestJson = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: descriptor(config),
    layers: [descriptor(layer)],
    annotations,
  };
  const manifest = blob(
    MEDIA_TYPE.ociManifest,
    new TextEncoder().encode(JSON.stringify(manifestJson)),
  );

  return { config, layer, manifest, annotations };
}

/** The `com.confighub.*` annotations for an artifact. */
export function confighubAnnotations(
  ids: ConfighubIds,
): Record<string, string> {
  return {
    [ANNOTATION.spaceId]: ids.spaceId,
    [ANNOTATION.unitId]: ids.unitId,
    [ANNOTATION.unitSlug]: ids.unitSlug,
    [ANNOTATION.revisionNum]: String(ids.revisionNum),
    [ANNOTATION.operationId]: ids.queuedOperationId,
  };
}

/**
 * Reads `manifest.yaml` out of a Flux content layer (gzip-compressed tar).
 * Throws INVALID_ARTIFACT when it is not there or the layer is malformed.
 */
export async function extractContent(layer: Uint8Array): Promise<Uint8Array> {
  let tarBytes: Buffer;
  try {
    tarBytes = await gunzipAsync(layer, { maxOutputLength: LIMIT.content });
  } catch (error) {
    throw new OciError(
      'INVALID_ARTIFACT',
      `the content layer is not gzip data within ${LIMIT.content} bytes`,
      { cause: error },
    );
  }

  const chunks: Buffer[] = [];
  let found = false;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const path = entry.path.replace(/^(?:\.\/)+/, '');
      if (path === CONTENT_FILE && entry.type === 'File' && !found) {
        found = true;
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      } else {
        entry.resume();
      }
    },
  });
  try {
    // Parsing a Buffer handed to end() runs synchronously.
    parser.end(tarBytes);
  } catch (error) {
    throw new OciError('INVALID_ARTIFACT', 'the content layer is not a tar', {
      cause: error,
    });
  }
  if (!found) {
    throw new OciError(
      'INVALID_ARTIFACT',
      `the content layer holds no ${CONTENT_FILE}; it was not pushed by this bridge or flux push artifact of a single file`,
    );
  }

  return Buffer.concat(chunks);
}

function blob(mediaType: string, bytes: Uint8Array): Blob {
  return {
    mediaType,
    digest: sha256Digest(bytes),
    size: bytes.byteLength,
    bytes,
  };
}

function descriptor(b: Blob) {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size };
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) sorted[key] = record[key]!;
  return sorted;
}

/**
 * One ustar entry with fixed fields (mode 0644, uid/gid 0, empty owner
 * names, mtime 0), then the two zero blocks that end an archive; gzip at a
 * fixed level with the header's mtime 0 and OS byte pinned.
 */
async function gzipTar(content: Uint8Array): Promise<Uint8Array> {
  const header = Buffer.alloc(TAR_BLOCK);
  new Header({
    path: CONTENT_FILE,
    type: 'File',
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: content.byteLength,
    mtime: new Date(0),
  }).encode(header, 0);
  const padding = (TAR_BLOCK - (content.byteLength % TAR_BLOCK)) % TAR_BLOCK;
  const tarBytes = Buffer.concat([
    header,
    content,
    Buffer.alloc(padding),
    Buffer.alloc(2 * TAR_BLOCK),
  ]);

  const gz = await gzipAsync(tarBytes, {
    level: GZIP_LEVEL,
    strategy: zlibConstants.Z_DEFAULT_STRATEGY,
  });
  // Node's zlib writes mtime 0 and the build platform's OS code; pin both
  // so a Windows build (OS 0x0a) yields the same bytes.
  gz.writeUInt32LE(0, GZIP_MTIME_OFFSET);
  gz[GZIP_OS_OFFSET] = GZIP_OS_UNIX;

  return gz;
}

/** The parts of an image manifest the engine reads back. */
export interface ParsedManifest {
  mediaType: string | undefined;
  layers: { mediaType: string; digest: string; size: number }[];
  annotations: Record<string, string>;
}

/** Parses manifest bytes; INVALID_ARTIFACT when they are not one. */
export function parseManifest(bytes: Uint8Array, what: string): ParsedManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new OciError('INVALID_ARTIFACT', `${what}: manifest is not JSON`, {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new OciError(
      'INVALID_ARTIFACT',
      `${what}: manifest is not an object`,
    );
  }
  const record = parsed as Record<string, unknown>;
  const layers = Array.isArray(record.layers)
    ? (record.layers as unknown[]).filter(isDescriptor)
    : [];
  const annotations: Record<string, string> = {};
  if (typeof record.annotations === 'object' && record.annotations !== null) {
    for (const [key, value] of Object.entries(record.annotations)) {
      if (typeof value === 'string') annotations[key] = value;
    }
  }

  return {
    mediaType:
      typeof record.mediaType === 'string' ? record.mediaType : undefined,
    layers,
    annotations,
  };
}

function isDescriptor(
  value: unknown,
): value is { mediaType: string; digest: string; size: number } {
  const d = value as Record<string, unknown> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.mediaType === 'string' &&
    typeof d.digest === 'string' &&
    typeof d.size === 'number'
  );
}
