import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';

import {
  buildFluxArtifact,
  confighubAnnotations,
  extractContent,
} from '../../shared/oci/artifact.js';
import { OciError } from '../../shared/oci/errors.js';

const FIXTURE = new URL(
  '../fixtures/units/frontend-deployment.yaml',
  import.meta.url,
);

const input = async () => ({
  content: await readFile(FIXTURE),
  created: '2025-03-01T10:00:00Z',
  source: 'https://hub.confighub.com/space/s1/unit/u1',
  revision: '7@sha256:abc',
  annotations: confighubAnnotations({
    spaceId: 's1',
    unitId: 'u1',
    unitSlug: 'frontend',
    revisionNum: 7,
    queuedOperationId: 'op-1',
  }),
});

const sha256 = (bytes: Uint8Array) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * A ustar header written field by field (POSIX.1-1988, numbers as octal
 * digits, space, NUL), not by the code under test.
 */
function ustarHeader(name: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) =>
    block.write(value, offset, length, 'latin1');
  const octal = (n: number, width: number) =>
    n.toString(8).padStart(width - 2, '0') + ' \0';
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(size, 12));
  field(136, 12, octal(0, 12));
  field(156, 1, '0');
  field(257, 8, 'ustar\u000000');
  field(329, 8, octal(0, 8));
  field(337, 8, octal(0, 8));
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  field(148, 8, octal(sum, 8));
  return block;
}

function expectedLayer(content: Buffer): Buffer {
  const pad = (512 - (content.length % 512)) % 512;
  const tar = Buffer.concat([
    ustarHeader('manifest.yaml', content.length),
    content,
    Buffer.alloc(pad + 1024),
  ]);
  const gz = gzipSync(tar, { level: 9 });
  gz[9] = 3;
  return gz;
}

describe('buildFluxArtifact', () => {
  describe('when given a unit and its event', () => {
    it('writes the layer as a ustar entry with fixed fields, gzip level 9, mtime 0, OS Unix', async () => {
      const given = await input();

      const artifact = await buildFluxArtifact(given);

      const layer = expectedLayer(given.content);
      assert.equal(artifact.layer.digest, sha256(layer));
      assert.deepEqual(Buffer.from(artifact.layer.bytes), layer);
      assert.deepEqual(
        [...artifact.layer.bytes.subarray(4, 10)],
        [0, 0, 0, 0, 2, 3],
      );
    });

    it('uses {} as config and a manifest with keys in a fixed order', async () => {
      const given = await input();

      const artifact = await buildFluxArtifact(given);

      assert.equal(Buffer.from(artifact.config.bytes).toString(), '{}');
      assert.equal(
        artifact.config.digest,
        'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      );
      const layerDigest = sha256(expectedLayer(given.content));
      const expected =
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        '"config":{"mediaType":"application/vnd.cncf.flux.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},' +
        `"layers":[{"mediaType":"application/vnd.cncf.flux.content.v1.tar+gzip","digest":"${layerDigest}","size":${artifact.layer.size}}],` +
        '"annotations":{"com.confighub.operation.id":"op-1","com.confighub.revision":"7","com.confighub.space.id":"s1",' +
        '"com.confighub.unit.id":"u1","com.confighub.unit.slug":"frontend",' +
        '"org.opencontainers.image.created":"2025-03-01T10:00:00Z",' +
        '"org.opencontainers.image.revision":"7@sha256:abc",' +
        '"org.opencontainers.image.source":"https://hub.confighub.com/space/s1/unit/u1"}}';
      assert.equal(Buffer.from(artifact.manifest.bytes).toString(), expected);
      assert.equal(artifact.manifest.digest, sha256(Buffer.from(expected)));
      assert.equal(
        artifact.manifest.mediaType,
        'application/vnd.oci.image.manifest.v1+json',
      );
    });

    it('pins the golden digests of the frontend fixture on every machine', async () => {
      const artifact = await buildFluxArtifact(await input());

      assert.deepEqual(
        [
          artifact.config.digest,
          artifact.layer.digest,
          artifact.manifest.digest,
        ],
        GOLDEN,
      );
    });

    it('gives the same bytes on every run', async () => {
      const a = await buildFluxArtifact(await input());
      const b = await buildFluxArtifact(await input());

      assert.deepEqual(a, b);
    });
  });

  describe('when created is not RFC 3339', () => {
    it('refuses with INVALID_ARTIFACT naming created', async () => {
      const given = { ...(await input()), created: 'yesterday' };

      await assert.rejects(
        buildFluxArtifact(given),
        (e: unknown) =>
          e instanceof OciError &&
          e.code === 'INVALID_ARTIFACT' &&
          /created "yesterday"/.test(e.message),
      );
    });
  });

  describe('when extra annotations try to set a standard key', () => {
    it('refuses rather than silently dropping one', async () => {
      const given = {
        ...(await input()),
        annotations: { 'org.opencontainers.image.created': 'x' },
      };

      await assert.rejects(
        buildFluxArtifact(given),
        /must not set org\.opencontainers\.image\.created/,
      );
    });
  });
});

describe('extractContent', () => {
  describe('when the layer came from buildFluxArtifact', () => {
    it('returns manifest.yaml byte for byte', async () => {
      const given = await input();
      const artifact = await buildFluxArtifact(given);

      const content = await extractContent(artifact.layer.bytes);

      assert.deepEqual(Buffer.from(content), given.content);
    });
  });

  describe('when the layer is a tar with ./manifest.yaml among other files', () => {
    it('finds it', async () => {
      const other = Buffer.from('other');
      const body = Buffer.from('kind: x\n');
      const tar = Buffer.concat([
        ustarHeader('README', other.length),
        other,
        Buffer.alloc(512 - other.length),
        ustarHeader('./manifest.yaml', body.length),
        body,
        Buffer.alloc(512 - body.length),
        Buffer.alloc(1024),
      ]);

      const content = await extractContent(gzipSync(tar));

      assert.equal(Buffer.from(content).toString(), 'kind: x\n');
    });
  });

  describe('when the layer has no manifest.yaml or is not gzip', () => {
    it('refuses with INVALID_ARTIFACT', async () => {
      const tar = Buffer.concat([
        ustarHeader('other.yaml', 1),
        Buffer.from('x'),
        Buffer.alloc(511 + 1024),
      ]);

      await assert.rejects(
        extractContent(gzipSync(tar)),
        (e: unknown) => e instanceof OciError && e.code === 'INVALID_ARTIFACT',
      );
      await assert.rejects(
        extractContent(Buffer.from('nope')),
        (e: unknown) => e instanceof OciError && e.code === 'INVALID_ARTIFACT',
      );
      assert.equal(gunzipSync(gzipSync(tar)).length, tar.length);
    });
  });
});

/**
 * Config, layer and manifest digests of the frontend fixture with the input
 * above, as the hand-written encoder above computes them on Linux x86-64
 * with Node 24's zlib: a machine that disagrees builds different bytes.
 */
const GOLDEN = [
  'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  'sha256:af7943d5e8b3fcefdfd88c6d36b4724b4717e684ed4a335d5bbe836e299c48b6',
  'sha256:51d4697214008e7050817fcb6c11106ac75d006f881f02a32b8b4aeda2ef8261',
];
