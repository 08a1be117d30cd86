/**
 * An independent client for checking what our engine wrote: skopeo for the
 * registry side, and a plain reader of OCI image layouts. Nothing here may
 * import product code from shared/oci, or a bug there would check itself.
 *
 * skopeo 1.9 handles Flux artifacts with `inspect --raw`, `list-tags` and
 * `copy`; plain `inspect` refuses them ("unsupported image-specific operation
 * on artifact"). Credentials go through a temporary auth file, never argv.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';

const run = promisify(execFile);

export const FLUX_CONTENT_MEDIA_TYPE =
  'application/vnd.cncf.flux.content.v1.tar+gzip';
const SKOPEO_TIMEOUT_MS = 60_000;

export interface SkopeoCredentials {
  username: string;
  password: string;
}

export interface SkopeoOptions {
  /** Default: anonymous (an empty auth file, so no machine credentials leak in). */
  creds?: SkopeoCredentials;
}

/** A manifest as raw bytes, parsed, and digested. */
export interface RawManifest {
  /** The exact bytes the registry (or layout) holds. */
  raw: Buffer;
  json: OciManifestJson;
  /** sha256 of `raw`: the manifest's digest. */
  digest: string;
}

export interface OciDescriptorJson {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface OciManifestJson {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: OciDescriptorJson;
  layers: OciDescriptorJson[];
  annotations?: Record<string, string>;
}

/** skopeo failed; `notFound` when the registry said the tag or repository is unknown. */
export class SkopeoError extends Error {
  override readonly name = 'SkopeoError';
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(`skopeo ${args.join(' ')} exited ${exitCode}: ${stderr.trim()}`);
  }

  get notFound(): boolean {
    return /manifest unknown|name unknown|not found/i.test(this.stderr);
  }
}

/** `docker://host/name:tag` from a reference with or without the transport. */
function dockerRef(ref: string): string {
  return ref.startsWith('docker://') ? ref : `docker://${ref}`;
}

