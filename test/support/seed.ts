/**
 * Puts a small Flux artifact into a test registry with raw HTTP, without our
 * engine: for tests that need a registry already holding something (a moving
 * tag at an older revision, a tag to delete) and for checking the harness.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { TestRegistry } from './registry.js';

export const OCI_MANIFEST_MEDIA_TYPE =
  'application/vnd.oci.image.manifest.v1+json';
export const FLUX_CONFIG_MEDIA_TYPE =
  'application/vnd.cncf.flux.config.v1+json';
export const FLUX_LAYER_MEDIA_TYPE =
  'application/vnd.cncf.flux.content.v1.tar+gzip';

export interface SeedOptions {
  /** Repository name, e.g. `acme/app`. */
  repository: string;
  /** Tags to point at the manifest; each is a manifest PUT. */
  tags: string[];
  /** manifest.yaml bytes. Default: a one-line ConfigMap. */
  content?: Uint8Array | string;
  /** Manifest annotations, e.g. `com.confighub.revision`. */
  annotations?: Record<string, string>;
}

export interface SeededArtifact {
  digest: string;
  manifest: Buffer;
  layerDigest: string;
  configDigest: string;
}

function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function gzipTarOf(name: string, content: Uint8Array): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'seed-'));
  try {
    await writeFile(join(dir, name), content);
    const archive = join(dir, 'layer.tar.gz');
    await tar.c({ gzip: true, cwd: dir, file: archive, portable: true }, [
      name,
    ]);

    return await readFile(archive);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function expectStatus(
  response: Response,
  expected: number,
  what: string,
): Promise<void> {
  if (response.status !== expected) {
    const body = (await response.text()).slice(0, 500);
    throw new Error(
      `${what}: expected ${expected}, got ${response.status} ${body}`,
    );
  }
  await response.arrayBuffer();
}

async function uploadBlob(
  registry: TestRegistry,
  repository: string,
  bytes: Uint8Array,
  headers: Record<string, string>,
): Promise<string> {
  const digest = digestOf(bytes);
  const start = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, {
    method: 'POST',
    headers,
  });
  const location = start.headers.get('location');
  await expectStatus(start, 202, `POST blob upload to ${repository}`);
  if (location === null) {
    throw new Error(`POST blob upload to ${repository}: no Location header`);
  }
  // Distribution's Location carries ?_state=…, so the digest goes on with &.
  const target = new URL(location, registry.url);
  target.searchParams.set('digest', digest);
  const put = await fetch(target, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(put, 201, `PUT blob ${digest} to ${repository}`);

  return digest;
}

/** Pushes a Flux artifact holding `content` as manifest.yaml, tagged `tags`. */
export async function seedArtifact(
  registry: TestRegistry,
  options: SeedOptions,
): Promise<SeededArtifact> {
  const authorization = await registry.authorization({
    scopes: [`repository:${options.repository}:pull,push`],
  });
  const headers: Record<string, string> =
    authorization === undefined ? {} : { authorization };
  const content =
    typeof options.content === 'string'
      ? Buffer.from(options.content)
      : (options.content ??
        Buffer.from(
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seed\n',
        ));

  const config = Buffer.from('{}');
  const layer = await gzipTarOf('manifest.yaml', content);
  const configDigest = await uploadBlob(
    registry,
    options.repository,
    config,
    headers,
  );
  const layerDigest = await uploadBlob(
    registry,
    options.repository,
    layer,
    headers,
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: {
        mediaType: FLUX_CONFIG_MEDIA_TYPE,
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: FLUX_LAYER_MEDIA_TYPE,
          digest: layerDigest,
          size: layer.length,
        },
      ],
      annotations: options.annotations ?? {},
    }),
  );
  for (const tag of options.tags) {
    const put = await fetch(
      `${registry.url}/v2/${options.repository}/manifests/${tag}`,
      {
        method: 'PUT',
        headers: { ...headers, 'content-type': OCI_MANIFEST_MEDIA_TYPE },
        body: manifest,
      },
    );
    await expectStatus(put, 201, `PUT manifest ${options.repository}:${tag}`);
  }

  return { digest: digestOf(manifest), manifest, layerDigest, configDigest };
}
