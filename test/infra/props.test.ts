import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  ConfigHubFluxOciBridge,
  type ConfigHubFluxOciBridgeProps,
} from '../../infra/lib/confighub-flux-oci-bridge.js';
import { BridgeConfigError } from '../../infra/lib/errors.js';
import { resolveBridgeProps } from '../../infra/lib/props.js';

interface Case {
  title: string;
  props: ConfigHubFluxOciBridgeProps;
  setting: string;
  /** Parts the message must contain: the value, the range, the fix. */
  says: string[];
}

const CASES: Case[] = [
  {
    title: 'a batch larger than FIFO allows',
    props: { pushBatchSize: 20 },
    setting: 'pushBatchSize',
    says: ['pushBatchSize is 20', 'from 1 to 10', 'Fix:'],
  },
  {
    title: 'a fractional receive count',
    props: { maxReceiveCount: 2.5 },
    setting: 'maxReceiveCount',
    says: ['maxReceiveCount is 2.5', 'from 1 to 1000'],
  },
  {
    title: 'a zero receive count',
    props: { maxReceiveCount: 0 },
    setting: 'maxReceiveCount',
    says: ['maxReceiveCount is 0', 'from 1 to 1000'],
  },
  {
    title: 'a visibility timeout under six push timeouts',
    props: {
      pushTimeout: Duration.minutes(2),
      queueVisibilityTimeout: Duration.minutes(5),
    },
    setting: 'queueVisibilityTimeout',
    says: [
      'is 300 seconds',
      '720 (6 x pushTimeout of 120 seconds)',
      'leave it unset',
    ],
  },
  {
    title: 'a push timeout beyond Lambda’s limit',
    props: { pushTimeout: Duration.minutes(20) },
    setting: 'pushTimeout',
    says: ['pushTimeout is 1200 seconds', '10 to 900 seconds'],
  },
  {
    title: 'a webhook timeout API Gateway would not wait for',
    props: { webhookTimeout: Duration.seconds(45) },
    setting: 'webhookTimeout',
    says: ['webhookTimeout is 45 seconds', '1 to 29 seconds'],
  },
  {
    title: 'an event source concurrency under the minimum',
    props: { pushMaxConcurrency: 1 },
    setting: 'pushMaxConcurrency',
    says: ['pushMaxConcurrency is 1', 'from 2 to 1000'],
  },
  {
    title: 'reserved concurrency below the event source concurrency',
    props: { pushMaxConcurrency: 10, pushReservedConcurrency: 5 },
    setting: 'pushReservedConcurrency',
    says: ['pushReservedConcurrency is 5', 'from 10 to 1000', 'throttled'],
  },
  {
    title: 'an ECR prefix with a wildcard',
    props: { ecrRepositoryPrefixes: ['confighub/*'] },
    setting: 'ecrRepositoryPrefixes',
    says: ['"confighub/*"', 'without wildcards', 'Fix:'],
  },
  {
    title: 'an ECR prefix with the registry host',
    props: {
      ecrRepositoryPrefixes: ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/x'],
    },
    setting: 'ecrRepositoryPrefixes',
    says: ['"123456789012.dkr.ecr.eu-west-1.amazonaws.com/x"', 'registry host'],
  },
  {
    title: 'an uppercase ECR Public prefix',
    props: { ecrPublicRepositoryPrefixes: ['ConfigHub'] },
    setting: 'ecrPublicRepositoryPrefixes',
    says: ['ecrPublicRepositoryPrefixes contains "ConfigHub"', 'lowercase'],
  },
  {
    title: 'a duplicated ECR prefix',
    props: { ecrRepositoryPrefixes: ['a', 'a'] },
    setting: 'ecrRepositoryPrefixes',
    says: ['lists "a" twice', 'remove the duplicate'],
  },
  {
    title: 'a secret prefix without a trailing slash',
    props: { registrySecretPrefix: 'acme/registry' },
    setting: 'registrySecretPrefix',
    says: ['"acme/registry"', 'ending in "/"', 'use "acme/registry/"'],
  },
  {
    title: 'a secret prefix with a wildcard',
    props: { registrySecretPrefix: 'acme/*/' },
    setting: 'registrySecretPrefix',
    says: ['"acme/*/"', 'no wildcards'],
  },
  {
    title: 'the docker-config auth method',
    props: { authMethod: 'docker-config' as 'secret' },
    setting: 'authMethod',
    says: ['"docker-config"', 'secret, anonymous', 'local runner'],
  },
  {
    title: 'a plain-HTTP ConfigHub URL',
    props: { confighubUrl: 'http://hub.example.com', workerId: 'w1' },
    setting: 'confighubUrl',
    says: ['"http://hub.example.com"', 'https://'],
  },
  {
    title: 'a ConfigHub URL without a worker id',
    props: { confighubUrl: 'https://hub.confighub.com' },
    setting: 'workerId',
    says: ['workerId is not set', 'set workerId'],
  },
  {
    title: 'a worker id without a ConfigHub URL',
    props: { workerId: 'w1' },
    setting: 'confighubUrl',
    says: ['confighubUrl is not set', '"w1"'],
  },
  {
    title: 'a worker id that would break the URL path',
    props: { confighubUrl: 'https://hub.confighub.com', workerId: 'a/../b' },
    setting: 'workerId',
    says: ['"a/../b"', 'letters, digits'],
  },
  {
    title: 'an invalid alarm email',
    props: { alarmEmail: 'oncall' },
    setting: 'alarmEmail',
    says: ['alarmEmail is "oncall"', 'one email address'],
  },
  {
    title: 'a log retention CloudWatch does not offer',
    props: { logRetention: 10 as RetentionDays },
    setting: 'logRetention',
    says: ['logRetention is 10', '14', 'RetentionDays'],
  },
  {
    title: 'an unknown log level',
    props: { logLevel: 'TRACE' as 'INFO' },
    setting: 'logLevel',
    says: ['"TRACE"', 'DEBUG, INFO, WARN, ERROR'],
  },
  {
    title: 'a metrics namespace in AWS’s space',
    props: { metricsNamespace: 'AWS/Lambda' },
    setting: 'metricsNamespace',
    says: ['"AWS/Lambda"', 'not starting with "AWS/"'],
  },
  {
    title: 'an oldest-message threshold beyond the retention',
    props: { oldestMessageAgeAlarmThreshold: Duration.days(15) },
    setting: 'oldestMessageAgeAlarmThreshold',
    says: ['is 1296000 seconds', '60 to 1209600 seconds'],
  },
  {
    title: 'a throttling rate over the account quota',
    props: { throttlingRateLimit: 20000 },
    setting: 'throttlingRateLimit',
    says: ['throttlingRateLimit is 20000', 'from 1 to 10000'],
  },
];

