/**
 * The whole bridge as one construct: an HTTP API in front of the webhook
 * function, a FIFO queue with its dead-letter queue, the push function on
 * the queue, the secrets both read, least-privilege roles and alarms.
 */
import path from 'node:path';
import { ArnFormat, Duration, SecretValue, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  ComparisonOperator,
  type Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import {
  Effect,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import {
  NodejsFunction,
  OutputFormat,
  SourceMapMode,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import {
  type ConfigHubFluxOciBridgeProps,
  MAX_RETENTION,
  type ResolvedBridgeProps,
  resolveBridgeProps,
} from './props.js';

export type { ConfigHubFluxOciBridgeProps } from './props.js';

/** The repository root: entries, lock file and tsconfig are found from it. */
const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** The Lambda entry points the construct bundles. */
export const FUNCTION_ENTRIES = {
  webhook: path.join(PROJECT_ROOT, 'functions', 'webhook', 'index.ts'),
  push: path.join(PROJECT_ROOT, 'functions', 'push', 'index.ts'),
} as const;

/**
 * Largest message either queue takes: SQS's ceiling. The webhook keeps an
 * event within 256 KiB (its MAX_MESSAGE_BYTES default), which leaves room
 * for the failure attributes the push function adds when it moves a
 * message to the DLQ, and for moving it back on replay.
 */
const MAX_MESSAGE_BYTES = 1_048_576;

/** ECR actions behind pushing, reading back, describing and deleting. */
export const ECR_REPOSITORY_ACTIONS = [
  'ecr:BatchCheckLayerAvailability',
  'ecr:BatchDeleteImage',
  'ecr:BatchGetImage',
  'ecr:CompleteLayerUpload',
  'ecr:DescribeImages',
  'ecr:DescribeRepositories',
  'ecr:GetDownloadUrlForLayer',
  'ecr:InitiateLayerUpload',
  'ecr:PutImage',
  'ecr:UploadLayerPart',
] as const;

/** ECR Public actions behind pushing, describing and deleting. */
export const ECR_PUBLIC_REPOSITORY_ACTIONS = [
  'ecr-public:BatchCheckLayerAvailability',
  'ecr-public:BatchDeleteImage',
  'ecr-public:CompleteLayerUpload',
  'ecr-public:DescribeImages',
  'ecr-public:DescribeRepositories',
  'ecr-public:InitiateLayerUpload',
  'ecr-public:PutImage',
  'ecr-public:UploadLayerPart',
] as const;

/**
 * ESM bundles meet CommonJS dependencies that `require` Node built-ins;
 * esbuild's shim throws "Dynamic require of … is not supported" unless a
 * real `require` is in scope, so the bundle makes one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __bridgeCreateRequire } from 'node:module'; const require = __bridgeCreateRequire(import.meta.url);";

interface FunctionSpec {
  entry: string;
  description: string;
  serviceName: string;
  memorySize: number;
  timeout: Duration;
  reservedConcurrency: number | undefined;
  environment: Record<string, string>;
}

/**
 * Publishes ConfigHub units as Flux OCI artifacts: ConfigHub posts bridge
 * worker events to `webhookUrl`, the webhook verifies and queues them in
 * order per unit, the push function writes them to the registry and reports
 * back, and failures land in the dead-letter queue for replay.
 */
export class ConfigHubFluxOciBridge extends Construct {
  /** The settings in force, defaults applied. */
  readonly settings: ResolvedBridgeProps;
  readonly httpApi: HttpApi;
  /** `https://<api>.execute-api.<region>.amazonaws.com/webhook`. */
  readonly webhookUrl: string;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly webhookFunction: NodejsFunction;
  readonly pushFunction: NodejsFunction;
  /** HMAC key ConfigHub-side senders sign webhook bodies with. */
  readonly signingSecret: Secret;
  /** ConfigHub worker secret (bearer token for result reports); fill in. */
  readonly workerSecret: Secret;
  /** Worker-wide registry credentials (`AUTH_METHOD=secret`); fill in. */
  readonly defaultRegistrySecret: Secret;
  readonly alarmTopic: Topic;
  readonly alarms: readonly Alarm[];

  constructor(
    scope: Construct,
    id: string,
    props: ConfigHubFluxOciBridgeProps = {},
  ) {
    super(scope, id);
    const settings = resolveBridgeProps(props);
    this.settings = settings;

    this.signingSecret = new Secret(this, 'SigningSecret', {
      description:
        'HMAC-SHA256 key for webhook signatures. Generated; rotate by putting a new version (the previous one stays valid).',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    this.workerSecret = new Secret(this, 'WorkerSecret', {
      description:
        'ConfigHub bridge worker secret used to report results. Fill in with aws secretsmanager put-secret-value.',
    });
    this.defaultRegistrySecret = new Secret(this, 'DefaultRegistrySecret', {
      description:
        'Default registry credentials (.dockerconfigjson). Fill in with aws secretsmanager put-secret-value.',
      // A placeholder, not a credential: an empty docker config, so the push
      // function finds "no entry for this registry" until it is filled in.
      secretStringValue: SecretValue.unsafePlainText('{"auths":{}}'),
    });
    for (const secret of [
      this.signingSecret,
      this.workerSecret,
      this.defaultRegistrySecret,
    ]) {
      NagSuppressions.addResourceSuppressions(secret, [
        {
          id: 'AwsSolutions-SMG4',
          reason:
            'Values come from outside AWS (ConfigHub, registries) or are rotated by the operator: the webhook accepts the AWSCURRENT and AWSPREVIOUS signing keys, so a new version can be put without downtime; a rotation Lambda cannot mint these credentials.',
        },
      ]);
    }

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      fifo: true,
      contentBasedDeduplication: false,
      retentionPeriod: MAX_RETENTION,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new Queue(this, 'Queue', {
      fifo: true,
      // The webhook sets QueuedOperationID as the deduplication id.
      contentBasedDeduplication: false,
      visibilityTimeout: settings.queueVisibilityTimeout,
      // Kept as long as the DLQ keeps them: a stalled consumer loses nothing.
      retentionPeriod: MAX_RETENTION,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      // SQS-managed keys: encrypted at rest without KMS grants for the
      // functions or a key to pay for.
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: settings.maxReceiveCount,
      },
    });

    this.webhookFunction = this.bridgeFunction('Webhook', settings, {
      entry: FUNCTION_ENTRIES.webhook,
      description:
        'Verifies signed ConfigHub events and queues them (ConfigHub Flux OCI bridge)',
      serviceName: 'confighub-flux-oci-webhook',
      memorySize: settings.webhookMemorySize,
      timeout: settings.webhookTimeout,
      reservedConcurrency: settings.webhookReservedConcurrency,
      environment: {
        QUEUE_URL: this.queue.queueUrl,
        SIGNING_SECRET_ID: this.signingSecret.secretArn,
      },
    });
    this.webhookFunction.addToRolePolicy(
      new PolicyStatement({
        sid: 'SendToQueue',
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
      }),
    );
    this.webhookFunction.addToRolePolicy(
      new PolicyStatement({
        sid: 'ReadSigningSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.signingSecret.secretArn],
      }),
    );

    this.pushFunction = this.bridgeFunction('Push', settings, {
      entry: FUNCTION_ENTRIES.push,
      description:
        'Pushes queued ConfigHub units to OCI registries as Flux artifacts (ConfigHub Flux OCI bridge)',
      serviceName: 'confighub-flux-oci-push',
      memorySize: settings.pushMemorySize,
      timeout: settings.pushTimeout,
      reservedConcurrency: settings.pushReservedConcurrency,
      environment: this.pushEnvironment(settings),
    });
    this.pushFunction.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: settings.pushBatchSize,
        reportBatchItemFailures: true,
        maxConcurrency: settings.pushMaxConcurrency,
      }),
    );
    for (const statement of this.pushStatements(settings)) {
      this.pushFunction.addToRolePolicy(statement);
    }
    this.suppressPushWildcards(settings);

    const api = this.webhookApi(settings);
    this.httpApi = api.httpApi;
    this.webhookUrl = api.webhookUrl;

    const alarming = this.alarming(settings);
    this.alarmTopic = alarming.topic;
    this.alarms = alarming.alarms;
  }

  /** A bundled Node.js 24 arm64 function with its own role and log group. */
  private bridgeFunction(
    id: string,
    settings: ResolvedBridgeProps,
    spec: FunctionSpec,
  ): NodejsFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, {
      retention: settings.logRetention,
    });
    // An own role instead of the AWSLambdaBasicExecutionRole managed policy:
    // it may write to this function's log group and nothing else.
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ConfigHub Flux OCI bridge ${id.toLowerCase()} function`,
    });
    logGroup.grantWrite(role);

    return new NodejsFunction(this, `${id}Function`, {
      entry: spec.entry,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      description: spec.description,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      reservedConcurrentExecutions: spec.reservedConcurrency,
      role,
      logGroup,
      environment: {
        ...spec.environment,
        POWERTOOLS_SERVICE_NAME: spec.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: settings.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // Local esbuild from devDependencies; never a Docker build.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // Stack traces need line mappings, not a copy of every source file.
        sourcesContent: false,
        // The runtime ships an AWS SDK v3, but of its own version, and
        // loading it means resolving whole packages from /var/runtime.
        // Bundling the three clients we use pins the versions the tests ran
        // against and lets esbuild drop what the handlers never call.
        bundleAwsSDK: true,
        externalModules: [],
        tsconfig: path.join(PROJECT_ROOT, 'tsconfig.json'),
      },
    });
  }

  private pushEnvironment(
    settings: ResolvedBridgeProps,
  ): Record<string, string> {
    const environment: Record<string, string> = {
      DLQ_URL: this.deadLetterQueue.queueUrl,
      MAX_RECEIVE_COUNT: String(settings.maxReceiveCount),
      AUTH_METHOD: settings.authMethod,
      REGISTRY_SECRET_PREFIX: settings.registrySecretPrefix,
      ECR_CREATE_REPOSITORIES: String(settings.ecrCreateRepositories),
    };
    if (settings.authMethod === 'secret') {
      environment.DEFAULT_REGISTRY_SECRET_ID =
        this.defaultRegistrySecret.secretArn;
    }
    if (
      settings.confighubUrl !== undefined &&
      settings.workerId !== undefined
    ) {
      environment.CONFIGHUB_URL = settings.confighubUrl;
      environment.CONFIGHUB_WORKER_ID = settings.workerId;
      environment.CONFIGHUB_WORKER_SECRET_ID = this.workerSecret.secretArn;
    }
    return environment;
  }

  /** The push function's rights beyond its queue and log group. */
  private pushStatements(settings: ResolvedBridgeProps): PolicyStatement[] {
    const stack = Stack.of(this);
    const secretArns: string[] = [
      stack.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${settings.registrySecretPrefix}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
    if (settings.authMethod === 'secret') {
      secretArns.push(this.defaultRegistrySecret.secretArn);
    }
    if (settings.confighubUrl !== undefined) {
      secretArns.push(this.workerSecret.secretArn);
    }

    const statements = [
      new PolicyStatement({
        // Permanent failures go straight to the DLQ, with their reason.
        sid: 'SendToDeadLetterQueue',
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
      new PolicyStatement({
        sid: 'ReadSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: secretArns,
      }),
    ];
    statements.push(...this.ecrStatements(settings));
    statements.push(...this.ecrPublicStatements(settings));
    return statements;
  }

  private ecrStatements(settings: ResolvedBridgeProps): PolicyStatement[] {
    if (settings.ecrRepositoryPrefixes.length === 0) {
      return [];
    }
    const stack = Stack.of(this);
    const repositories = settings.ecrRepositoryPrefixes.map((prefix) =>
      stack.formatArn({
        service: 'ecr',
        resource: 'repository',
        resourceName: `${prefix}/*`,
      }),
    );
    const statements = [
      new PolicyStatement({
        // GetAuthorizationToken has no resource type: it is account-wide.
        sid: 'EcrAuthorizationToken',
        actions: ['ecr:GetAuthorizationToken'],
        resources: ['*'],
      }),
      new PolicyStatement({
        sid: 'EcrRepositories',
        actions: [...ECR_REPOSITORY_ACTIONS],
        resources: repositories,
      }),
    ];
    if (settings.ecrCreateRepositories) {
      statements.push(
        new PolicyStatement({
          sid: 'EcrCreateRepositories',
          actions: ['ecr:CreateRepository'],
          resources: repositories,
        }),
      );
    }
    return statements;
  }

  private ecrPublicStatements(
    settings: ResolvedBridgeProps,
  ): PolicyStatement[] {
    if (settings.ecrPublicRepositoryPrefixes.length === 0) {
      return [];
    }
    const stack = Stack.of(this);
    // ECR Public repositories have no region in their ARN.
    const repositories = settings.ecrPublicRepositoryPrefixes.map((prefix) =>
      stack.formatArn({
        service: 'ecr-public',
        region: '',
        resource: 'repository',
        resourceName: `${prefix}/*`,
      }),
    );
    const statements = [
      new PolicyStatement({
        // No resource type: account-wide by nature.
        sid: 'EcrPublicAuthorizationToken',
        actions: ['ecr-public:GetAuthorizationToken'],
        resources: ['*'],
      }),
      new PolicyStatement({
        // No resource type either; the condition limits the bearer token
        // to ECR Public.
        sid: 'EcrPublicBearerToken',
        actions: ['sts:GetServiceBearerToken'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'sts:AWSServiceName': 'ecr-public.amazonaws.com' },
        },
      }),
      new PolicyStatement({
        sid: 'EcrPublicRepositories',
        actions: [...ECR_PUBLIC_REPOSITORY_ACTIONS],
        resources: repositories,
      }),
    ];
    if (settings.ecrCreateRepositories) {
      statements.push(
        new PolicyStatement({
          sid: 'EcrPublicCreateRepositories',
          actions: ['ecr-public:CreateRepository'],
          resources: repositories,
        }),
      );
    }
    return statements;
  }

  private suppressPushWildcards(settings: ResolvedBridgeProps): void {
    const role = this.pushFunction.role;
    if (role === undefined) {
      return;
    }
    const escape = (text: string) =>
      text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    // cdk-nag prints unresolved parts as <AWS::Partition>, <AWS::Region>,
    // <AWS::AccountId>; a stack with a fixed env has literals there.
    const part = '(?:<AWS::\\w+>|[^:<>]+)';
    const arn = (service: string, rest: string) =>
      `/^Resource::arn:${part}:${service}:${part}:${part}:${rest}$/`;
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Registry credentials are secrets the operator creates per registry after deployment; access is limited to names under the configured registrySecretPrefix, which ends in "/".',
          appliesTo: [
            {
              regex: arn(
                'secretsmanager',
                `secret:${escape(settings.registrySecretPrefix)}\\*`,
              ),
            },
          ],
        },
        ...(settings.ecrRepositoryPrefixes.length === 0 &&
        settings.ecrPublicRepositoryPrefixes.length === 0
          ? []
          : [
              {
                id: 'AwsSolutions-IAM5',
                reason:
                  'ecr:GetAuthorizationToken, ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken have no resource type; IAM only accepts "*" for them (the bearer token is conditioned on sts:AWSServiceName = ecr-public.amazonaws.com).',
                appliesTo: ['Resource::*'],
              },
            ]),
        ...(settings.ecrRepositoryPrefixes.length === 0
          ? []
          : [
              {
                id: 'AwsSolutions-IAM5',
                reason:
                  'One repository per ConfigHub unit is created on demand, so repositories are granted by the configured name prefix (ecrRepositoryPrefixes), never account-wide.',
                appliesTo: settings.ecrRepositoryPrefixes.map((prefix) => ({
                  regex: arn('ecr', `repository\\/${escape(prefix)}\\/\\*`),
                })),
              },
            ]),
        ...(settings.ecrPublicRepositoryPrefixes.length === 0
          ? []
          : [
              {
                id: 'AwsSolutions-IAM5',
                reason:
                  'One ECR Public repository per ConfigHub unit is created on demand, so repositories are granted by the configured name prefix (ecrPublicRepositoryPrefixes), never account-wide.',
                appliesTo: settings.ecrPublicRepositoryPrefixes.map(
                  (prefix) => ({
                    // ECR Public ARNs have an empty region.
                    regex: `/^Resource::arn:${part}:ecr-public::${part}:repository\\/${escape(prefix)}\\/\\*$/`,
                  }),
                ),
              },
            ]),
      ],
      true,
    );
  }

  private webhookApi(settings: ResolvedBridgeProps): {
    httpApi: HttpApi;
    webhookUrl: string;
  } {
    const httpApi = new HttpApi(this, 'Api', {
      description: 'ConfigHub Flux OCI bridge webhook',
      createDefaultStage: false,
    });
    const routes = httpApi.addRoutes({
      path: '/webhook',
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration(
        'WebhookIntegration',
        this.webhookFunction,
      ),
    });
    for (const route of routes) {
      NagSuppressions.addResourceSuppressions(
        route,
        [
          {
            id: 'AwsSolutions-APIG4',
            reason:
              'ConfigHub cannot sign requests with IAM or present a JWT; the webhook function authenticates every request by its HMAC-SHA256 signature (Secrets Manager key, timestamp tolerance, constant-time compare) before any work.',
          },
        ],
        true,
      );
    }

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: settings.logRetention,
    });
    const stage = new HttpStage(this, 'DefaultStage', {
      httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: {
        rateLimit: settings.throttlingRateLimit,
        burstLimit: settings.throttlingBurstLimit,
      },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // No headers: the signature header must not reach the logs.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            httpMethod: '$context.httpMethod',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            integrationStatus: '$context.integrationStatus',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    return { httpApi, webhookUrl: `${stage.url}webhook` };
  }

  private alarming(settings: ResolvedBridgeProps): {
    topic: Topic;
    alarms: Alarm[];
  } {
    const key = new Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the ConfigHub Flux OCI bridge alarm topic',
      enableKeyRotation: true,
    });
    // CloudWatch publishes alarm notifications through the topic's key.
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: 'ConfigHub Flux OCI bridge alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (settings.alarmEmail !== undefined) {
      topic.addSubscription(new EmailSubscription(settings.alarmEmail));
    }

    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    const specs: {
      id: string;
      metric: Metric;
      threshold: number;
      description: string;
    }[] = [
      {
        id: 'DeadLetterQueueMessages',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: oneMinute,
          statistic: 'Maximum',
        }),
        threshold: 0,
        description:
          'Events are in the dead-letter queue. Inspect with `npm run dlq -- list`, fix the cause, then `npm run dlq -- replay`.',
      },
      {
        id: 'OldestMessageAge',
        metric: this.queue.metricApproximateAgeOfOldestMessage({
          period: oneMinute,
          statistic: 'Maximum',
        }),
        threshold: settings.oldestMessageAgeAlarmThreshold.toSeconds(),
        description: `An event has waited in the queue for more than ${settings.oldestMessageAgeAlarmThreshold.toSeconds()} seconds: the push function is failing, throttled or behind. Check its logs and errors.`,
      },
      {
        id: 'PushErrors',
        metric: this.pushFunction.metricErrors({
          period: fiveMinutes,
          statistic: 'Sum',
        }),
        threshold: 0,
        description:
          'The push function failed as a whole (crash or timeout), not one event: the batch is retried. Check its logs.',
      },
      {
        id: 'PushThrottles',
        metric: this.pushFunction.metricThrottles({
          period: fiveMinutes,
          statistic: 'Sum',
        }),
        threshold: 0,
        description:
          'The push function was throttled: raise pushReservedConcurrency or the account concurrency, or lower pushMaxConcurrency.',
      },
      {
        id: 'WebhookErrors',
        metric: this.webhookFunction.metricErrors({
          period: fiveMinutes,
          statistic: 'Sum',
        }),
        threshold: 0,
        description:
          'The webhook function failed (crash or timeout); ConfigHub got a 5xx and retries. Check its logs.',
      },
      {
        id: 'ApiServerErrors',
        metric: this.httpApi.metricServerError({
          period: fiveMinutes,
          statistic: 'Sum',
        }),
        threshold: 0,
        description:
          'The webhook API answered 5xx (queue unreachable, function error or throttling). Check the API access logs and the webhook logs.',
      },
    ];

    const action = new SnsAction(topic);
    const alarms = specs.map(({ id, metric, threshold, description }) => {
      const alarm = new Alarm(this, `${id}Alarm`, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      return alarm;
    });
    return { topic, alarms };
  }
}
