import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import {
  buildFluxArtifact,
  createLayoutStore,
  layoutDirectory,
  type Repository,
} from '../../shared/oci/index.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import {
  extractFluxContent,
  inspectRaw,
  readLayoutManifest,
  skopeoCopyFromLayout,
} from '../support/skopeo.js';

const UNIT = new URL('../fixtures/units/boutique.yaml', import.meta.url);
const repo: Repository = {
  registry: 'localhost:5000',
  apiHost: 'localhost:5000',
  name: 'acme/boutique',
};

const artifact = async (revisionNum: number, content?: string) =>
  buildFluxArtifact({
    content:
      content === undefined ? await readFile(UNIT) : Buffer.from(content),
    created: '2025-03-01T10:00:00Z',
    source: 's',
    revision: String(revisionNum),
    annotations: { 'com.confighub.revision': String(revisionNum) },
  });

describe('createLayoutStore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'oci-layout-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('when an artifact is pushed', () => {
    it('writes an OCI layout that an independent reader understands', async () => {
      const store = createLayoutStore(root);
      const a = await artifact(1);

      const result = await store.push(repo, a, { tags: ['rev1', 'latest'] });

      const dir = layoutDirectory(root, repo);
      assert.equal(dir, join(root, 'localhost_5000', 'acme', 'boutique'));
      assert.deepEqual(
        JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')),
        { imageLayoutVersion: '1.0.0' },
      );
      assert.equal(
        (await readLayoutManifest(dir, 'latest'))?.digest,
        a.manifest.digest,
      );
      assert.deepEqual(
        await extractFluxContent(dir, 'rev1'),
        await readFile(UNIT),
      );
      assert.deepEqual(result, {
        digest: a.manifest.digest,
        tagged: ['rev1', 'latest'],
        uploadedBlobs: 3,
        uploadedBytes: a.config.size + a.layer.size + a.manifest.size,
        requests: 0,
      });
    });
  });

  describe('when pushes to one layout run concurrently', () => {
    it('keeps every tag', async () => {
      const store = createLayoutStore(root);
      const artifacts = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => artifact(n, `n: ${n}\n`)),
      );

      await Promise.all(
        artifacts.map((a, i) => store.push(repo, a, { tags: [`rev${i + 1}`] })),
      );

      for (const [i, a] of artifacts.entries()) {
        assert.equal(
          (await store.inspect(repo, `rev${i + 1}`))?.digest,
          a.manifest.digest,
        );
      }
    });
  });

  describe('when the moving tag holds a newer revision', () => {
    it('keeps it and reports keptTag; pull and delete work on the layout', async () => {
      const store = createLayoutStore(root);
      const newer = await store.push(repo, await artifact(5, 'five\n'), {
        tags: ['rev5', 'latest'],
      });
      const moving = {
        tag: 'latest',
        shouldMove: (c?: { annotations: Record<string, string> }) =>
          Number(c?.annotations['com.confighub.revision'] ?? 0) < 3,
      };

      const result = await store.push(repo, await artifact(3, 'three\n'), {
        tags: ['rev3'],
        movingTag: moving,
      });
      const pulled = await store.pull(repo, 'rev3');
      const deleted = await store.delete(repo, 'latest');

      assert.equal(result.keptTag?.current.digest, newer.digest);
      assert.equal(Buffer.from(pulled?.content ?? []).toString(), 'three\n');
      assert.deepEqual(deleted, { digest: newer.digest });
      assert.equal(await store.inspect(repo, 'rev5'), undefined);
      assert.equal(await store.pull(repo, 'latest'), undefined);
      assert.ok(await store.inspect(repo, 'rev3'));
    });
  });

  describe('when skopeo copies the layout to a registry', () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startRegistry();
    });
    after(async () => {
      await registry.stop();
    });

    it('arrives with the same manifest digest', async () => {
      const store = createLayoutStore(root);
      const a = await artifact(1);
      await store.push(repo, a, { tags: ['rev1'] });

      await skopeoCopyFromLayout(
        layoutDirectory(root, repo),
        'rev1',
        `${registry.host}/acme/boutique:rev1`,
      );

      assert.equal(
        (await inspectRaw(`${registry.host}/acme/boutique:rev1`)).digest,
        a.manifest.digest,
      );
    });
  });
});
