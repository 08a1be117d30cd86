import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import {
  readLocalStack,
  resolveQueueTarget,
  StackConfigError,
} from '../../cli/stack-config.js';

const LOCAL = {
  webhookUrl: 'http://127.0.0.1:4100/webhook',
  sqsEndpoint: 'http://127.0.0.1:4101',
  region: 'us-east-1',
  queueUrl: 'http://127.0.0.1:4101/000000000000/q.fifo',
  dlqUrl: 'http://127.0.0.1:4101/000000000000/q-dlq.fifo',
  signingSecret: 'super-secret-signing-key',
};

describe('readLocalStack', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stack-config-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('when the local stack wrote its file', () => {
    it('returns it', async () => {
      const file = join(dir, 'good.json');
      await writeFile(file, JSON.stringify({ ...LOCAL, extra: 1 }));

      assert.deepEqual(await readLocalStack(file), LOCAL);
    });
  });

  describe('when the file is missing', () => {
    it('throws local-stack-missing saying how to start one', async () => {
      await assert.rejects(
        readLocalStack(join(dir, 'absent.json')),
        (error) => {
          assert.ok(error instanceof StackConfigError);
          assert.equal(error.code, 'local-stack-missing');
          assert.match(error.message, /start it with npm start/);
          return true;
        },
      );
    });
  });

  describe('when a field is wrong', () => {
    it('names the field and never the signing secret', async () => {
      const file = join(dir, 'bad.json');
      await writeFile(file, JSON.stringify({ ...LOCAL, dlqUrl: 42 }));

      await assert.rejects(readLocalStack(file), (error) => {
        assert.ok(error instanceof StackConfigError);
        assert.equal(error.code, 'local-stack-invalid');
        assert.match(error.message, /dlqUrl/);
        assert.doesNotMatch(error.message, /super-secret-signing-key/);
        return true;
      });
    });
  });
});

describe('resolveQueueTarget', () => {
  describe('when only queue URL flags are given', () => {
    it('takes the region from the URL', async () => {
      const target = await resolveQueueTarget({
        dlqUrl: 'https://sqs.eu-central-1.amazonaws.com/1/dlq.fifo',
        env: {},
        localStackFile: '/nonexistent',
      });

      assert.deepEqual(
        {
          origin: target.origin,
          region: target.region,
          endpoint: target.endpoint,
        },
        { origin: 'flags', region: 'eu-central-1', endpoint: undefined },
      );
    });

    it('prefers --region, then AWS_REGION', async () => {
      const url = 'https://sqs.eu-central-1.amazonaws.com/1/dlq.fifo';

      const flagged = await resolveQueueTarget({
        dlqUrl: url,
        region: 'us-west-2',
        env: { AWS_REGION: 'ap-south-1' },
      });
      const fromEnv = await resolveQueueTarget({
        dlqUrl: url,
        env: { AWS_REGION: 'ap-south-1' },
      });

      assert.equal(flagged.region, 'us-west-2');
      assert.equal(fromEnv.region, 'ap-south-1');
    });
  });

  describe('when no region can be found', () => {
    it('throws region-missing', async () => {
      await assert.rejects(
        resolveQueueTarget({ dlqUrl: 'http://queue.example/1/dlq', env: {} }),
        (error) =>
          error instanceof StackConfigError && error.code === 'region-missing',
      );
    });
  });

  describe('when --stack names a deployed stack', () => {
    const cloudFormation = mockClient(CloudFormationClient);

    after(() => {
      cloudFormation.restore();
    });

    it('reads QueueUrl and DeadLetterQueueUrl from its outputs', async () => {
      cloudFormation
        .on(DescribeStacksCommand, { StackName: 'bridge' })
        .resolves({
          Stacks: [
            {
              StackName: 'bridge',
              CreationTime: new Date(),
              StackStatus: 'CREATE_COMPLETE',
              Outputs: [
                { OutputKey: 'QueueUrl', OutputValue: 'https://q' },
                { OutputKey: 'DeadLetterQueueUrl', OutputValue: 'https://dlq' },
              ],
            },
          ],
        });

      const target = await resolveQueueTarget({
        stack: 'bridge',
        env: { AWS_REGION: 'eu-west-1' },
        cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
      });

      assert.deepEqual(
        [target.origin, target.queueUrl, target.dlqUrl],
        ['stack', 'https://q', 'https://dlq'],
      );
    });

    it('throws stack-not-found when CloudFormation does not know it', async () => {
      cloudFormation.on(DescribeStacksCommand, { StackName: 'nope' }).rejects(
        new CloudFormationServiceException({
          name: 'ValidationError',
          $fault: 'client',
          $metadata: {},
          message: 'Stack with id nope does not exist',
        }),
      );

      await assert.rejects(
        resolveQueueTarget({
          stack: 'nope',
          env: { AWS_REGION: 'eu-west-1' },
          cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
        }),
        (error) =>
          error instanceof StackConfigError &&
          error.code === 'stack-not-found' &&
          /stack nope not found in eu-west-1/.test(error.message),
      );
    });
  });

  describe('when nothing is given', () => {
    it('uses the local stack with its endpoint', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'stack-config-'));
      const file = join(dir, 'stack.json');
      await writeFile(file, JSON.stringify(LOCAL));

      const target = await resolveQueueTarget({
        env: {},
        localStackFile: file,
      });
      await rm(dir, { recursive: true, force: true });

      assert.deepEqual(
        [target.origin, target.endpoint, target.queueUrl, target.dlqUrl],
        ['local', LOCAL.sqsEndpoint, LOCAL.queueUrl, LOCAL.dlqUrl],
      );
    });
  });
});
