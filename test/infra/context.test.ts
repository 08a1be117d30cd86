import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bridgePropsFromContext,
  stackSettingsFromContext,
} from '../../infra/lib/context.js';
import { BridgeConfigError } from '../../infra/lib/errors.js';

/** A context reader over a plain object, as `-c` or cdk.json would fill it. */
function reader(values: Record<string, unknown>) {
  return (key: string): unknown => values[key];
}

describe('bridgePropsFromContext', () => {
  describe('when values come from -c (strings)', () => {
    it('converts lists, numbers, booleans, durations and levels', () => {
      const props = bridgePropsFromContext(
        reader({
          ecrRepositoryPrefixes: 'confighub, platform/units,',
          ecrCreateRepositories: 'false',
          maxReceiveCount: '7',
          pushTimeoutSeconds: '90',
          logRetentionDays: '14',
          logLevel: 'debug',
          confighubUrl: 'https://hub.confighub.com',
          workerId: 'w1',
          alarmEmail: 'oncall@example.com',
        }),
      );

      assert.deepEqual(props.ecrRepositoryPrefixes, [
        'confighub',
        'platform/units',
      ]);
      assert.equal(props.ecrCreateRepositories, false);
      assert.equal(props.maxReceiveCount, 7);
      assert.equal(props.pushTimeout?.toSeconds(), 90);
      assert.equal(props.logRetention, 14);
      assert.equal(props.logLevel, 'DEBUG');
      assert.equal(props.confighubUrl, 'https://hub.confighub.com');
      assert.equal(props.workerId, 'w1');
      assert.equal(props.alarmEmail, 'oncall@example.com');
    });
  });

  describe('when values come from cdk.json (JSON types)', () => {
    it('accepts lists, numbers and booleans as they are', () => {
      const props = bridgePropsFromContext(
        reader({
          ecrPublicRepositoryPrefixes: ['confighub'],
          ecrCreateRepositories: true,
          pushBatchSize: 5,
        }),
      );

      assert.deepEqual(props.ecrPublicRepositoryPrefixes, ['confighub']);
      assert.equal(props.ecrCreateRepositories, true);
      assert.equal(props.pushBatchSize, 5);
    });
  });

  describe('when nothing is set', () => {
    it('leaves every setting to the construct default', () => {
      const props = bridgePropsFromContext(reader({}));

      assert.ok(Object.values(props).every((value) => value === undefined));
    });
  });

  describe('when a value has the wrong shape', () => {
    const cases: [string, unknown, string][] = [
      ['maxReceiveCount', 'five', 'expected a whole number'],
      ['pushTimeoutSeconds', '1.5', 'expected a whole number'],
      ['ecrCreateRepositories', 'yes', 'expected true or false'],
      ['ecrRepositoryPrefixes', 42, 'expected a comma-separated string'],
      ['alarmEmail', 7, 'expected a string'],
    ];
    for (const [key, value, rule] of cases) {
      it(`refuses ${key}=${JSON.stringify(value)} naming the key and how to set it`, () => {
        assert.throws(
          () => bridgePropsFromContext(reader({ [key]: value })),
          (error: unknown) => {
            assert.ok(error instanceof BridgeConfigError);
            assert.equal(error.code, 'INVALID_CONTEXT');
            assert.equal(error.setting, key);
            assert.ok(error.message.includes(`context ${key} is`));
            assert.ok(error.message.includes(rule));
            assert.ok(error.message.includes(`-c ${key}=<value>`));
            return true;
          },
        );
      });
    }
  });
});

describe('stackSettingsFromContext', () => {
  describe('when no account or region is given', () => {
    it('makes an environment-agnostic stack with the default name', () => {
      assert.deepEqual(stackSettingsFromContext(reader({})), {
        stackName: 'ConfigHubFluxOciBridge',
        env: undefined,
      });
    });
  });

  describe('when account and region are given', () => {
    it('pins the stack to them', () => {
      const settings = stackSettingsFromContext(
        reader({
          account: '123456789012',
          region: 'eu-west-1',
          stackName: 'Bridge-Prod',
        }),
      );

      assert.deepEqual(settings, {
        stackName: 'Bridge-Prod',
        env: { account: '123456789012', region: 'eu-west-1' },
      });
    });
  });

  describe('when the account is not an account id', () => {
    it('refuses it', () => {
      assert.throws(
        () => stackSettingsFromContext(reader({ account: '1234' })),
        /context account is "1234"; expected a 12-digit AWS account id/,
      );
    });
  });
});
