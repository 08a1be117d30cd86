import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

import { createSecretsManagerSource } from '../../shared/secrets/secrets-manager.js';
import { SecretSourceError } from '../../shared/secrets/source.js';
import { sdkError } from '../credentials/support.js';

void describe('createSecretsManagerSource', () => {
  let client: SecretsManagerClient;
  let sm: AwsClientStub<SecretsManagerClient>;

  beforeEach(() => {
    client = new SecretsManagerClient({ region: 'eu-west-1' });
    sm = mockClient(client);
  });
  afterEach(() => {
    sm.restore();
  });

  void describe('when the secret exists', () => {
    it('serves SecretString from the cache on a second read', async () => {
      sm.on(GetSecretValueCommand).resolves({ SecretString: 'FAKE-text' });
      const source = createSecretsManagerSource({ client });

      const first = await source.get('registry/ghcr');
      const second = await source.get('registry/ghcr');

      assert.deepEqual(first, { text: 'FAKE-text' });
      assert.deepEqual(second, first);
      assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
      assert.deepEqual(
        sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input,
        {
          SecretId: 'registry/ghcr',
          VersionStage: 'AWSCURRENT',
        },
      );
    });

    it('fetches again with forceFetch, picking up a rotated value', async () => {
      sm.on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: 'FAKE-old' })
        .resolves({ SecretString: 'FAKE-rotated' });
      const source = createSecretsManagerSource({ client });

      await source.get('registry/ghcr');
      const rotated = await source.get('registry/ghcr', { forceFetch: true });
      const cached = await source.get('registry/ghcr');

      assert.deepEqual(rotated, { text: 'FAKE-rotated' });
      assert.deepEqual(cached, { text: 'FAKE-rotated' });
      assert.equal(sm.commandCalls(GetSecretValueCommand).length, 2);
    });

    it('returns SecretBinary as bytes', async () => {
      const bytes = new TextEncoder().encode('{"auths":{}}');
      sm.on(GetSecretValueCommand).resolves({ SecretBinary: bytes });

      const value = await createSecretsManagerSource({ client }).get('bin');

      assert.deepEqual(value, { binary: bytes });
    });

    it('never serves AWSPREVIOUS from, or into, the AWSCURRENT cache', async () => {
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
        SecretString: 'FAKE-current',
      });
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({
        SecretString: 'FAKE-previous',
      });
      const source = createSecretsManagerSource({ client });

      const current = await source.get('s');
      const previous = await source.get('s', { stage: 'AWSPREVIOUS' });
      const currentAgain = await source.get('s');

      assert.deepEqual(current, { text: 'FAKE-current' });
      assert.deepEqual(previous, { text: 'FAKE-previous' });
      assert.deepEqual(currentAgain, { text: 'FAKE-current' });
    });
  });

  void describe('when Secrets Manager refuses', () => {
    const cases: Array<{
      name: string;
      error: Error;
      code: SecretSourceError['code'];
      retryable: boolean;
      message: RegExp;
    }> = [
      {
        name: 'ResourceNotFoundException',
        error: new ResourceNotFoundException({
          message: 'Secrets Manager can’t find the specified secret.',
          $metadata: {},
        }),
        code: 'NOT_FOUND',
        retryable: false,
        message: /does not exist/,
      },
      {
        name: 'AccessDeniedException',
        error: sdkError('AccessDeniedException'),
        code: 'ACCESS_DENIED',
        retryable: false,
        message: /secretsmanager:GetSecretValue/,
      },
      {
        name: 'ThrottlingException',
        error: sdkError('ThrottlingException'),
        code: 'THROTTLED',
        retryable: true,
        message: /throttled/,
      },
      {
        name: 'InternalServiceError',
        error: sdkError('InternalServiceError', 500),
        code: 'UNAVAILABLE',
        retryable: true,
        message: /InternalServiceError/,
      },
    ];
    for (const c of cases) {
      it(`maps ${c.name} to ${c.code}`, async () => {
        sm.on(GetSecretValueCommand).rejects(c.error);

        await assert.rejects(
          createSecretsManagerSource({ client }).get('registry/x'),
          (error) => {
            assert.ok(error instanceof SecretSourceError);
            assert.equal(error.code, c.code);
            assert.equal(error.retryable, c.retryable);
            assert.equal(error.secretId, 'registry/x');
            assert.match(error.message, c.message);
            return true;
          },
        );
      });
    }
  });
});