describe('ConfigHubFluxOciBridge props', () => {
  let outdir: string;
  let app: App;
  before(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'bridge-props-test-'));
    app = new App({ outdir });
  });
  after(() => rmSync(outdir, { recursive: true, force: true }));

  describe('when a setting cannot work', () => {
    for (const { title, props, setting, says } of CASES) {
      it(`refuses ${title} in the constructor, naming value, range and fix`, () => {
        const stack = new Stack(
          app,
          `Stack${CASES.findIndex((c) => c.title === title)}`,
        );

        assert.throws(
          () => new ConfigHubFluxOciBridge(stack, 'Bridge', props),
          (error: unknown) => {
            assert.ok(error instanceof BridgeConfigError);
            assert.equal(error.name, 'BridgeConfigError');
            assert.equal(error.code, 'INVALID_PROP');
            assert.equal(error.setting, setting);
            assert.ok(error.message.startsWith('ConfigHubFluxOciBridge: '));
            for (const part of says) {
              assert.ok(
                error.message.includes(part),
                `expected ${JSON.stringify(part)} in: ${error.message}`,
              );
            }
            return true;
          },
        );
        // Refused before anything was built (or bundled).
        assert.equal(stack.node.findAll().length, 2);
      });
    }
  });

  describe('when nothing is set', () => {
    it('applies the documented defaults', () => {
      const settings = resolveBridgeProps();

      assert.deepEqual(
        {
          ...settings,
          pushTimeout: settings.pushTimeout.toSeconds(),
          queueVisibilityTimeout: settings.queueVisibilityTimeout.toSeconds(),
          webhookTimeout: settings.webhookTimeout.toSeconds(),
          oldestMessageAgeAlarmThreshold:
            settings.oldestMessageAgeAlarmThreshold.toSeconds(),
        },
        {
          ecrRepositoryPrefixes: [],
          ecrPublicRepositoryPrefixes: [],
          ecrCreateRepositories: true,
          registrySecretPrefix: 'confighub-flux-oci/registry/',
          authMethod: 'secret',
          confighubUrl: undefined,
          workerId: undefined,
          maxReceiveCount: 5,
          pushTimeout: 60,
          queueVisibilityTimeout: 360,
          pushBatchSize: 10,
          pushMaxConcurrency: 10,
          pushReservedConcurrency: undefined,
          webhookReservedConcurrency: undefined,
          pushMemorySize: 512,
          webhookMemorySize: 256,
          webhookTimeout: 10,
          throttlingRateLimit: 50,
          throttlingBurstLimit: 100,
          logRetention: RetentionDays.ONE_MONTH,
          logLevel: 'INFO',
          metricsNamespace: 'ConfigHubFluxOci',
          alarmEmail: undefined,
          oldestMessageAgeAlarmThreshold: 900,
        },
      );
    });
  });

  describe('when the push timeout changes', () => {
    it('derives the visibility timeout as six times it', () => {
      const settings = resolveBridgeProps({ pushTimeout: Duration.minutes(3) });

      assert.equal(settings.queueVisibilityTimeout.toSeconds(), 1080);
    });
  });

  describe('when the ConfigHub URL has a trailing slash', () => {
    it('drops it so result URLs have one slash', () => {
      const settings = resolveBridgeProps({
        confighubUrl: 'https://hub.confighub.com/',
        workerId: 'w1',
      });

      assert.equal(settings.confighubUrl, 'https://hub.confighub.com');
    });
  });
});
