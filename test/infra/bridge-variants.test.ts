import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CfnResource } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import {
  ECR_PUBLIC_REPOSITORY_ACTIONS,
  ECR_REPOSITORY_ACTIONS,
} from '../../infra/lib/confighub-flux-oci-bridge.js';
import {
  at,
  resourcesOf,
  type Synthesised,
  synthesiseBridge,
} from './synth.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

/** An ARN in the fixed account and region; the partition stays a reference. */
function arn(rest: string): unknown {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${rest}`]] };
}

/** Logical id of a construct's CloudFormation resource in `synth`. */
function logicalId(
  synth: Synthesised,
  construct: { node: { defaultChild?: unknown } },
): string {
  return synth.stack.getLogicalId(construct.node.defaultChild as CfnResource);
}

/** The push role's policy statements, with the log and queue grants left out. */
function pushStatements(synth: Synthesised): unknown[] {
  const role = synth.stack.bridge.pushFunction.role;
  assert.ok(role);
  const [policy] = Object.values(
    resourcesOf(synth.template, 'AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: logicalId(synth, role) }] },
    }),
  );
  const statements = at(policy, 'Properties', 'PolicyDocument', 'Statement');
  assert.ok(Array.isArray(statements));
  return statements.slice(2);
}

describe('ConfigHubFluxOciBridge', () => {
  describe('when synthesised with every default', () => {
    let synth: Synthesised;
    before(() => {
      synth = synthesiseBridge({});
    });
    after(() => synth.cleanup());

    it('passes the AwsSolutions checks with no unsuppressed finding', () => {
      assert.deepEqual(synth.nagFindings, []);
    });

    it('grants no ECR access and reads only registry secrets', () => {
      const bridge = synth.stack.bridge;
      assert.deepEqual(pushStatements(synth), [
        {
          Sid: 'SendToDeadLetterQueue',
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Resource: {
            'Fn::GetAtt': [logicalId(synth, bridge.deadLetterQueue), 'Arn'],
          },
        },
        {
          Sid: 'ReadSecrets',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: [
            {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':secretsmanager:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':secret:confighub-flux-oci/registry/*',
                ],
              ],
            },
            { Ref: logicalId(synth, bridge.defaultRegistrySecret) },
          ],
        },
      ]);
    });

    it('leaves ConfigHub reporting off', () => {
      const variables = at(
        resourcesOf(synth.template, 'AWS::Lambda::Function'),
        logicalId(synth, synth.stack.bridge.pushFunction),
        'Properties',
        'Environment',
        'Variables',
      );
      assert.ok(variables && typeof variables === 'object');
      assert.deepEqual(Object.keys(variables).sort(), [
        'AUTH_METHOD',
        'DEFAULT_REGISTRY_SECRET_ID',
        'DLQ_URL',
        'ECR_CREATE_REPOSITORIES',
        'MAX_RECEIVE_COUNT',
        'NODE_OPTIONS',
        'POWERTOOLS_LOG_LEVEL',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'REGISTRY_SECRET_PREFIX',
      ]);
    });

    it('reserves no concurrency and subscribes nobody', () => {
      synth.template.allResourcesProperties('AWS::Lambda::Function', {
        ReservedConcurrentExecutions: Match.absent(),
      });
      synth.template.resourceCountIs('AWS::SNS::Subscription', 0);
    });
  });

  describe('when synthesised for a fixed account with ECR Public, anonymous auth and custom timings', () => {
    let synth: Synthesised;
    before(() => {
      synth = synthesiseBridge(
        {
          ecrRepositoryPrefixes: ['team-a/units'],
          ecrPublicRepositoryPrefixes: ['confighub'],
          ecrCreateRepositories: false,
          authMethod: 'anonymous',
          registrySecretPrefix: 'acme/registries/',
          maxReceiveCount: 3,
          pushTimeout: Duration.minutes(2),
          pushBatchSize: 4,
          pushMaxConcurrency: 3,
          logLevel: 'DEBUG',
          throttlingRateLimit: 5,
          throttlingBurstLimit: 10,
        },
        { account: ACCOUNT, region: REGION },
      );
    });
    after(() => synth.cleanup());

    it('passes the AwsSolutions checks with no unsuppressed finding', () => {
      assert.deepEqual(synth.nagFindings, []);
    });

    it('grants push, read, describe and delete under the prefixes, no create, and ECR Public tokens under a condition', () => {
      const [dlq, ...rest] = pushStatements(synth);
      assert.equal(at(dlq, 'Sid'), 'SendToDeadLetterQueue');
      assert.deepEqual(rest, [
        {
          Sid: 'ReadSecrets',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: arn(
            `secretsmanager:${REGION}:${ACCOUNT}:secret:acme/registries/*`,
          ),
        },
        {
          Sid: 'EcrAuthorizationToken',
          Effect: 'Allow',
          Action: 'ecr:GetAuthorizationToken',
          Resource: '*',
        },
        {
          Sid: 'EcrRepositories',
          Effect: 'Allow',
          Action: [...ECR_REPOSITORY_ACTIONS],
          Resource: arn(`ecr:${REGION}:${ACCOUNT}:repository/team-a/units/*`),
        },
        {
          Sid: 'EcrPublicAuthorizationToken',
          Effect: 'Allow',
          Action: 'ecr-public:GetAuthorizationToken',
          Resource: '*',
        },
        {
          Sid: 'EcrPublicBearerToken',
          Effect: 'Allow',
          Action: 'sts:GetServiceBearerToken',
          Resource: '*',
          Condition: {
            StringEquals: { 'sts:AWSServiceName': 'ecr-public.amazonaws.com' },
          },
        },
        {
          Sid: 'EcrPublicRepositories',
          Effect: 'Allow',
          Action: [...ECR_PUBLIC_REPOSITORY_ACTIONS],
          Resource: arn(`ecr-public::${ACCOUNT}:repository/confighub/*`),
        },
      ]);
    });

    it('passes the timings, receive count and log level on', () => {
      const bridge = synth.stack.bridge;
      synth.template.hasResourceProperties('AWS::SQS::Queue', {
        VisibilityTimeout: 720,
        RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
      });
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        Timeout: 120,
        Environment: {
          Variables: Match.objectLike({
            MAX_RECEIVE_COUNT: '3',
            AUTH_METHOD: 'anonymous',
            ECR_CREATE_REPOSITORIES: 'false',
            REGISTRY_SECRET_PREFIX: 'acme/registries/',
            POWERTOOLS_LOG_LEVEL: 'DEBUG',
            DEFAULT_REGISTRY_SECRET_ID: Match.absent(),
          }),
        },
      });
      synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalId(synth, bridge.pushFunction) },
        BatchSize: 4,
        ScalingConfig: { MaximumConcurrency: 3 },
      });
      synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: {
          ThrottlingRateLimit: 5,
          ThrottlingBurstLimit: 10,
        },
      });
    });
  });
});
