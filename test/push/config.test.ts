import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { readPushEnv } from '../../functions/push/config.js';

const DLQ_URL =
  'https://sqs.us-east-1.amazonaws.com/123456789012/push-dlq.fifo';

void describe('readPushEnv', () => {
  void describe('when only DLQ_URL is set', () => {
    void it('applies the documented defaults', () => {
      const env = readPushEnv({ DLQ_URL, PATH: '/usr/bin' });

      assert.deepEqual(env, {
        DLQ_URL,
        MAX_RECEIVE_COUNT: 5,
        AUTH_METHOD: 'anonymous',
        REGISTRY_SECRET_PREFIX: 'confighub-flux-oci/registry/',
        ECR_CREATE_REPOSITORIES: true,
        POWERTOOLS_METRICS_NAMESPACE: 'ConfigHubFluxOci',
        INSECURE_REGISTRIES: [],
      });
    });
  });

  void describe('when values are set', () => {
    void it('parses numbers, flags and host lists', () => {
      const env = readPushEnv({
        DLQ_URL,
        MAX_RECEIVE_COUNT: '3',
        ECR_CREATE_REPOSITORIES: 'FALSE',
        INSECURE_REGISTRIES: 'registry.lan:5000, mirror.lan ,',
      });

      assert.equal(env.MAX_RECEIVE_COUNT, 3);
      assert.equal(env.ECR_CREATE_REPOSITORIES, false);
      assert.deepEqual(env.INSECURE_REGISTRIES, [
        'registry.lan:5000',
        'mirror.lan',
      ]);
    });
  });

  void describe('when the configuration is wrong', () => {
    const cases: { name: string; env: NodeJS.ProcessEnv; message: RegExp }[] = [
      { name: 'DLQ_URL is missing', env: {}, message: /DLQ_URL is required/ },
      {
        name: 'CONFIGHUB_URL comes without a worker id and secret',
        env: { DLQ_URL, CONFIGHUB_URL: 'https://hub.confighub.com' },
        message:
          /CONFIGHUB_WORKER_ID and CONFIGHUB_WORKER_SECRET_ID are required/,
      },
      {
        name: 'AUTH_METHOD is unknown',
        env: { DLQ_URL, AUTH_METHOD: 'k8s' },
        message:
          /AUTH_METHOD must be one of secret, docker-config, anonymous, got "k8s"/,
      },
      {
        name: 'AUTH_METHOD=secret has no secret id',
        env: { DLQ_URL, AUTH_METHOD: 'secret' },
        message: /DEFAULT_REGISTRY_SECRET_ID must name/,
      },
      {
        name: 'MAX_RECEIVE_COUNT is not a whole number',
        env: { DLQ_URL, MAX_RECEIVE_COUNT: '0' },
        message: /MAX_RECEIVE_COUNT must be a whole number from 1 to 1000/,
      },
      {
        name: 'ECR_CREATE_REPOSITORIES is not a boolean',
        env: { DLQ_URL, ECR_CREATE_REPOSITORIES: 'yes' },
        message: /ECR_CREATE_REPOSITORIES must be "true" or "false", got "yes"/,
      },
    ];
    for (const { name, env, message } of cases) {
      void it(`refuses it when ${name}`, () => {
        assert.throws(() => readPushEnv(env), message);
      });
    }
  });
});
