/**
 * The engine against Debian's docker-registry (distribution 2.8.2) in each
 * auth mode, checked with skopeo as an independent client.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';

import {
  buildFluxArtifact,
  clearAuthCache,
  confighubAnnotations,
  createRegistryClient,
  OciError,
  type CredentialProvider,
  type ManifestInfo,
  type Repository,
} from '../../shared/oci/index.js';
import { clearUploadCache } from '../../shared/oci/push.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import {
  copyToLayout,
  extractFluxContent,
  inspectRaw,
  listTags,
  SkopeoError,
} from '../support/skopeo.js';
import { recordingFetch } from './scripted.js';

const UNITS_DIR = new URL('../fixtures/units/', import.meta.url);
const units = (await readdir(UNITS_DIR)).filter((f) => f.endsWith('.yaml'));

const forwardOnly = (revisionNum: number) => ({
  tag: 'latest',
  shouldMove: (current: ManifestInfo | undefined) =>
    Number(current?.annotations['com.confighub.revision'] ?? 0) < revisionNum,
});

async function artifactFor(file: string, revisionNum: number) {
  return buildFluxArtifact({
    content: await readFile(new URL(file, UNITS_DIR)),
    created: '2025-03-01T10:00:00Z',
    source: `https://hub.confighub.com/unit/${file}`,
    revision: String(revisionNum),
    annotations: confighubAnnotations({
      spaceId: 'space',
      unitId: file,
      unitSlug: file.replace('.yaml', ''),
      revisionNum,
      queuedOperationId: `op-${revisionNum}`,
    }),
  });
}

const notAuth = (c: { url: string }) =>
  !['/v2/', '/token'].includes(new URL(c.url).pathname);

for (const mode of ['none', 'basic', 'token'] as const) {
  describe(`createRegistryClient against docker-registry (auth ${mode})`, () => {
    let registry: TestRegistry;
    let credentials: CredentialProvider;
    let creds: { username: string; password: string } | undefined;
    const workDirs: string[] = [];

    before(async () => {
      registry = await startRegistry({ auth: mode });
      const user = registry.users[0];
      creds = user && { username: user.username, password: user.password };
      credentials = () =>
        Promise.resolve(
          creds ? { kind: 'basic', ...creds } : { kind: 'anonymous' },
        );
    });
    after(async () => {
      await registry.stop();
      await Promise.all(
        workDirs.map((d) => rm(d, { recursive: true, force: true })),
      );
    });
    beforeEach(() => {
      clearAuthCache();
      clearUploadCache();
    });

    const repo = (slug: string): Repository => ({
      registry: registry.host,
      apiHost: registry.host,
      name: `acme/${slug}`,
    });

    describe('when a new unit is pushed with an extra moving tag', () => {
      for (const file of units) {
        it(`stores ${file} so that skopeo reads the same digest, tags and manifest.yaml`, async () => {
          const recorder = recordingFetch();
          const client = createRegistryClient({
            credentials,
            fetch: recorder.fetch,
          });
          const slug = `${mode}-${file.replace('.yaml', '')}`;
          const artifact = await artifactFor(file, 1);

          const result = await client.push(repo(slug), artifact, {
            tags: ['rev1'],
            movingTag: forwardOnly(1),
          });

          assert.equal(result.digest, artifact.manifest.digest);
          assert.deepEqual(result.tagged, ['rev1', 'latest']);
          assert.ok(result.requests <= 9, `${result.requests} requests`);
          const planned = result.roundTrips ?? Infinity;
          assert.ok(planned <= 4, `${planned} round trips`);
          assert.ok(recorder.waves(notAuth) <= planned);
          assert.ok(recorder.rounds(notAuth) >= planned);
          assert.equal(recorder.calls.filter(notAuth).length, result.requests);
          const ref = `${registry.host}/acme/${slug}`;
          const raw = await inspectRaw(`${ref}:latest`, { creds });
          assert.equal(raw.digest, artifact.manifest.digest);
          assert.deepEqual(raw.raw, Buffer.from(artifact.manifest.bytes));
          assert.deepEqual((await listTags(ref, { creds })).sort(), [
            'latest',
            'rev1',
          ]);
          const dir = await mkdtemp(join(tmpdir(), 'oci-it-'));
          workDirs.push(dir);
          await copyToLayout(`${ref}:rev1`, dir, 'rev1', { creds });
          assert.deepEqual(
            await extractFluxContent(dir, 'rev1'),
            await readFile(new URL(file, UNITS_DIR)),
          );
        });
      }
    });

    describe('when the registry origin is already known (warm container)', () => {
      it('pushes a new unit in 9 requests and 4 round trips, and the same revision again in 4 requests with no blob data', async () => {
        const warmup = createRegistryClient({ credentials });
        await warmup.push(
          repo(`${mode}-warmup`),
          await artifactFor('boutique.yaml', 1),
          { tags: ['rev1'] },
        );
        registry.tokenServer?.resetCount();
        const recorder = recordingFetch();
        // Debug lines explain a count that is off (a retry, a renewal).
        const lines: string[] = [];
        const keep = (message: string, fields?: Record<string, unknown>) =>
          lines.push(JSON.stringify({ message, ...fields }));
        const log = { debug: keep, info: keep, warn: keep, error: keep };
        const client = createRegistryClient({
          credentials,
          fetch: recorder.fetch,
          log,
        });
        const artifact = await artifactFor('helm-hooks.yaml', 1);
        const options = { tags: ['rev1'], movingTag: forwardOnly(1) };

        const first = await client.push(
          repo(`${mode}-counted`),
          artifact,
          options,
        );
        const firstWaves = recorder.waves(notAuth);
        const firstChain = recorder.rounds(notAuth);
        recorder.reset();
        const again = await client.push(
          repo(`${mode}-counted`),
          artifact,
          options,
        );

        // distribution 2.8 takes no single POST: POST then PUT per blob.
        assert.equal(first.requests, 9, lines.join('\n'));
        assert.equal(first.roundTrips, 4);
        assert.ok(
          firstWaves <= 4 && firstChain >= 4,
          `${firstWaves}..${firstChain}`,
        );
        assert.equal(
          first.uploadedBytes,
          artifact.config.size + artifact.layer.size,
        );
        assert.equal(again.digest, first.digest);
        assert.equal(again.uploadedBytes, 0);
        assert.equal(again.requests, 4, lines.join('\n'));
        assert.equal(again.roundTrips, 2);
        assert.equal(recorder.waves(notAuth), 2);
        if (registry.tokenServer) {
          // Cold for the new repository's scope: one token; warm: none.
          assert.equal(registry.tokenServer.requests, 1);
        }
        assert.equal(recorder.calls.filter((c) => !notAuth(c)).length, 0);
      });
    });

    describe('when a moving tag holds a newer revision', () => {
      it('keeps it there and still writes rev<N>', async () => {
        const client = createRegistryClient({ credentials });
        await client.push(
          repo(`${mode}-kept`),
          await artifactFor('boutique.yaml', 5),
          { tags: ['rev5', 'latest'] },
        );

        const result = await client.push(
          repo(`${mode}-kept`),
          await artifactFor('helm-hooks.yaml', 3),
          { tags: ['rev3'], movingTag: forwardOnly(3) },
        );

        assert.equal(
          result.keptTag?.current.annotations['com.confighub.revision'],
          '5',
        );
        const latest = await inspectRaw(
          `${registry.host}/acme/${mode}-kept:latest`,
          { creds },
        );
        assert.equal(latest.digest, result.keptTag?.current.digest);
      });
    });

    describe('pull, inspect and delete', () => {
      it('reads back manifest.yaml, then deletes the manifest by digest', async () => {
        const client = createRegistryClient({ credentials });
        const artifact = await artifactFor('realistic-orphans.yaml', 2);
        const slug = `${mode}-pulled`;
        await client.push(repo(slug), artifact, { tags: ['rev2'] });

        const pulled = await client.pull(repo(slug), 'rev2');
        const info = await client.inspect(repo(slug), 'rev2');
        const deleted = await client.delete(repo(slug), 'rev2');

        assert.deepEqual(
          Buffer.from(pulled?.content ?? []),
          await readFile(new URL('realistic-orphans.yaml', UNITS_DIR)),
        );
        assert.equal(pulled?.annotations['com.confighub.revision'], '2');
        assert.equal(info?.digest, artifact.manifest.digest);
        assert.deepEqual(deleted, { digest: artifact.manifest.digest });
        await assert.rejects(
          inspectRaw(`${registry.host}/acme/${slug}:rev2`, { creds }),
          (e: unknown) => e instanceof SkopeoError && e.notFound,
        );
        assert.equal(await client.pull(repo(slug), 'rev2'), undefined);
        assert.equal(await client.delete(repo(slug), 'rev2'), undefined);
      });
    });

    if (mode === 'token') {
      describe('when the credential is an identity token', () => {
        it('pushes with a refresh_token grant', async () => {
          const identityToken = registry.tokenServer!.issueRefreshToken(
            registry.users[0]!.username,
          );
          const client = createRegistryClient({
            credentials: () =>
              Promise.resolve({ kind: 'identityToken', identityToken }),
          });

          const result = await client.push(
            repo('token-identity'),
            await artifactFor('boutique.yaml', 1),
            { tags: ['rev1'] },
          );

          assert.deepEqual(result.tagged, ['rev1']);
          assert.equal(
            registry.tokenServer!.requestLog.at(-1)?.grant,
            'refresh_token',
          );
        });
      });
    }

    if (mode !== 'none') {
      describe('when the password is wrong', () => {
        it('fails with a permanent AUTH_FAILED after asking once more with refresh', async () => {
          const asked: boolean[] = [];
          const client = createRegistryClient({
            credentials: (r) => {
              asked.push(r.refresh ?? false);
              return Promise.resolve({
                kind: 'basic',
                username: creds!.username,
                password: 'wrong',
              });
            },
          });

          await assert.rejects(
            client.push(
              repo(`${mode}-denied`),
              await artifactFor('boutique.yaml', 1),
              { tags: ['rev1'] },
            ),
            (e: unknown) =>
              e instanceof OciError &&
              e.code === 'AUTH_FAILED' &&
              !e.retryable &&
              !e.message.includes('wrong'),
          );
          assert.deepEqual(asked, [false, true]);
        });
      });
    }
  });
}
