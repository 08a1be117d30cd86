import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';

import {
  buildFluxArtifact,
  clearAuthCache,
  confighubAnnotations,
  createRegistryClient,
  OciError,
  type FluxArtifact,
  type ManifestInfo,
  type Repository,
} from '../../shared/oci/index.js';
import { clearUploadCache } from '../../shared/oci/push.js';
import {
  fakeRegistry,
  recordingFetch,
  sendError,
  startServer,
  type ScriptedServer,
} from './scripted.js';

const UNIT = new URL(
  '../fixtures/units/frontend-deployment.yaml',
  import.meta.url,
);

async function artifact(
  revisionNum = 1,
  unit: URL = UNIT,
): Promise<FluxArtifact> {
  return buildFluxArtifact({
    content: await readFile(unit),
    created: '2025-03-01T10:00:00Z',
    source: 'https://hub.confighub.com/space/s/unit/u',
    revision: String(revisionNum),
    annotations: confighubAnnotations({
      spaceId: 's',
      unitId: 'u',
      unitSlug: 'frontend',
      revisionNum,
      queuedOperationId: `op-${revisionNum}`,
    }),
  });
}

const repoAt = (server: ScriptedServer): Repository => ({
  registry: server.host,
  apiHost: server.host,
  name: 'org/frontend',
});

/** Moves the tag only forward, like the push function's rule. */
const forwardOnly = (revisionNum: number) => ({
  tag: 'latest',
  shouldMove: (current: ManifestInfo | undefined) =>
    Number(current?.annotations['com.confighub.revision'] ?? 0) < revisionNum,
});

const notAuth = (c: { url: string }) =>
  !['/v2/', '/token'].includes(new URL(c.url).pathname);

const fast = { retries: 3, minDelayMs: 1, maxDelayMs: 50 };

const servers: ScriptedServer[] = [];
async function serve(...args: Parameters<typeof startServer>) {
  const server = await startServer(...args);
  servers.push(server);
  return server;
}

