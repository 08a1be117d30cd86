import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import {
  ECRPUBLICClient,
  GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr-public';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

import {
  createCredentialResolver,
  CredentialsError,
  type CredentialsConfig,
  type CredentialResolverDeps,
} from '../../shared/credentials/index.js';
import type { TargetParams } from '../../shared/event/types.js';
import { SecretSourceError } from '../../shared/secrets/source.js';
import {
  b64,
  manualClock,
  memorySecrets,
  noSleep,
  recordingLog,
  sdkError,
} from './support.js';

const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const HOUR = 60 * 60 * 1000;

function target(overrides: Partial<TargetParams> = {}): TargetParams {
  return {
    Repository: 'ghcr.io/acme',
    Provider: 'Generic',
    AllowDeletion: false,
    ...overrides,
  };
}

const dockerConfig = (registry: string, user: string, pass: string): string =>
  JSON.stringify({ auths: { [registry]: { auth: b64(`${user}:${pass}`) } } });

void describe('createCredentialResolver', () => {
  let ecr: ECRClient;
  let ecrMock: AwsClientStub<ECRClient>;
  let regions: string[];
  const clock = manualClock();

  beforeEach(() => {
    ecr = new ECRClient({ region: 'eu-west-1' });
    ecrMock = mockClient(ecr);
    regions = [];
  });
  afterEach(() => {
    ecrMock.restore();
  });

  function resolver(
    config: Partial<CredentialsConfig> = {},
    deps: Partial<CredentialResolverDeps> = {},
  ) {
    return createCredentialResolver({
      secrets: memorySecrets({}),
      config: { authMethod: 'anonymous', ...config },
      ecrClient: (region) => {
        regions.push(region);
        return ecr;
      },
      clock: clock.now,
      sleep: noSleep,
      ...deps,
    });
  }

  void describe('when the provider is AWS and the host is ECR', () => {
    const aws = target({ Repository: `${ECR_HOST}/org`, Provider: 'AWS' });
    const request = { registry: ECR_HOST, repository: 'org/app' };

    function tokenAnswer(password: string, expiresInMs = 12 * HOUR) {
      return {
        authorizationData: [
          {
            authorizationToken: b64(`AWS:${password}`),
            expiresAt: new Date(clock.now() + expiresInMs),
          },
        ],
      };
    }

    it('decodes the token in the host region and caches it', async () => {
      ecrMock
        .on(GetAuthorizationTokenCommand)
        .resolves(tokenAnswer('FAKE-ecr-token:with-colon'));
      const r = resolver();

      const first = await r.resolve(aws, request);
      const second = await r.providerFor(aws)(request);

      assert.deepEqual(first.credential, {
        kind: 'basic',
        username: 'AWS',
        password: 'FAKE-ecr-token:with-colon',
      });
      assert.equal(first.source, 'ecr');
      assert.deepEqual(second, first.credential);
      assert.equal(
        ecrMock.commandCalls(GetAuthorizationTokenCommand).length,
        1,
      );
      assert.deepEqual(regions, ['eu-west-1']);
    });

    it('fetches a new token shortly before the old one expires', async () => {
      ecrMock
        .on(GetAuthorizationTokenCommand)
        .resolvesOnce(tokenAnswer('FAKE-old', HOUR))
        .resolves(tokenAnswer('FAKE-new', HOUR));
      const provide = resolver().providerFor(aws);

      await provide(request);
      clock.advance(HOUR - 20 * 60 * 1000);
      const cached = await provide(request);
      clock.advance(10 * 60 * 1000);
      const renewed = await provide(request);

      assert.equal(cached.kind === 'basic' && cached.password, 'FAKE-old');
      assert.equal(renewed.kind === 'basic' && renewed.password, 'FAKE-new');
      assert.equal(
        ecrMock.commandCalls(GetAuthorizationTokenCommand).length,
        2,
      );
    });

    it('fetches a new token when asked to refresh after a 401', async () => {
      ecrMock
        .on(GetAuthorizationTokenCommand)
        .resolvesOnce(tokenAnswer('FAKE-t1'))
        .resolves(tokenAnswer('FAKE-t2'));
      const provide = resolver().providerFor(aws);

      await provide(request);
      const renewed = await provide({ ...request, refresh: true });

      assert.equal(renewed.kind === 'basic' && renewed.password, 'FAKE-t2');
      assert.equal(
        ecrMock.commandCalls(GetAuthorizationTokenCommand).length,
        2,
      );
    });

    it('reads the region of FIPS, China and dual-stack hosts', async () => {
      ecrMock.on(GetAuthorizationTokenCommand).resolves(tokenAnswer('FAKE-t'));
      const provide = resolver().providerFor(aws);

      for (const host of [
        '123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com',
        '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
        '123456789012.dkr-ecr.ap-southeast-2.on.aws',
        '210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn',
      ]) {
        await provide({ registry: host, repository: 'org/app' });
      }

      // One client and one token per region, shared across accounts.
      assert.deepEqual(regions, [
        'us-gov-west-1',
        'cn-north-1',
        'ap-southeast-2',
      ]);
      assert.equal(
        ecrMock.commandCalls(GetAuthorizationTokenCommand).length,
        3,
      );
    });

    it('retries a throttled token request', async () => {
      ecrMock
        .on(GetAuthorizationTokenCommand)
        .rejectsOnce(sdkError('ThrottlingException'))
        .resolves(tokenAnswer('FAKE-after-throttle'));

      const credential = await resolver().providerFor(aws)(request);

      assert.equal(
        credential.kind === 'basic' && credential.password,
        'FAKE-after-throttle',
      );
      assert.equal(
        ecrMock.commandCalls(GetAuthorizationTokenCommand).length,
        2,
      );
    });

    it('fails retryable when throttling outlasts the retries', async () => {
      ecrMock
        .on(GetAuthorizationTokenCommand)
        .rejects(sdkError('ThrottlingException'));

      await assert.rejects(resolver().providerFor(aws)(request), (error) => {
        assert.ok(error instanceof CredentialsError);
        assert.equal(error.retryable, true);
        assert.equal(error.attempts[0]?.reason, 'throttled');
        return true;
      });
      assert.equal(
        ecrMock.commandCalls(GetAuthorizationTokenCommand).length,
        3,
      );
    });

    it('falls through to the target secret when IAM is denied', async () => {
      ecrMock
        .on(GetAuthorizationTokenCommand)
        .rejects(sdkError('AccessDeniedException'));
      const secrets = memorySecrets({
        'registry/ecr': dockerConfig(ECR_HOST, 'AWS', 'FAKE-stored'),
      });

      const resolved = await resolver({}, { secrets }).resolve(
        { ...aws, SecretId: 'registry/ecr' },
        request,
      );

      assert.equal(resolved.source, 'target-secret');
      assert.deepEqual(
        resolved.attempts.map((a) => [a.source, a.reason]),
        [['ecr', 'access-denied']],
      );
      assert.match(resolved.attempts[0]!.detail, /ecr:GetAuthorizationToken/);
    });

    it('fails permanently listing every source when all are denied', async () => {
      ecrMock
        .on(GetAuthorizationTokenCommand)
        .rejects(sdkError('AccessDeniedException'));

      await assert.rejects(
        resolver({ authMethod: 'secret' }).providerFor(aws)(request),
        (error) => {
          assert.ok(error instanceof CredentialsError);
          assert.equal(error.code, 'NO_CREDENTIALS');
          assert.equal(error.retryable, false);
          assert.deepEqual(
            error.attempts.map((a) => [a.source, a.reason]),
            [
              ['ecr', 'access-denied'],
              ['target-secret', 'not-configured'],
              ['worker-secret', 'not-configured'],
            ],
          );
          assert.match(error.message, /1\. ecr: access-denied/);
          assert.match(error.message, /DEFAULT_REGISTRY_SECRET_ID is not set/);
          return true;
        },
      );
    });
  });

  void describe('when the provider is AWS and the host is ECR Public', () => {
    it('asks ECR Public in us-east-1', async () => {
      const pub = new ECRPUBLICClient({ region: 'us-east-1' });
      const pubMock = mockClient(pub);
      pubMock.on(GetPublicAuthorizationTokenCommand).resolves({
        authorizationData: {
          authorizationToken: b64('AWS:FAKE-public'),
          expiresAt: new Date(clock.now() + HOUR),
        },
      });
      const r = resolver({}, { ecrPublicClient: () => pub });

      const resolved = await r.resolve(
        target({ Repository: 'public.ecr.aws/alias', Provider: 'AWS' }),
        { registry: 'public.ecr.aws', repository: 'alias/app' },
      );

      assert.equal(resolved.source, 'ecr-public');
      assert.equal(pub.config.region instanceof Function, true);
      assert.equal(await pub.config.region(), 'us-east-1');
      assert.equal(
        pubMock.commandCalls(GetPublicAuthorizationTokenCommand).length,
        1,
      );
      pubMock.restore();
    });
  });

  void describe('when the provider is AWS and the host is not ECR', () => {
    it('records ECR as not applicable and uses the worker default', async () => {
      const resolved = await resolver().resolve(target({ Provider: 'AWS' }), {
        registry: 'ghcr.io',
        repository: 'acme/app',
      });

      assert.equal(resolved.source, 'anonymous');
      assert.equal(resolved.attempts[0]?.reason, 'not-applicable');
      assert.equal(ecrMock.calls().length, 0);
    });
  });

  void describe('when the target names a secret', () => {
    const request = { registry: 'ghcr.io', repository: 'acme/app' };

    it('maps the Kubernetes pair to the prefixed Secrets Manager name', async () => {
      const secrets = memorySecrets({
        'confighub-flux-oci/registry/confighub/regcred': dockerConfig(
          'ghcr.io',
          'k8s-user',
          'FAKE-k8s',
        ),
      });

      const resolved = await resolver({}, { secrets }).resolve(
        target({
          KubernetesSecretName: 'regcred',
          KubernetesSecretNamespace: 'confighub',
        }),
        request,
      );

      assert.equal(resolved.source, 'kubernetes-secret');
      assert.equal(
        resolved.from,
        'confighub-flux-oci/registry/confighub/regcred',
      );
    });

    it('honours a custom REGISTRY_SECRET_PREFIX', async () => {
      const secrets = memorySecrets({
        'team/ns/name': dockerConfig('ghcr.io', 'u', 'FAKE-p'),
      });

      const resolved = await resolver(
        { registrySecretPrefix: 'team/' },
        { secrets },
      ).resolve(
        target({
          KubernetesSecretName: 'name',
          KubernetesSecretNamespace: 'ns',
        }),
        request,
      );

      assert.equal(resolved.from, 'team/ns/name');
    });

    it('tries SecretId, then the Kubernetes pair, then the worker secret', async () => {
      const secrets = memorySecrets({
        'by-id': dockerConfig('quay.io', 'u', 'FAKE-quay'),
        'worker/default': dockerConfig('ghcr.io', 'worker', 'FAKE-worker'),
      });

      const resolved = await resolver(
        { authMethod: 'secret', defaultRegistrySecretId: 'worker/default' },
        { secrets },
      ).resolve(
        target({
          SecretId: 'by-id',
          KubernetesSecretName: 'regcred',
          KubernetesSecretNamespace: 'ns',
        }),
        request,
      );

      assert.equal(resolved.source, 'worker-secret');
      assert.deepEqual(
        resolved.attempts.map((a) => [a.source, a.reason]),
        [
          ['target-secret', 'no-entry'],
          ['kubernetes-secret', 'not-found'],
        ],
      );
      assert.match(resolved.attempts[0]!.detail, /its registries: "quay.io"/);
    });

    it('reads the secret again, skipping the cache, on refresh', async () => {
      const values = { 'by-id': dockerConfig('ghcr.io', 'u', 'FAKE-old') };
      const secrets = memorySecrets(values);
      const provide = resolver({}, { secrets }).providerFor(
        target({ SecretId: 'by-id' }),
      );

      await provide(request);
      values['by-id'] = dockerConfig('ghcr.io', 'u', 'FAKE-rotated');
      const rotated = await provide({ ...request, refresh: true });

      assert.equal(
        rotated.kind === 'basic' && rotated.password,
        'FAKE-rotated',
      );
      assert.deepEqual(
        secrets.calls.map((c) => c.options.forceFetch),
        [false, true],
      );
    });

    it('lists every source when a refused secret has not changed', async () => {
      const secrets = memorySecrets({
        'by-id': dockerConfig('ghcr.io', 'u', 'FAKE-wrong'),
      });
      const provide = resolver(
        { authMethod: 'anonymous' },
        { secrets },
      ).providerFor(target({ SecretId: 'by-id', Provider: 'None' }));

      await provide(request);
      await assert.rejects(provide({ ...request, refresh: true }), (error) => {
        assert.ok(error instanceof CredentialsError);
        assert.deepEqual(
          error.attempts.map((a) => [a.source, a.reason]),
          [['target-secret', 'refused']],
        );
        assert.match(error.message, /refused the credential from by-id/);
        return true;
      });
    });

    it('retries a throttled secret read', async () => {
      let calls = 0;
      const secrets = {
        get(id: string) {
          calls += 1;
          return calls === 1
            ? Promise.reject(
                new SecretSourceError('THROTTLED', id, 'slow down'),
              )
            : Promise.resolve({ text: dockerConfig('ghcr.io', 'u', 'FAKE-p') });
        },
      };

      const resolved = await resolver({}, { secrets }).resolve(
        target({ SecretId: 'by-id' }),
        request,
      );

      assert.equal(resolved.source, 'target-secret');
      assert.equal(calls, 2);
    });

    it('warns naming credsStore and reports the entry unusable', async () => {
      const log = recordingLog();
      const secrets = memorySecrets({
        desktop: JSON.stringify({
          auths: { 'ghcr.io': {} },
          credsStore: 'desktop',
        }),
      });

      await assert.rejects(
        resolver({ authMethod: 'secret' }, { secrets, log }).resolve(
          target({ SecretId: 'desktop' }),
          request,
        ),
        (error) => {
          assert.ok(error instanceof CredentialsError);
          assert.equal(error.attempts[0]?.reason, 'unusable');
          assert.match(error.attempts[0].detail, /credsStore ignored/);
          return true;
        },
      );
      assert.ok(
        log.lines.some((l) => l.includes('"warn"') && l.includes('credsStore')),
      );
    });
  });

  void describe('when the worker default is a Docker config file', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'credentials-test-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads DOCKER_CONFIG as a file or as its directory', async () => {
      await writeFile(
        join(dir, 'config.json'),
        dockerConfig('localhost:5000', 'local', 'FAKE-local'),
      );
      const request = { registry: 'localhost:5000', repository: 'x/app' };

      for (const path of [join(dir, 'config.json'), dir]) {
        const resolved = await resolver({
          authMethod: 'docker-config',
          dockerConfig: path,
        }).resolve(target(), request);

        assert.equal(resolved.source, 'docker-config');
        assert.deepEqual(resolved.credential, {
          kind: 'basic',
          username: 'local',
          password: 'FAKE-local',
        });
      }
    });

    it('reports a missing file as not found', async () => {
      await assert.rejects(
        resolver({
          authMethod: 'docker-config',
          dockerConfig: join(dir, 'absent.json'),
        }).resolve(target(), { registry: 'ghcr.io', repository: 'a/b' }),
        (error) => {
          assert.ok(error instanceof CredentialsError);
          assert.deepEqual(error.attempts.at(-1)?.source, 'docker-config');
          assert.deepEqual(error.attempts.at(-1)?.reason, 'not-found');
          return true;
        },
      );
    });
  });

  void describe('when the provider is None', () => {
    it('goes anonymous when the worker default has nothing', async () => {
      const resolved = await resolver({
        authMethod: 'secret',
        defaultRegistrySecretId: 'absent',
      }).resolve(target({ Provider: 'None' }), {
        registry: 'ghcr.io',
        repository: 'a/b',
      });

      assert.equal(resolved.source, 'anonymous');
      assert.deepEqual(resolved.credential, { kind: 'anonymous' });
    });

    it('fails retryable instead of going anonymous when a read was throttled', async () => {
      const secrets = memorySecrets({
        worker: new SecretSourceError('THROTTLED', 'worker', 'slow down'),
      });

      await assert.rejects(
        resolver(
          { authMethod: 'secret', defaultRegistrySecretId: 'worker' },
          { secrets },
        ).resolve(target({ Provider: 'None' }), {
          registry: 'ghcr.io',
          repository: 'a/b',
        }),
        (error) => error instanceof CredentialsError && error.retryable,
      );
    });
  });

  void describe('when the provider is GCP and no secret is named', () => {
    it('says how GCP credentials are stored', async () => {
      await assert.rejects(
        resolver({ authMethod: 'secret' }).resolve(
          target({ Provider: 'GCP' }),
          {
            registry: 'europe-docker.pkg.dev',
            repository: 'p/r/app',
          },
        ),
        /_json_key or oauth2accesstoken/,
      );
    });
  });

  void describe('when a Generic target points at ECR', () => {
    it('suggests Provider AWS', async () => {
      await assert.rejects(
        resolver({ authMethod: 'secret' }).resolve(
          target({ Repository: `${ECR_HOST}/org` }),
          { registry: ECR_HOST, repository: 'org/app' },
        ),
        /set the target's Provider to AWS/,
      );
    });
  });

  void describe('ensureRepository', () => {
    const repo = { registry: ECR_HOST, apiHost: ECR_HOST, name: 'org/app' };

    it('creates a missing repository with mutable tags', async () => {
      ecrMock.on(DescribeRepositoriesCommand).rejects(
        new RepositoryNotFoundException({
          message: 'missing',
          $metadata: {},
        }),
      );
      ecrMock.on(CreateRepositoryCommand).resolves({});
      const r = resolver();

      const result = await r.ensureRepository(repo, { movingTag: 'latest' });
      const again = await r.ensureRepository(repo, { movingTag: 'latest' });

      assert.equal(result.status, 'created');
      assert.equal(again.status, 'exists');
      assert.deepEqual(
        ecrMock.commandCalls(CreateRepositoryCommand)[0]?.args[0].input,
        {
          registryId: '123456789012',
          repositoryName: 'org/app',
          imageTagMutability: 'MUTABLE',
        },
      );
      // Known repositories are not asked about again in this container.
      assert.equal(ecrMock.commandCalls(DescribeRepositoriesCommand).length, 1);
    });

    it('tolerates another invocation creating it first', async () => {
      ecrMock
        .on(DescribeRepositoriesCommand)
        .rejectsOnce(
          new RepositoryNotFoundException({
            message: 'missing',
            $metadata: {},
          }),
        )
        .resolves({ repositories: [{ imageTagMutability: 'MUTABLE' }] });
      ecrMock.on(CreateRepositoryCommand).rejects(
        new RepositoryAlreadyExistsException({
          message: 'exists',
          $metadata: {},
        }),
      );

      const result = await resolver().ensureRepository(repo);

      assert.equal(result.status, 'exists');
      assert.equal(ecrMock.commandCalls(DescribeRepositoriesCommand).length, 2);
    });

    it('refuses an immutable repository when Tag must move', async () => {
      ecrMock
        .on(DescribeRepositoriesCommand)
        .resolves({ repositories: [{ imageTagMutability: 'IMMUTABLE' }] });

      await assert.rejects(
        resolver().ensureRepository(repo, { movingTag: 'latest' }),
        (error) => {
          assert.ok(error instanceof CredentialsError);
          assert.equal(error.code, 'IMMUTABLE_REPOSITORY');
          assert.equal(error.retryable, false);
          assert.match(error.message, /immutable tags.*"latest"/);
          return true;
        },
      );
    });

    it('accepts an immutable repository that excludes the moving tag', async () => {
      ecrMock.on(DescribeRepositoriesCommand).resolves({
        repositories: [
          {
            imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
            imageTagMutabilityExclusionFilters: [
              { filterType: 'WILDCARD', filter: 'lat*' },
            ],
          },
        ],
      });

      const result = await resolver().ensureRepository(repo, {
        movingTag: 'latest',
      });

      assert.equal(result.status, 'exists');
    });

    it('does nothing when creation is switched off or the host is not ECR', async () => {
      const off = await resolver({
        ecrCreateRepositories: false,
      }).ensureRepository(repo);
      const ghcr = await resolver().ensureRepository({
        registry: 'ghcr.io',
        apiHost: 'ghcr.io',
        name: 'acme/app',
      });

      assert.equal(off.status, 'disabled');
      assert.equal(ghcr.status, 'not-ecr');
      assert.equal(ecrMock.calls().length, 0);
    });

    it('fails permanently with the permissions to grant when denied', async () => {
      ecrMock
        .on(DescribeRepositoriesCommand)
        .rejects(sdkError('AccessDeniedException'));

      await assert.rejects(resolver().ensureRepository(repo), (error) => {
        assert.ok(error instanceof CredentialsError);
        assert.equal(error.code, 'REPOSITORY_UNAVAILABLE');
        assert.equal(error.retryable, false);
        assert.match(error.message, /ecr:DescribeRepositories/);
        return true;
      });
    });
  });
});
