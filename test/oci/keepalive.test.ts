/**
 * Connections stay alive across warm invocations (issue 2, "How it is
 * checked"): a warm Lambda builds a registry client per message, and each
 * push sends 4 to 9 requests; if every request opened its own TCP
 * connection, each push would pay that many handshakes (and TLS setups
 * against a real registry). A scripted registry over real HTTP counts the
 * connections it accepts.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';

import {
  buildFluxArtifact,
  clearAuthCache,
  confighubAnnotations,
  createRegistryClient,
  type ArtifactStore,
  type FluxArtifact,
  type ManifestInfo,
  type Repository,
} from '../../shared/oci/index.js';
import { clearUploadCache } from '../../shared/oci/push.js';
import { fakeRegistry, startServer, type ScriptedServer } from './scripted.js';

/**
 * The most connections one push may need: round 2 against a registry that
 * takes no single POST answers two POSTs and sends two PUTs right away, and
 * undici returns a connection to its pool a tick after its answer is read,
 * so the PUTs open two more. Round 1 sends three requests at once.
 */
const MOST_CONNECTIONS_PER_PUSH = 4;

const UNITS_DIR = new URL('../fixtures/units/', import.meta.url);

/** New content per unit and revision, so every push uploads its layer. */
async function artifactFor(
  slug: string,
  revisionNum: number,
): Promise<FluxArtifact> {
  const unit = await readFile(new URL('helm-hooks.yaml', UNITS_DIR));
  return buildFluxArtifact({
    content: Buffer.concat([unit, Buffer.from(`# ${slug} ${revisionNum}\n`)]),
    created: '2025-03-01T10:00:00Z',
    source: 'https://hub.confighub.com/unit/helm-hooks',
    revision: String(revisionNum),
    annotations: confighubAnnotations({
      spaceId: 'space',
      unitId: 'unit-helm-hooks',
      unitSlug: 'helm-hooks',
      revisionNum,
      queuedOperationId: `op-${revisionNum}`,
    }),
  });
}

const forwardOnly = (revisionNum: number) => ({
  tag: 'latest',
  shouldMove: (current: ManifestInfo | undefined) =>
    Number(current?.annotations['com.confighub.revision'] ?? 0) < revisionNum,
});

interface Measured {
  requests: number;
  connections: number;
}

/** Requests sent and connections opened while `work` runs. */
async function measure(
  server: ScriptedServer,
  work: () => Promise<unknown>,
): Promise<Measured> {
  const opened = server.connections;
  const sent = server.requests.length;
  await work();

  return {
    requests: server.requests.length - sent,
    connections: server.connections - opened,
  };
}

describe('createRegistryClient: connections stay alive across warm invocations', () => {
  let server: ScriptedServer;

  beforeEach(async () => {
    clearAuthCache();
    clearUploadCache();
    server = await startServer(fakeRegistry().handler, {
      keepAliveTimeoutMs: 5000,
    });
  });
  afterEach(async () => {
    await server.close();
  });

  const repo = (slug: string): Repository => ({
    registry: server.host,
    apiHost: server.host,
    name: `acme/${slug}`,
  });

  const pushRevision = async (
    client: ArtifactStore,
    slug: string,
    revisionNum: number,
  ) =>
    client.push(repo(slug), await artifactFor(slug, revisionNum), {
      tags: [`rev${revisionNum}`],
      movingTag: forwardOnly(revisionNum),
    });

  describe('when one client pushes twice (warm invocation)', () => {
    it('opens a few connections for the first push and none for the second', async () => {
      const client = createRegistryClient();

      const first = await measure(server, () =>
        pushRevision(client, 'one-client', 1),
      );
      const second = await measure(server, () =>
        pushRevision(client, 'one-client', 2),
      );

      // Ping, then 9 requests (POST then PUT per blob); then 7 (new layer).
      assert.equal(first.requests, 10);
      assert.equal(second.requests, 7);
      assert.ok(
        first.connections <= MOST_CONNECTIONS_PER_PUSH,
        `${first.connections} connections for ${first.requests} requests`,
      );
      assert.equal(second.connections, 0, 'the second push opened connections');
    });
  });

  describe('when a client is created per message in the same process', () => {
    it('the second client reuses the first one’s connections', async () => {
      const first = await measure(server, () =>
        pushRevision(createRegistryClient(), 'client-per-message', 1),
      );
      const second = await measure(server, () =>
        pushRevision(createRegistryClient(), 'client-per-message', 2),
      );

      assert.equal(first.requests, 10);
      assert.equal(second.requests, 7);
      assert.ok(
        first.connections <= MOST_CONNECTIONS_PER_PUSH,
        `${first.connections} connections for ${first.requests} requests`,
      );
      assert.equal(
        second.connections,
        0,
        'the second client opened connections',
      );
    });
  });
});
