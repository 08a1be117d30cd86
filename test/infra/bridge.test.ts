import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CfnResource } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { ECR_REPOSITORY_ACTIONS } from '../../infra/lib/confighub-flux-oci-bridge.js';
import {
  at,
  resourcesOf,
  type Synthesised,
  synthesiseBridge,
} from './synth.js';

const PREFIXES = ['confighub', 'platform/units'];

/** `arn:${Partition}:<service>:${Region}:${AccountId}:<rest>` as synthesised. */
function stackArn(service: string, rest: string): unknown {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:${service}:`,
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:${rest}`,
      ],
    ],
  };
}

describe('ConfigHubFluxOciBridge', () => {
  let synth: Synthesised;
  /** Logical id of a construct's CloudFormation resource. */
  let id: (construct: { node: { defaultChild?: unknown } }) => string;

  before(() => {
    synth = synthesiseBridge({
      ecrRepositoryPrefixes: PREFIXES,
      confighubUrl: 'https://hub.confighub.com/',
      workerId: 'bridge-worker-1',
      alarmEmail: 'oncall@example.com',
      pushReservedConcurrency: 20,
      webhookReservedConcurrency: 5,
    });
    id = (construct) =>
      synth.stack.getLogicalId(construct.node.defaultChild as CfnResource);
  });
  after(() => synth.cleanup());

  describe('when synthesised with ECR prefixes, ConfigHub reporting and an alarm email', () => {
    it('passes the AwsSolutions checks with no unsuppressed finding', () => {
      assert.deepEqual(synth.nagFindings, []);
    });

    it('makes a FIFO queue that redrives to a FIFO DLQ after 5 receives', () => {
      const bridge = synth.stack.bridge;
      synth.template.hasResourceProperties('AWS::SQS::Queue', {
        FifoQueue: true,
        ContentBasedDeduplication: false,
        VisibilityTimeout: 360,
        MessageRetentionPeriod: 1209600,
        MaximumMessageSize: 1048576,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: {
            'Fn::GetAtt': [id(bridge.deadLetterQueue), 'Arn'],
          },
          maxReceiveCount: 5,
        },
      });
      const queues = resourcesOf(synth.template, 'AWS::SQS::Queue');
      assert.equal(Object.keys(queues).length, 2);
      assert.deepEqual(at(queues, id(bridge.deadLetterQueue), 'Properties'), {
        FifoQueue: true,
        ContentBasedDeduplication: false,
        MessageRetentionPeriod: 1209600,
        MaximumMessageSize: 1048576,
        SqsManagedSseEnabled: true,
      });
    });

    it('sets the visibility timeout to six times the push timeout', () => {
      const bridge = synth.stack.bridge;
      const functions = resourcesOf(synth.template, 'AWS::Lambda::Function');
      const queues = resourcesOf(synth.template, 'AWS::SQS::Queue');
      const timeout = at(
        functions,
        id(bridge.pushFunction),
        'Properties',
        'Timeout',
      );
      assert.equal(timeout, 60);
      assert.equal(
        at(queues, id(bridge.queue), 'Properties', 'VisibilityTimeout'),
        6 * 60,
      );
    });

    it('refuses plain-HTTP access to both queues', () => {
      for (const queue of [
        synth.stack.bridge.queue,
        synth.stack.bridge.deadLetterQueue,
      ]) {
        synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: id(queue) }],
          PolicyDocument: {
            Statement: [
              Match.objectLike({
                Effect: 'Deny',
                Action: 'sqs:*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ],
          },
        });
      }
    });

    it('runs both functions on Node.js 24, arm64, ESM, with their own log groups', () => {
      const bridge = synth.stack.bridge;
      const cases = [
        { fn: bridge.webhookFunction, memory: 256, timeout: 10, reserved: 5 },
        { fn: bridge.pushFunction, memory: 512, timeout: 60, reserved: 20 },
      ];
      for (const { fn, memory, timeout, reserved } of cases) {
        const logGroup = fn.logGroup.node.defaultChild as CfnResource;
        synth.template.hasResourceProperties('AWS::Lambda::Function', {
          FunctionName: Match.absent(),
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          MemorySize: memory,
          Timeout: timeout,
          ReservedConcurrentExecutions: reserved,
          Role: { 'Fn::GetAtt': [id(fn.role!), 'Arn'] },
          LoggingConfig: {
            LogGroup: { Ref: synth.stack.getLogicalId(logGroup) },
          },
        });
      }
      const logGroups = resourcesOf(synth.template, 'AWS::Logs::LogGroup');
      assert.equal(Object.keys(logGroups).length, 3);
      for (const logGroup of Object.values(logGroups)) {
        assert.equal(at(logGroup, 'Properties', 'RetentionInDays'), 30);
      }
    });

    it('gives the webhook only the queue URL, the secret ARN and settings', () => {
      const bridge = synth.stack.bridge;
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            QUEUE_URL: { Ref: id(bridge.queue) },
            SIGNING_SECRET_ID: { Ref: id(bridge.signingSecret) },
            POWERTOOLS_SERVICE_NAME: 'confighub-flux-oci-webhook',
            POWERTOOLS_METRICS_NAMESPACE: 'ConfigHubFluxOci',
            POWERTOOLS_LOG_LEVEL: 'INFO',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
    });

    it('gives the push function ARNs, names and settings, never a secret value', () => {
      const bridge = synth.stack.bridge;
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            DLQ_URL: { Ref: id(bridge.deadLetterQueue) },
            MAX_RECEIVE_COUNT: '5',
            AUTH_METHOD: 'secret',
            DEFAULT_REGISTRY_SECRET_ID: {
              Ref: id(bridge.defaultRegistrySecret),
            },
            REGISTRY_SECRET_PREFIX: 'confighub-flux-oci/registry/',
            ECR_CREATE_REPOSITORIES: 'true',
            CONFIGHUB_URL: 'https://hub.confighub.com',
            CONFIGHUB_WORKER_ID: 'bridge-worker-1',
            CONFIGHUB_WORKER_SECRET_ID: { Ref: id(bridge.workerSecret) },
            POWERTOOLS_SERVICE_NAME: 'confighub-flux-oci-push',
            POWERTOOLS_METRICS_NAMESPACE: 'ConfigHubFluxOci',
            POWERTOOLS_LOG_LEVEL: 'INFO',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
      const text = JSON.stringify(
        synth.template.findResources('AWS::Lambda::Function'),
      );
      assert.doesNotMatch(text, /resolve:secretsmanager/);
      assert.doesNotMatch(text, /SecretString/);
    });

    it('feeds the push function from the queue with partial batch responses', () => {
      const bridge = synth.stack.bridge;
      synth.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [id(bridge.queue), 'Arn'] },
        FunctionName: { Ref: id(bridge.pushFunction) },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 10 },
      });
    });

    it('routes POST /webhook of a throttled, access-logged HTTP API to the webhook', () => {
      const bridge = synth.stack.bridge;
      synth.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
      synth.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
        ProtocolType: 'HTTP',
      });
      synth.template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
      synth.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: 'POST /webhook',
      });
      synth.template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: {
          'Fn::GetAtt': [id(bridge.webhookFunction), 'Arn'],
        },
      });
      synth.template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: {
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
        },
        AccessLogSettings: {
          DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
          Format: Match.stringLikeRegexp('\\$context\\.requestId'),
        },
      });
    });

    it('keeps request headers (and so the signature) out of the access log', () => {
      const stage = Object.values(
        resourcesOf(synth.template, 'AWS::ApiGatewayV2::Stage'),
      )[0];
      const format = String(
        at(stage, 'Properties', 'AccessLogSettings', 'Format'),
      );
      assert.doesNotMatch(format, /header/i);
    });

    it('generates the signing secret and leaves the other two to the operator', () => {
      const bridge = synth.stack.bridge;
      const secrets = resourcesOf(
        synth.template,
        'AWS::SecretsManager::Secret',
      );
      assert.equal(Object.keys(secrets).length, 3);
      assert.deepEqual(
        at(
          secrets,
          id(bridge.signingSecret),
          'Properties',
          'GenerateSecretString',
        ),
        { ExcludePunctuation: true, PasswordLength: 64 },
      );
      const worker = at(secrets, id(bridge.workerSecret), 'Properties');
      assert.equal(at(worker, 'SecretString'), undefined);
      // CloudFormation fills it with a random value until the operator puts one.
      assert.deepEqual(at(worker, 'GenerateSecretString'), {});
      assert.equal(
        at(
          secrets,
          id(bridge.defaultRegistrySecret),
          'Properties',
          'SecretString',
        ),
        '{"auths":{}}',
      );
    });

    it('lets the webhook send to the queue and read the signing secret, nothing more', () => {
      const bridge = synth.stack.bridge;
      synth.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: id(bridge.webhookFunction.role!) }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              Resource: {
                'Fn::GetAtt': [
                  synth.stack.getLogicalId(
                    bridge.webhookFunction.logGroup.node
                      .defaultChild as CfnResource,
                  ),
                  'Arn',
                ],
              },
            },
            {
              Sid: 'SendToQueue',
              Effect: 'Allow',
              Action: 'sqs:SendMessage',
              Resource: { 'Fn::GetAtt': [id(bridge.queue), 'Arn'] },
            },
            {
              Sid: 'ReadSigningSecret',
              Effect: 'Allow',
              Action: 'secretsmanager:GetSecretValue',
              Resource: { Ref: id(bridge.signingSecret) },
            },
          ],
        },
      });
    });

    it('lets the push function consume the queue, feed the DLQ, read its secrets and use ECR under the prefixes', () => {
      const bridge = synth.stack.bridge;
      const repositories = PREFIXES.map((prefix) =>
        stackArn('ecr', `repository/${prefix}/*`),
      );
      synth.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: id(bridge.pushFunction.role!) }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              Resource: {
                'Fn::GetAtt': [
                  synth.stack.getLogicalId(
                    bridge.pushFunction.logGroup.node
                      .defaultChild as CfnResource,
                  ),
                  'Arn',
                ],
              },
            },
            {
              Effect: 'Allow',
              Action: [
                'sqs:ReceiveMessage',
                'sqs:ChangeMessageVisibility',
                'sqs:GetQueueUrl',
                'sqs:DeleteMessage',
                'sqs:GetQueueAttributes',
              ],
              Resource: { 'Fn::GetAtt': [id(bridge.queue), 'Arn'] },
            },
            {
              Sid: 'SendToDeadLetterQueue',
              Effect: 'Allow',
              Action: 'sqs:SendMessage',
              Resource: { 'Fn::GetAtt': [id(bridge.deadLetterQueue), 'Arn'] },
            },
            {
              Sid: 'ReadSecrets',
              Effect: 'Allow',
              Action: 'secretsmanager:GetSecretValue',
              Resource: [
                stackArn(
                  'secretsmanager',
                  'secret:confighub-flux-oci/registry/*',
                ),
                { Ref: id(bridge.defaultRegistrySecret) },
                { Ref: id(bridge.workerSecret) },
              ],
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
              Resource: repositories,
            },
            {
              Sid: 'EcrCreateRepositories',
              Effect: 'Allow',
              Action: 'ecr:CreateRepository',
              Resource: repositories,
            },
          ],
        },
      });
    });

    it('grants "*" only for ecr:GetAuthorizationToken, which has no resource type', () => {
      const starActions: unknown[] = [];
      for (const policy of Object.values(
        resourcesOf(synth.template, 'AWS::IAM::Policy'),
      )) {
        const statements = at(
          policy,
          'Properties',
          'PolicyDocument',
          'Statement',
        );
        assert.ok(Array.isArray(statements));
        for (const statement of statements) {
          const resources = [at(statement, 'Resource')].flat();
          if (resources.includes('*')) {
            starActions.push(at(statement, 'Action'));
          }
        }
      }
      assert.deepEqual(starActions, ['ecr:GetAuthorizationToken']);
    });

    it('attaches no managed policy to any role', () => {
      const roles = resourcesOf(synth.template, 'AWS::IAM::Role');
      assert.equal(Object.keys(roles).length, 2);
      for (const role of Object.values(roles)) {
        assert.equal(at(role, 'Properties', 'ManagedPolicyArns'), undefined);
        assert.equal(at(role, 'Properties', 'Policies'), undefined);
      }
    });

    it('alarms on the DLQ, the oldest message, push errors and throttles, webhook errors and API 5xx', () => {
      const topic = { Ref: id(synth.stack.bridge.alarmTopic) };
      const cases = [
        ['ApproximateNumberOfMessagesVisible', 'AWS/SQS', 'Maximum', 60, 0],
        ['ApproximateAgeOfOldestMessage', 'AWS/SQS', 'Maximum', 60, 900],
        ['Errors', 'AWS/Lambda', 'Sum', 300, 0],
        ['Throttles', 'AWS/Lambda', 'Sum', 300, 0],
        ['5xx', 'AWS/ApiGateway', 'Sum', 300, 0],
      ] as const;
      for (const [metric, namespace, statistic, period, threshold] of cases) {
        synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metric,
          Namespace: namespace,
          Statistic: statistic,
          Period: period,
          Threshold: threshold,
          EvaluationPeriods: 1,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: [topic],
          OKActions: [topic],
        });
      }
      synth.template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
      const errorAlarms = Object.values(
        resourcesOf(synth.template, 'AWS::CloudWatch::Alarm', {
          Properties: { MetricName: 'Errors' },
        }),
      ).map((alarm) => JSON.stringify(at(alarm, 'Properties', 'Dimensions')));
      assert.equal(errorAlarms.length, 2);
      assert.ok(
        errorAlarms.some((d) =>
          d.includes(id(synth.stack.bridge.pushFunction)),
        ),
      );
      assert.ok(
        errorAlarms.some((d) =>
          d.includes(id(synth.stack.bridge.webhookFunction)),
        ),
      );
    });

    it('sends alarms to a KMS-encrypted, SSL-only topic with the email subscribed', () => {
      synth.template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            }),
          ]),
        },
      });
      synth.template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
      });
      synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: [
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ],
        },
      });
      synth.template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'oncall@example.com',
      });
    });

    it('outputs the webhook URL, queue URLs, secret ARNs and alarm topic', () => {
      const outputs = synth.template.findOutputs('*');
      assert.deepEqual(Object.keys(outputs).sort(), [
        'AlarmTopicArn',
        'DeadLetterQueueUrl',
        'DefaultRegistrySecretArn',
        'QueueUrl',
        'SigningSecretArn',
        'WebhookUrl',
        'WorkerSecretArn',
      ]);
      assert.match(JSON.stringify(outputs.WebhookUrl?.Value), /\/webhook"/);
    });

    it('bundles each function as minified ESM with a source map and the AWS SDK inside', () => {
      const functions = resourcesOf(synth.template, 'AWS::Lambda::Function');
      assert.equal(Object.keys(functions).length, 2);
      for (const fn of Object.values(functions)) {
        const key = String(at(fn, 'Properties', 'Code', 'S3Key'));
        const asset = path.join(
          synth.outdir,
          `asset.${key.replace(/\.zip$/, '')}`,
        );
        const code = readFileSync(path.join(asset, 'index.mjs'), 'utf8');
        assert.ok(existsSync(path.join(asset, 'index.mjs.map')));
        assert.ok(code.startsWith('import { createRequire as'));
        assert.match(code, /\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
        assert.doesNotMatch(code, /from\s*"@aws-sdk\//);
        // Minified: a few long lines (template literals keep their own).
        const lines = code.split('\n').length;
        assert.ok(lines < code.length / 1000, `${lines} lines: not minified`);
      }
    });
  });
});