function hostOf(ref: string): string {
  return dockerRef(ref).slice('docker://'.length).split('/')[0] ?? '';
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Runs skopeo with an auth file holding `creds` for `host` (or nothing), and
 * `--insecure-policy` so the machine's signature policy plays no part.
 */
async function skopeo(
  args: (authfile: string) => string[],
  host: string,
  options: SkopeoOptions,
): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'skopeo-'));
  try {
    const authfile = join(dir, 'auth.json');
    const auths: Record<string, { auth: string }> = {};
    if (options.creds !== undefined) {
      const pair = `${options.creds.username}:${options.creds.password}`;
      auths[host] = { auth: Buffer.from(pair).toString('base64') };
    }
    await writeFile(authfile, JSON.stringify({ auths }), { mode: 0o600 });
    const argv = ['--insecure-policy', ...args(authfile)];
    try {
      const { stdout } = await run('skopeo', argv, {
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
        timeout: SKOPEO_TIMEOUT_MS,
      });
      return stdout;
    } catch (error) {
      const failure = error as { code?: number; stderr?: Buffer };
      throw new SkopeoError(
        argv.filter((arg) => arg !== authfile),
        typeof failure.code === 'number' ? failure.code : undefined,
        failure.stderr?.toString('utf8') ?? String(error),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `skopeo inspect --raw`: the manifest bytes a tag (or digest) points at. */
export async function inspectRaw(
  ref: string,
  options: SkopeoOptions = {},
): Promise<RawManifest> {
  const raw = await skopeo(
    (authfile) => [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--authfile',
      authfile,
      dockerRef(ref),
    ],
    hostOf(ref),
    options,
  );

  return {
    raw,
    json: JSON.parse(raw.toString('utf8')) as OciManifestJson,
    digest: sha256(raw),
  };
}

/** `skopeo list-tags`: the repository's tags (throws when it does not exist). */
export async function listTags(
  ref: string,
  options: SkopeoOptions = {},
): Promise<string[]> {
  const stdout = await skopeo(
    (authfile) => [
      'list-tags',
      '--tls-verify=false',
      '--authfile',
      authfile,
      dockerRef(ref),
    ],
    hostOf(ref),
    options,
  );
  const parsed = JSON.parse(stdout.toString('utf8')) as { Tags?: string[] };

  return parsed.Tags ?? [];
}

/** `skopeo copy docker://ref oci:dir:tag`, digests preserved. */
export async function copyToLayout(
  ref: string,
  dir: string,
  tag: string,
  options: SkopeoOptions = {},
): Promise<void> {
  await skopeo(
    (authfile) => [
      'copy',
      '--quiet',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--src-authfile',
      authfile,
      dockerRef(ref),
      `oci:${dir}:${tag}`,
    ],
    hostOf(ref),
    options,
  );
}

/** `skopeo copy oci:dir:tag docker://dest`, digests preserved. */
export async function skopeoCopyFromLayout(
  dir: string,
  tag: string,
  dest: string,
  options: SkopeoOptions = {},
): Promise<void> {
  await skopeo(
    (authfile) => [
      'copy',
      '--quiet',
      '--preserve-digests',
      '--dest-tls-verify=false',
      '--dest-authfile',
      authfile,
      `oci:${dir}:${tag}`,
      dockerRef(dest),
    ],
    hostOf(dest),
    options,
  );
}

function blobPath(layoutDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (
    algorithm !== 'sha256' ||
    hex === undefined ||
    !/^[a-f0-9]{64}$/.test(hex)
  ) {
    throw new Error(`expected a sha256 digest, got ${digest}`);
  }

  return join(layoutDir, 'blobs', algorithm, hex);
}

/** Reads a blob of an OCI layout and checks it against its digest. */
export async function readLayoutBlob(
  layoutDir: string,
  digest: string,
): Promise<Buffer> {
  const bytes = await readFile(blobPath(layoutDir, digest));
  const actual = sha256(bytes);
  if (actual !== digest) {
    throw new Error(`layout blob ${digest} holds bytes digesting to ${actual}`);
  }

  return bytes;
}

/**
 * The manifest `tag` names in an OCI layout: index.json's entry annotated
 * `org.opencontainers.image.ref.name: tag`. Undefined when no entry has it.
 */
export async function readLayoutManifest(
  layoutDir: string,
  tag: string,
): Promise<RawManifest | undefined> {
  const index = JSON.parse(
    await readFile(join(layoutDir, 'index.json'), 'utf8'),
  ) as { manifests?: OciDescriptorJson[] };
  const entry = index.manifests?.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  if (entry === undefined) {
    return undefined;
  }
  const raw = await readLayoutBlob(layoutDir, entry.digest);

  return {
    raw,
    json: JSON.parse(raw.toString('utf8')) as OciManifestJson,
    digest: entry.digest,
  };
}

/**
 * The bytes of manifest.yaml inside the Flux content layer of `tag` in an
 * OCI layout (e.g. one copyToLayout wrote).
 */
export async function extractFluxContent(
  layoutDir: string,
  tag: string,
): Promise<Buffer> {
  const manifest = await readLayoutManifest(layoutDir, tag);
  if (manifest === undefined) {
    throw new Error(`no tag ${tag} in the OCI layout at ${layoutDir}`);
  }
  const layer = manifest.json.layers.find(
    (l) => l.mediaType === FLUX_CONTENT_MEDIA_TYPE,
  );
  if (layer === undefined) {
    const types = manifest.json.layers.map((l) => l.mediaType).join(', ');
    throw new Error(
      `manifest ${manifest.digest} has no ${FLUX_CONTENT_MEDIA_TYPE} layer (layers: ${types || 'none'})`,
    );
  }
  await readLayoutBlob(layoutDir, layer.digest);

  const out = await mkdtemp(join(tmpdir(), 'flux-content-'));
  try {
    const entries: string[] = [];
    await tar.x({
      file: blobPath(layoutDir, layer.digest),
      cwd: out,
      strict: true,
      onReadEntry: (entry) => {
        entries.push(normalize(entry.path));
      },
    });
    if (!entries.includes('manifest.yaml')) {
      throw new Error(
        `layer ${layer.digest} has no manifest.yaml (entries: ${entries.join(', ') || 'none'})`,
      );
    }

    return await readFile(join(out, 'manifest.yaml'));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
