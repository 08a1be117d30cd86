/**
 * The resolver and the OCI engine together against Debian's docker-registry
 * in Basic-auth mode: credentials come from a registry secret through the
 * resolver, and a wrong password ends in the resolver's list of attempts.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import {
  createCredentialResolver,
  CredentialsError,
} from '../../shared/credentials/index.js';
import type { TargetParams } from '../../shared/event/types.js';
import {
  buildFluxArtifact,
  clearAuthCache,
  createRegistryClient,
  unitRepository,
} from '../../shared/oci/index.js';
import {
  SecretSourceError,
  type GetSecretOptions,
  type SecretSource,
} from '../../shared/secrets/source.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { listTags } from '../support/skopeo.js';
import { b64, noSleep, recordingLog } from './support.js';

/** A source that, like Secrets Manager behind Powertools, caches until forced. */
function cachingSecrets(initial: Record<string, string>): SecretSource & {
  stored: Record<string, string>;
  reads: GetSecretOptions[];
} {
  const stored = { ...initial };
  const cache = new Map<string, string>();
  const reads: GetSecretOptions[] = [];
  return {
    stored,
    reads,
    get(id, options = {}) {
      reads.push(options);
      if (options.forceFetch === true || !cache.has(id)) {
        const value = stored[id];
        if (value === undefined) {
          return Promise.reject(
            new SecretSourceError('NOT_FOUND', id, `secret ${id} not found`),
          );
        }
        cache.set(id, value);
      }
      return Promise.resolve({ text: cache.get(id)! });
    },
  };
}

const dockerConfig = (host: string, user: string, pass: string): string =>
  JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${pass}\n`) } } });

const artifact = () =>
  buildFluxArtifact({
    content: new TextEncoder().encode('apiVersion: v1\nkind: ConfigMap\n'),
    created: '2025-03-01T10:00:00Z',
    source: 'https://hub.confighub.com/unit/e2e',
    revision: '1',
  });

void describe('credentials resolver with the OCI engine', () => {
  let registry: TestRegistry;
  let user: { username: string; password: string };

  before(async () => {
    registry = await startRegistry({ auth: 'basic' });
    user = registry.users[0]!;
  });
  after(async () => {
    await registry.stop();
  });
  beforeEach(() => {
    clearAuthCache();
  });

  const target = (): TargetParams => ({
    Repository: `${registry.host}/acme`,
    Provider: 'Generic',
    AllowDeletion: false,
    SecretId: 'registry/local',
  });

  void describe('when the secret holds the right password', () => {
    it('pushes with credentials read through the resolver', async () => {
      const secrets = cachingSecrets({
        'registry/local': dockerConfig(
          `http://${registry.host}/`,
          user.username,
          user.password,
        ),
      });
      const resolver = createCredentialResolver({
        secrets,
        config: { authMethod: 'anonymous' },
        sleep: noSleep,
      });
      const client = createRegistryClient({
        credentials: resolver.providerFor(target()),
      });
      const repo = unitRepository(target().Repository, 'frontend');

      const result = await client.push(repo, await artifact(), {
        tags: ['rev1'],
      });

      assert.deepEqual(result.tagged, ['rev1']);
      assert.deepEqual(
        await listTags(`${registry.host}/acme/frontend`, { creds: user }),
        ['rev1'],
      );
    });
  });

  void describe('when the secret was rotated after it was cached', () => {
    it('reads it again once after the 401 and pushes', async () => {
      const secrets = cachingSecrets({
        'registry/local': dockerConfig(registry.host, user.username, 'stale'),
      });
      const resolver = createCredentialResolver({
        secrets,
        config: { authMethod: 'anonymous' },
        sleep: noSleep,
      });
      await resolver.resolve(target(), {
        registry: registry.host,
        repository: 'acme/rotated',
      });
      secrets.stored['registry/local'] = dockerConfig(
        registry.host,
        user.username,
        user.password,
      );
      const client = createRegistryClient({
        credentials: resolver.providerFor(target()),
      });

      const result = await client.push(
        unitRepository(target().Repository, 'rotated'),
        await artifact(),
        { tags: ['rev1'] },
      );

      assert.deepEqual(result.tagged, ['rev1']);
      assert.deepEqual(
        secrets.reads.map((r) => r.forceFetch === true),
        [false, false, true],
      );
    });
  });

  void describe('when the password is wrong', () => {
    it('fails with every source the resolver tried', async () => {
      const log = recordingLog();
      const wrong = 'Wr0ng-FAKE-e2e-password';
      const resolver = createCredentialResolver({
        secrets: cachingSecrets({
          'registry/local': dockerConfig(registry.host, user.username, wrong),
          'worker/default': dockerConfig('ghcr.io', 'other', 'FAKE-other'),
        }),
        config: {
          authMethod: 'secret',
          defaultRegistrySecretId: 'worker/default',
        },
        log,
        sleep: noSleep,
      });
      const client = createRegistryClient({
        credentials: resolver.providerFor({
          ...target(),
          KubernetesSecretName: 'regcred',
          KubernetesSecretNamespace: 'confighub',
        }),
        log,
      });

      await assert.rejects(
        client.push(
          unitRepository(target().Repository, 'denied'),
          await artifact(),
          { tags: ['rev1'] },
        ),
        (thrown) => {
          // The engine wraps what its credential provider throws; the
          // resolver's error is the cause.
          const error =
            thrown instanceof CredentialsError
              ? thrown
              : (thrown as Error).cause;
          assert.ok(error instanceof CredentialsError, String(thrown));
          assert.equal(error.retryable, false);
          assert.deepEqual(
            error.attempts.map((a) => [a.source, a.reason]),
            [
              ['target-secret', 'refused'],
              ['kubernetes-secret', 'not-found'],
              ['worker-secret', 'no-entry'],
            ],
          );
          assert.ok(!error.message.includes(wrong));
          return true;
        },
      );
      assert.ok(!log.lines.join('\n').includes(wrong));
    });
  });
});