beforeEach(() => {
  clearAuthCache();
  clearUploadCache();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('createRegistryClient', () => {
  describe('push', () => {
    describe('when the registry takes single-POST uploads', () => {
      it('pushes a new unit with one extra tag in 7 requests and 3 round trips', async () => {
        const registry = fakeRegistry({ singlePost: true });
        const server = await serve(registry.handler);
        const recorder = recordingFetch();
        const client = createRegistryClient({ fetch: recorder.fetch });
        const a = await artifact(1);

        const result = await client.push(repoAt(server), a, {
          tags: ['rev1'],
          movingTag: forwardOnly(1),
        });

        assert.equal(result.requests, 7);
        assert.equal(recorder.calls.filter(notAuth).length, 7);
        assert.equal(recorder.rounds(notAuth), 3);
        assert.equal(result.roundTrips, 3);
        assert.deepEqual(result.tagged, ['rev1', 'latest']);
        assert.equal(result.uploadedBlobs, 2);
        assert.equal(result.uploadedBytes, a.config.size + a.layer.size);
        assert.equal(registry.tags.get('rev1'), a.manifest.digest);
        assert.equal(registry.tags.get('latest'), a.manifest.digest);
        const posts = server.requests.filter((r) => r.method === 'POST');
        assert.deepEqual(
          posts.map((r) => r.url).sort(),
          [a.config.digest, a.layer.digest]
            .map(
              (d) =>
                `/v2/org/frontend/blobs/uploads/?digest=${encodeURIComponent(d)}`,
            )
            .sort(),
        );
      });

      it('pushes the same revision again in 5 requests and 2 round trips, with no blob data and the same digest', async () => {
        const registry = fakeRegistry({ singlePost: true });
        const server = await serve(registry.handler);
        const recorder = recordingFetch();
        const client = createRegistryClient({ fetch: recorder.fetch });
        const options = { tags: ['rev1'], movingTag: forwardOnly(1) };
        const first = await client.push(
          repoAt(server),
          await artifact(1),
          options,
        );
        recorder.reset();

        const again = await client.push(
          repoAt(server),
          await artifact(1),
          options,
        );

        assert.equal(again.digest, first.digest);
        assert.equal(again.uploadedBytes, 0);
        assert.equal(again.uploadedBlobs, 0);
        // latest already holds the digest: only rev1 is PUT again.
        assert.equal(again.requests, 4);
        assert.equal(recorder.rounds(notAuth), 2);
        assert.equal(
          recorder.calls.filter((c) => c.url.endsWith('/v2/')).length,
          0,
        );
      });
    });

    describe('when the registry needs POST then PUT (distribution 2.8)', () => {
      it('falls back after the first 202, appends the digest with "&", and remembers', async () => {
        const registry = fakeRegistry({ singlePost: false });
        const server = await serve(registry.handler);
        const recorder = recordingFetch();
        const client = createRegistryClient({ fetch: recorder.fetch });
        const a1 = await artifact(1);

        const first = await client.push(repoAt(server), a1, {
          tags: ['rev1'],
          movingTag: forwardOnly(1),
        });

        assert.equal(first.requests, 9);
        assert.equal(first.roundTrips, 4);
        const [waves, chain] = [
          recorder.waves(notAuth),
          recorder.rounds(notAuth),
        ];
        assert.ok(waves <= 4 && chain >= 4, `${waves}..${chain}`);
        const puts = server.requests.filter(
          (r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'),
        );
        for (const put of puts) {
          assert.match(
            put.url,
            /\?_state=abc%3D%3D&digest=sha256:[a-f0-9]{64}$/,
          );
        }

        recorder.reset();
        server.requests.length = 0;
        const a2 = await artifact(
          2,
          new URL('../fixtures/units/boutique.yaml', import.meta.url),
        );
        const second = await client.push(repoAt(server), a2, {
          tags: ['rev2'],
          movingTag: forwardOnly(2),
        });

        // The config blob exists; only the new layer goes, its bytes once.
        assert.equal(second.requests, 3 + 2 + 2);
        assert.equal(second.uploadedBytes, a2.layer.size);
        const post = server.requests.find((r) => r.method === 'POST');
        assert.equal(post?.url, '/v2/org/frontend/blobs/uploads/');
        assert.equal(post?.body.length, 0);
      });

      for (const style of ['relative', 'absolute'] as const) {
        it(`uploads to a ${style} Location`, async () => {
          const registry = fakeRegistry({ singlePost: false, location: style });
          const server = await serve(registry.handler);
          registry.setOrigin(server.origin);
          const client = createRegistryClient();
          const a = await artifact(1);

          await client.push(repoAt(server), a, { tags: ['rev1'] });

          const put = server.requests.find(
            (r) => r.method === 'PUT' && r.url.includes(a.layer.digest),
          );
          const expected =
            style === 'relative'
              ? /^\/v2\/org\/frontend\/blobs\/uploads\/s\d+\?digest=/
              : /\?_state=abc%3D%3D&digest=/;
          assert.match(put?.url ?? '', expected);
          assert.deepEqual(
            registry.blobs.get(a.layer.digest),
            Buffer.from(a.layer.bytes),
          );
        });
      }
    });

    describe('when the moving tag points at a newer revision', () => {
      it('leaves it and reports keptTag', async () => {
        const registry = fakeRegistry({ singlePost: true });
        const server = await serve(registry.handler);
        const client = createRegistryClient();
        const newer = await client.push(repoAt(server), await artifact(5), {
          tags: ['rev5', 'latest'],
        });

        const result = await client.push(repoAt(server), await artifact(3), {
          tags: ['rev3'],
          movingTag: forwardOnly(3),
        });

        assert.deepEqual(result.tagged, ['rev3']);
        assert.equal(result.keptTag?.tag, 'latest');
        assert.equal(result.keptTag?.current.digest, newer.digest);
        assert.equal(
          result.keptTag?.current.annotations['com.confighub.revision'],
          '5',
        );
        assert.equal(registry.tags.get('latest'), newer.digest);
      });
    });

    describe('when the registry answers 429 with Retry-After, or 5xx, then succeeds', () => {
      it('retries and succeeds, counting every request sent', async () => {
        const registry = fakeRegistry({ singlePost: true });
        let busy = 0;
        let failing = 0;
        registry.handler = ((inner) => (req, res) => {
          if (
            req.method === 'HEAD' &&
            req.url.includes('/blobs/') &&
            busy++ === 0
          ) {
            sendError(res, 429, 'TOOMANYREQUESTS', 'slow down', {
              'retry-after': '0',
            });
            return;
          }
          if (
            req.method === 'PUT' &&
            req.url.includes('/manifests/') &&
            failing++ === 0
          ) {
            sendError(res, 503, 'UNAVAILABLE');
            return;
          }
          return inner(req, res);
        })(registry.handler);
        const server = await serve(registry.handler);
        const client = createRegistryClient({ retry: fast });

        const result = await client.push(repoAt(server), await artifact(1), {
          tags: ['rev1'],
        });

        assert.equal(result.requests, 2 + 2 + 1 + 2);
        assert.ok(registry.tags.has('rev1'));
      });
    });

    describe('when the answer to a blob PUT is lost and its retry finds the session closed', () => {
      it('confirms the blob with a HEAD and finishes the push', async () => {
        const registry = fakeRegistry();
        const closed = new Set<string>();
        registry.handler = ((inner) => (req, res) => {
          const session = /\/blobs\/uploads\/(s\d+)/.exec(req.url)?.[1];
          if (req.method !== 'PUT' || session === undefined) {
            return inner(req, res);
          }
          if (closed.has(session)) {
            sendError(
              res,
              404,
              'BLOB_UPLOAD_UNKNOWN',
              'blob upload unknown to registry',
            );
            return;
          }
          // The registry stores the blob and closes the session; the
          // connection drops before the client reads the answer.
          closed.add(session);
          const digest = new URL(req.url, 'http://x').searchParams.get(
            'digest',
          );
          registry.blobs.set(digest ?? '', req.body);
          res.socket?.destroy();
        })(registry.handler);
        const server = await serve(registry.handler);
        const client = createRegistryClient({ retry: fast });
        const a = await artifact(1);

        const result = await client.push(repoAt(server), a, {
          tags: ['rev1'],
        });

        assert.equal(result.digest, a.manifest.digest);
        assert.equal(registry.tags.get('rev1'), a.manifest.digest);
        const heads = server.requests.filter(
          (r) => r.method === 'HEAD' && r.url.includes('/blobs/'),
        );
        assert.equal(
          heads.length,
          2 + 2,
          'one HEAD per blob before, one after',
        );
      });
    });

    describe('when Retry-After asks for longer than the longest wait', () => {
      it('gives up at once with a retryable error naming the status', async () => {
        const server = await serve((req, res) => {
          if (req.url === '/v2/') return void res.writeHead(200).end();
          sendError(res, 429, 'TOOMANYREQUESTS', 'rate limited', {
            'retry-after': '3600',
          });
        });
        const client = createRegistryClient({ retry: fast });

        await assert.rejects(
          client.inspect(repoAt(server), 'rev1'),
          (e: unknown) =>
            e instanceof OciError &&
            e.retryable &&
            e.status === 429 &&
            /got 429 TOOMANYREQUESTS \(rate limited\)/.test(e.message),
        );
        const sent = server.requests.filter((r) => r.url !== '/v2/');
        assert.equal(sent.length, 1);
      });
    });

    describe('when the registry keeps failing with 500', () => {
      it('stops after the retry budget with a retryable REGISTRY_ERROR', async () => {
        const server = await serve((req, res) => {
          if (req.url === '/v2/') return void res.writeHead(200).end();
          sendError(res, 500, 'UNKNOWN', 'boom');
        });
        const client = createRegistryClient({ retry: fast });

        await assert.rejects(
          client.inspect(repoAt(server), 'rev1'),
          (e: unknown) =>
            e instanceof OciError &&
            e.code === 'REGISTRY_ERROR' &&
            e.retryable &&
            e.status === 500,
        );
        assert.equal(server.requests.filter((r) => r.url !== '/v2/').length, 4);
      });
    });

    describe('when the manifest PUT answer carries no Location or digest (ECR)', () => {
      it('succeeds on the digest computed locally', async () => {
        const registry = fakeRegistry({
          singlePost: true,
          manifestDigestHeader: false,
        });
        const server = await serve(registry.handler);
        const a = await artifact(1);

        const result = await createRegistryClient().push(repoAt(server), a, {
          tags: ['rev1'],
        });

        assert.equal(result.digest, a.manifest.digest);
      });
    });

    describe('when the manifest PUT answer carries another digest', () => {
      it('fails with DIGEST_MISMATCH', async () => {
        const registry = fakeRegistry({
          singlePost: true,
          before: (req, res) => {
            if (req.method !== 'PUT' || !req.url.includes('/manifests/'))
              return false;
            res
              .writeHead(201, {
                'docker-content-digest': `sha256:${'0'.repeat(64)}`,
              })
              .end();
            return true;
          },
        });
        const server = await serve(registry.handler);

        await assert.rejects(
          createRegistryClient().push(repoAt(server), await artifact(1), {
            tags: ['rev1'],
          }),
          (e: unknown) =>
            e instanceof OciError &&
            e.code === 'DIGEST_MISMATCH' &&
            !e.retryable,
        );
      });
    });

    describe('when a tag is immutable', () => {
      const immutable =
        (registry: ReturnType<typeof fakeRegistry>) =>
        (
          req: { method: string; url: string },
          res: import('node:http').ServerResponse,
        ) => {
          if (
            req.method === 'PUT' &&
            req.url.endsWith('/manifests/rev1') &&
            registry.tags.has('rev1')
          ) {
            sendError(
              res,
              400,
              'TAG_INVALID',
              "The image tag 'rev1' already exists in the 'org/frontend' repository and cannot be overwritten because the repository is immutable.",
            );
            return true;
          }
          return false;
        };

      it('treats the refusal as success where the tag already holds our digest', async () => {
        const registry = fakeRegistry({ singlePost: true });
        registry.handler = ((inner, guard) => (req, res) =>
          guard(req, res) ? undefined : inner(req, res))(
          registry.handler,
          immutable(registry),
        );
        const server = await serve(registry.handler);
        const client = createRegistryClient();
        const a = await artifact(1);
        await client.push(repoAt(server), a, { tags: ['rev1'] });

        const again = await client.push(repoAt(server), a, { tags: ['rev1'] });

        assert.equal(again.digest, a.manifest.digest);
        assert.deepEqual(again.tagged, ['rev1']);
      });

      it('fails with a permanent IMMUTABLE_TAG where it holds another digest', async () => {
        const registry = fakeRegistry({ singlePost: true });
        registry.handler = ((inner, guard) => (req, res) =>
          guard(req, res) ? undefined : inner(req, res))(
          registry.handler,
          immutable(registry),
        );
        const server = await serve(registry.handler);
        const client = createRegistryClient();
        const old = await client.push(repoAt(server), await artifact(1), {
          tags: ['rev1'],
        });
        const other = await buildFluxArtifact({
          content: Buffer.from('kind: Other\n'),
          created: '2025-03-01T10:00:00Z',
          source: 's',
          revision: 'r',
        });

        await assert.rejects(
          client.push(repoAt(server), other, { tags: ['rev1'] }),
          (e: unknown) =>
            e instanceof OciError &&
            e.code === 'IMMUTABLE_TAG' &&
            !e.retryable &&
            e.digest === old.digest &&
            /immutable/.test(e.message) &&
            e.message.includes(old.digest),
        );
      });
    });

    describe('when the registry refuses Flux media types', () => {
      for (const [status, code] of [
        [400, 'MANIFEST_INVALID'],
        [415, 'UNSUPPORTED'],
      ] as const) {
        it(`turns ${status} ${code} into UNSUPPORTED_MEDIA_TYPE naming the media type and registry`, async () => {
          const registry = fakeRegistry({
            singlePost: true,
            before: (req, res) => {
              if (req.method !== 'PUT' || !req.url.includes('/manifests/'))
                return false;
              sendError(res, status, code, 'manifest invalid');
              return true;
            },
          });
          const server = await serve(registry.handler);

          await assert.rejects(
            createRegistryClient().push(repoAt(server), await artifact(1), {
              tags: ['rev1'],
            }),
            (e: unknown) =>
              e instanceof OciError &&
              e.code === 'UNSUPPORTED_MEDIA_TYPE' &&
              !e.retryable &&
              e.message.includes('application/vnd.cncf.flux.config.v1+json') &&
              e.message.includes(server.host),
          );
        });
      }
    });

    describe('when a blob HEAD answers 403', () => {
      it('treats the blob as unknown and uploads it', async () => {
        const registry = fakeRegistry({
          singlePost: true,
          before: (req, res) => {
            if (req.method !== 'HEAD' || !req.url.includes('/blobs/'))
              return false;
            sendError(res, 403, 'DENIED');
            return true;
          },
        });
        const server = await serve(registry.handler);

        const result = await createRegistryClient().push(
          repoAt(server),
          await artifact(1),
          { tags: ['rev1'] },
        );

        assert.equal(result.uploadedBlobs, 2);
      });
    });

    describe('when a tag breaks the grammar', () => {
      it('refuses before sending anything', async () => {
        const server = await serve(fakeRegistry().handler);

        await assert.rejects(
          createRegistryClient().push(repoAt(server), await artifact(1), {
            tags: ['rev1'],
            movingTag: { tag: 'bad:tag', shouldMove: () => true },
          }),
          (e: unknown) =>
            e instanceof OciError && e.code === 'INVALID_REFERENCE',
        );
        assert.equal(server.requests.length, 0);
      });
    });
  });

  describe('pull', () => {
    describe('when the blob download redirects to another host', () => {
      it('follows without the registry Authorization and verifies the digest', async () => {
        const cdn = await serve((req, res) => {
          res.writeHead(200).end(layerBytes);
        });
        let layerBytes = Buffer.alloc(0);
        const registry = fakeRegistry({
          singlePost: true,
          before: (req, res) => {
            if (
              req.headers.authorization !==
              `Basic ${Buffer.from('u:p').toString('base64')}`
            ) {
              res
                .writeHead(401, { 'www-authenticate': 'Basic realm="r"' })
                .end();
              return true;
            }
            if (
              req.method === 'GET' &&
              /\/blobs\/sha256:/.test(req.url) &&
              req.url.includes(layerDigest)
            ) {
              res
                .writeHead(307, {
                  location: `${cdn.origin}/bucket/blob?X-Amz-Signature=secret`,
                })
                .end();
              return true;
            }
            return false;
          },
        });
        let layerDigest = '';
        const server = await serve(registry.handler);
        const client = createRegistryClient({
          credentials: () =>
            Promise.resolve({ kind: 'basic', username: 'u', password: 'p' }),
        });
        const a = await artifact(1);
        layerBytes = Buffer.from(a.layer.bytes);
        layerDigest = a.layer.digest;
        await client.push(repoAt(server), a, { tags: ['rev1'] });

        const pulled = await client.pull(repoAt(server), 'rev1');

        assert.deepEqual(
          Buffer.from(pulled?.content ?? []),
          await readFile(UNIT),
        );
        assert.equal(pulled?.digest, a.manifest.digest);
        assert.equal(cdn.requests.length, 1);
        assert.equal(cdn.requests[0]?.headers.authorization, undefined);
      });
    });

    describe('when the tag does not exist', () => {
      it('returns undefined', async () => {
        const server = await serve(fakeRegistry().handler);

        assert.equal(
          await createRegistryClient().pull(repoAt(server), 'rev9'),
          undefined,
        );
      });
    });

    describe('when the downloaded layer does not match its digest', () => {
      it('fails with DIGEST_MISMATCH', async () => {
        const registry = fakeRegistry({ singlePost: true });
        const server = await serve(registry.handler);
        const client = createRegistryClient();
        const a = await artifact(1);
        await client.push(repoAt(server), a, { tags: ['rev1'] });
        registry.blobs.set(a.layer.digest, Buffer.from('tampered'));

        await assert.rejects(
          client.pull(repoAt(server), 'rev1'),
          (e: unknown) => e instanceof OciError && e.code === 'DIGEST_MISMATCH',
        );
      });
    });
  });

  describe('delete', () => {
    describe('when the registry has deletes disabled', () => {
      it('fails with DELETE_REFUSED saying so', async () => {
        const registry = fakeRegistry({
          singlePost: true,
          before: (req, res) => {
            if (req.method !== 'DELETE') return false;
            sendError(res, 405, 'UNSUPPORTED', 'The operation is unsupported.');
            return true;
          },
        });
        const server = await serve(registry.handler);
        const client = createRegistryClient();
        await client.push(repoAt(server), await artifact(1), {
          tags: ['rev1'],
        });

        await assert.rejects(
          client.delete(repoAt(server), 'rev1'),
          (e: unknown) =>
            e instanceof OciError &&
            e.code === 'DELETE_REFUSED' &&
            /deletes are disabled/.test(e.message),
        );
      });
    });

    describe('when deletes are allowed', () => {
      it('resolves the tag and deletes by digest', async () => {
        const registry = fakeRegistry({ singlePost: true });
        const server = await serve(registry.handler);
        const client = createRegistryClient();
        const pushed = await client.push(repoAt(server), await artifact(1), {
          tags: ['rev1'],
        });

        const deleted = await client.delete(repoAt(server), 'rev1');

        assert.deepEqual(deleted, { digest: pushed.digest });
        const del = server.requests.find((r) => r.method === 'DELETE');
        assert.equal(del?.url, `/v2/org/frontend/manifests/${pushed.digest}`);
        assert.equal(await client.inspect(repoAt(server), 'rev1'), undefined);
      });
    });
  });
});
