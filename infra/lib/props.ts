/**
 * The settings of the bridge construct: every prop with its default, and
 * the checks that turn a setting that cannot work into an error at synth
 * time, naming the value, the allowed range and the fix.
 */
import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BridgeConfigError } from './errors.js';

/** How the push function authenticates when no ECR or target secret applies. */
export const LAMBDA_AUTH_METHODS = ['secret', 'anonymous'] as const;
export type LambdaAuthMethod = (typeof LAMBDA_AUTH_METHODS)[number];

/** Log levels Powertools Logger accepts through `POWERTOOLS_LOG_LEVEL`. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The default name prefix for registry secrets (the functions' own default). */
export const DEFAULT_REGISTRY_SECRET_PREFIX = 'confighub-flux-oci/registry/';

/** Settings of {@link ConfigHubFluxOciBridge}; every one is optional. */
export interface ConfigHubFluxOciBridgeProps {
  /**
   * ECR repository name prefixes, in this stack's account and region, that
   * the push function may push to, read, delete from and create under:
   * `confighub` grants `repository/confighub/*`. A target such as
   * `<account>.dkr.ecr.<region>.amazonaws.com/confighub` then works.
   *
   * @default [] - no ECR access at all; registries other than ECR only
   */
  readonly ecrRepositoryPrefixes?: readonly string[];

  /**
   * ECR Public repository name prefixes (the part after
   * `public.ecr.aws/<alias>/`) that the push function may push to and create
   * under: `confighub` grants `repository/confighub/*` in this account's
   * ECR Public registry.
   *
   * @default [] - no ECR Public access
   */
  readonly ecrPublicRepositoryPrefixes?: readonly string[];

  /**
   * Create a missing ECR repository under a prefix on first push (mutable
   * tags, because the extra `Tag` moves). Sets `ECR_CREATE_REPOSITORIES`.
   *
   * @default true
   */
  readonly ecrCreateRepositories?: boolean;

  /**
   * Name prefix of the Secrets Manager secrets holding registry credentials
   * that targets may name. The push function may read every secret whose
   * name starts with it, and no other registry secret. Sets
   * `REGISTRY_SECRET_PREFIX`.
   *
   * @default 'confighub-flux-oci/registry/'
   */
  readonly registrySecretPrefix?: string;

  /**
   * The worker-wide default credential source (`AUTH_METHOD`): `secret`
   * reads the stack's default registry secret, `anonymous` uses none.
   * (`docker-config` needs a file on disk and is for the local runner only.)
   *
   * @default 'secret'
   */
  readonly authMethod?: LambdaAuthMethod;

  /**
   * ConfigHub's base URL (https). When set, together with `workerId`, the
   * push function reports each ActionResult to ConfigHub; otherwise it logs
   * results. Sets `CONFIGHUB_URL`.
   *
   * @default - no reporting to ConfigHub
   */
  readonly confighubUrl?: string;

  /**
   * The bridge worker id results are reported under. Required with
   * `confighubUrl`. Sets `CONFIGHUB_WORKER_ID`.
   *
   * @default - none
   */
  readonly workerId?: string;

  /**
   * Receives of one message before SQS moves it to the DLQ; the push function
   * gets the same number (`MAX_RECEIVE_COUNT`) to recognise its last try.
   *
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * The push function's timeout: one batch of up to `pushBatchSize` events.
   *
   * @default Duration.minutes(1)
   */
  readonly pushTimeout?: Duration;

  /**
   * The queue's visibility timeout. AWS asks for at least six times the
   * function timeout so retried invocations never overlap a running one.
   *
   * @default 6 x pushTimeout
   */
  readonly queueVisibilityTimeout?: Duration;

  /**
   * Messages per push invocation (FIFO event sources take at most 10).
   *
   * @default 10
   */
  readonly pushBatchSize?: number;

  /**
   * Most concurrent push invocations the event source starts. Bounds the
   * load on registries when many units change at once.
   *
   * @default 10
   */
  readonly pushMaxConcurrency?: number;

  /**
   * Reserved concurrency of the push function. Leave unset unless the
   * account has spare concurrency: reserving takes it from every other
   * function. Must be at least `pushMaxConcurrency` when set.
   *
   * @default - unreserved
   */
  readonly pushReservedConcurrency?: number;

  /**
   * Reserved concurrency of the webhook function: a cap on the cost of a
   * flood of (rejected) requests.
   *
   * @default - unreserved
   */
  readonly webhookReservedConcurrency?: number;

  /** @default 512 */
  readonly pushMemorySize?: number;

  /** @default 256 */
  readonly webhookMemorySize?: number;

  /**
   * The webhook function's timeout; API Gateway gives up after 30 seconds.
   *
   * @default Duration.seconds(10)
   */
  readonly webhookTimeout?: Duration;

  /**
   * Steady-state requests per second the HTTP API accepts (stage default
   * route throttling).
   *
   * @default 50
   */
  readonly throttlingRateLimit?: number;

  /**
   * Burst of requests the HTTP API accepts above the steady rate.
   *
   * @default 100
   */
  readonly throttlingBurstLimit?: number;

  /**
   * Retention of the functions' and the API's log groups.
   *
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;

  /**
   * `POWERTOOLS_LOG_LEVEL` of both functions.
   *
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * CloudWatch namespace of the push metrics (`POWERTOOLS_METRICS_NAMESPACE`).
   *
   * @default 'ConfigHubFluxOci'
   */
  readonly metricsNamespace?: string;

  /**
   * An email address subscribed to the alarm topic (it must confirm the
   * subscription).
   *
   * @default - no subscription; subscribe to the `AlarmTopicArn` output
   */
  readonly alarmEmail?: string;

  /**
   * Alarm when the oldest message in the queue is older than this: events
   * are waiting or a unit is stuck on a failing message.
   *
   * @default Duration.minutes(15)
   */
  readonly oldestMessageAgeAlarmThreshold?: Duration;
}

/** Every setting with its default applied, checked. */
export interface ResolvedBridgeProps {
  ecrRepositoryPrefixes: readonly string[];
  ecrPublicRepositoryPrefixes: readonly string[];
  ecrCreateRepositories: boolean;
  registrySecretPrefix: string;
  authMethod: LambdaAuthMethod;
  confighubUrl: string | undefined;
  workerId: string | undefined;
  maxReceiveCount: number;
  pushTimeout: Duration;
  queueVisibilityTimeout: Duration;
  pushBatchSize: number;
  pushMaxConcurrency: number;
  pushReservedConcurrency: number | undefined;
  webhookReservedConcurrency: number | undefined;
  pushMemorySize: number;
  webhookMemorySize: number;
  webhookTimeout: Duration;
  throttlingRateLimit: number;
  throttlingBurstLimit: number;
  logRetention: RetentionDays;
  logLevel: LogLevel;
  metricsNamespace: string;
  alarmEmail: string | undefined;
  oldestMessageAgeAlarmThreshold: Duration;
}

/** SQS keeps a message at most 14 days (the DLQ and the queue use it). */
export const MAX_RETENTION = Duration.days(14);
/** SQS caps a visibility timeout at 12 hours. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
/** AWS's guidance for SQS event sources: visibility ≥ 6 x function timeout. */
export const VISIBILITY_FACTOR = 6;

/**
 * An ECR repository name prefix: path components of lowercase alphanumerics
 * joined by `.`, `_` or `-`, separated by `/` (ECR's repositoryName rule).
 */
const ECR_PREFIX =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
/** A registry host pasted where only the repository path belongs. */
const REGISTRY_HOST_COMPONENT =
  /^[^/]*\.(?:amazonaws\.com(?:\.cn)?|ecr\.aws)(?:\/|$)/;
/** Characters Secrets Manager allows in a secret name. */
const SECRET_NAME_CHARS = /^[A-Za-z0-9/_+=.@-]+$/;
/** A worker id goes into a URL path: keep it to unreserved characters. */
const WORKER_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** A CloudWatch namespace: printable ASCII without a leading colon. */
const METRICS_NAMESPACE = /^[A-Za-z0-9._/#:-]{1,255}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function fail(setting: string, message: string): never {
  throw new BridgeConfigError(
    'INVALID_PROP',
    setting,
    `ConfigHubFluxOciBridge: ${message}`,
  );
}

function integerIn(
  setting: string,
  value: number,
  min: number,
  max: number,
  why: string,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(
      setting,
      `${setting} is ${value}; allowed: an integer from ${min} to ${max} (${why}). Fix: set ${setting} within that range.`,
    );
  }
  return value;
}

function secondsIn(
  setting: string,
  value: Duration,
  min: number,
  max: number,
  why: string,
): Duration {
  const seconds = value.toSeconds();
  if (seconds < min || seconds > max) {
    fail(
      setting,
      `${setting} is ${seconds} seconds; allowed: ${min} to ${max} seconds (${why}). Fix: set ${setting} within that range.`,
    );
  }
  return value;
}

function checkPrefixes(
  setting: 'ecrRepositoryPrefixes' | 'ecrPublicRepositoryPrefixes',
  prefixes: readonly string[],
): readonly string[] {
  const seen = new Set<string>();
  for (const prefix of prefixes) {
    if (
      !ECR_PREFIX.test(prefix) ||
      prefix.length > 200 ||
      REGISTRY_HOST_COMPONENT.test(prefix)
    ) {
      fail(
        setting,
        `${setting} contains ${JSON.stringify(prefix)}; allowed: an ECR repository name prefix of at most 200 characters, lowercase path components joined by "/" without wildcards, a leading or trailing "/" or a registry host (e.g. "confighub" or "platform/confighub"). Fix: write the repository path the targets use after the registry host.`,
      );
    }
    if (seen.has(prefix)) {
      fail(
        setting,
        `${setting} lists ${JSON.stringify(prefix)} twice; allowed: each prefix once. Fix: remove the duplicate.`,
      );
    }
    seen.add(prefix);
  }
  return prefixes;
}

function checkSecretPrefix(prefix: string): string {
  if (
    prefix.length < 1 ||
    prefix.length > 256 ||
    !SECRET_NAME_CHARS.test(prefix)
  ) {
    fail(
      'registrySecretPrefix',
      `registrySecretPrefix is ${JSON.stringify(prefix)}; allowed: 1 to 256 characters of a Secrets Manager name (letters, digits and /_+=.@-), no wildcards. Fix: use a name prefix such as "${DEFAULT_REGISTRY_SECRET_PREFIX}".`,
    );
  }
  if (!prefix.endsWith('/')) {
    // Without the slash, "a/registry" would also grant "a/registry-admin".
    fail(
      'registrySecretPrefix',
      `registrySecretPrefix is ${JSON.stringify(prefix)}; allowed: a prefix ending in "/", so that it cannot match unrelated secret names that merely start the same way. Fix: use ${JSON.stringify(`${prefix}/`)}.`,
    );
  }
  return prefix;
}

function checkConfighub(
  url: string | undefined,
  workerId: string | undefined,
): void {
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed?.protocol !== 'https:' || parsed.search || parsed.hash) {
      fail(
        'confighubUrl',
        `confighubUrl is ${JSON.stringify(url)}; allowed: an https:// base URL without query or fragment. Fix: use e.g. "https://hub.confighub.com".`,
      );
    }
    if (workerId === undefined) {
      fail(
        'workerId',
        `workerId is not set while confighubUrl is ${JSON.stringify(url)}; results are reported per worker. Fix: set workerId to the bridge worker's id, or leave confighubUrl unset to only log results.`,
      );
    }
  }
  if (workerId !== undefined) {
    if (!WORKER_ID.test(workerId)) {
      fail(
        'workerId',
        `workerId is ${JSON.stringify(workerId)}; allowed: 1 to 128 letters, digits, ".", "_" or "-" (it goes into the result URL path). Fix: copy the id ConfigHub shows for the worker.`,
      );
    }
    if (url === undefined) {
      fail(
        'confighubUrl',
        `confighubUrl is not set while workerId is ${JSON.stringify(workerId)}; a worker id alone reports nowhere. Fix: set confighubUrl too, or remove workerId.`,
      );
    }
  }
}

/** Applies the defaults and checks every setting; throws {@link BridgeConfigError}. */
export function resolveBridgeProps(
  props: ConfigHubFluxOciBridgeProps = {},
): ResolvedBridgeProps {
  const pushTimeout = secondsIn(
    'pushTimeout',
    props.pushTimeout ?? Duration.minutes(1),
    10,
    900,
    'Lambda allows up to 900 seconds; under 10 leaves no time for a registry round trip',
  );
  const minVisibility = pushTimeout.toSeconds() * VISIBILITY_FACTOR;
  const queueVisibilityTimeout =
    props.queueVisibilityTimeout ?? Duration.seconds(minVisibility);
  if (
    queueVisibilityTimeout.toSeconds() < minVisibility ||
    queueVisibilityTimeout.toSeconds() > MAX_VISIBILITY_SECONDS
  ) {
    fail(
      'queueVisibilityTimeout',
      `queueVisibilityTimeout is ${queueVisibilityTimeout.toSeconds()} seconds; allowed: ${minVisibility} (${VISIBILITY_FACTOR} x pushTimeout of ${pushTimeout.toSeconds()} seconds) to ${MAX_VISIBILITY_SECONDS} seconds. Fix: leave it unset to get ${VISIBILITY_FACTOR} x pushTimeout, or lower pushTimeout.`,
    );
  }

  const pushMaxConcurrency = integerIn(
    'pushMaxConcurrency',
    props.pushMaxConcurrency ?? 10,
    2,
    1000,
    'the SQS event source maximum concurrency',
  );
  const pushReservedConcurrency =
    props.pushReservedConcurrency === undefined
      ? undefined
      : integerIn(
          'pushReservedConcurrency',
          props.pushReservedConcurrency,
          pushMaxConcurrency,
          1000,
          `at least pushMaxConcurrency (${pushMaxConcurrency}), or the event source is throttled`,
        );

  const authMethod = props.authMethod ?? 'secret';
  if (!LAMBDA_AUTH_METHODS.includes(authMethod)) {
    fail(
      'authMethod',
      `authMethod is ${JSON.stringify(authMethod)}; allowed: ${LAMBDA_AUTH_METHODS.join(', ')} ("docker-config" reads a file and is for the local runner). Fix: use "secret" and fill in the default registry secret.`,
    );
  }
  const logLevel = props.logLevel ?? 'INFO';
  if (!LOG_LEVELS.includes(logLevel)) {
    fail(
      'logLevel',
      `logLevel is ${JSON.stringify(logLevel)}; allowed: ${LOG_LEVELS.join(', ')}. Fix: use one of those.`,
    );
  }
  const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
  if (!Object.values(RetentionDays).includes(logRetention)) {
    fail(
      'logRetention',
      `logRetention is ${logRetention}; allowed: a RetentionDays value (${Object.values(
        RetentionDays,
      )
        .filter((v) => typeof v === 'number')
        .join(
          ', ',
        )} days). Fix: use RetentionDays.ONE_MONTH or another member.`,
    );
  }
  const metricsNamespace = props.metricsNamespace ?? 'ConfigHubFluxOci';
  if (
    !METRICS_NAMESPACE.test(metricsNamespace) ||
    metricsNamespace.startsWith('AWS/')
  ) {
    fail(
      'metricsNamespace',
      `metricsNamespace is ${JSON.stringify(metricsNamespace)}; allowed: 1 to 255 letters, digits and . _ / # : -, not starting with "AWS/". Fix: use e.g. "ConfigHubFluxOci".`,
    );
  }
  if (props.alarmEmail !== undefined && !EMAIL.test(props.alarmEmail)) {
    fail(
      'alarmEmail',
      `alarmEmail is ${JSON.stringify(props.alarmEmail)}; allowed: one email address. Fix: give an address such as "platform-oncall@example.com", or leave it unset and subscribe to the AlarmTopicArn output.`,
    );
  }
  checkConfighub(props.confighubUrl, props.workerId);

  return {
    ecrRepositoryPrefixes: checkPrefixes(
      'ecrRepositoryPrefixes',
      props.ecrRepositoryPrefixes ?? [],
    ),
    ecrPublicRepositoryPrefixes: checkPrefixes(
      'ecrPublicRepositoryPrefixes',
      props.ecrPublicRepositoryPrefixes ?? [],
    ),
    ecrCreateRepositories: props.ecrCreateRepositories ?? true,
    registrySecretPrefix: checkSecretPrefix(
      props.registrySecretPrefix ?? DEFAULT_REGISTRY_SECRET_PREFIX,
    ),
    authMethod,
    confighubUrl: props.confighubUrl?.replace(/\/+$/, ''),
    workerId: props.workerId,
    maxReceiveCount: integerIn(
      'maxReceiveCount',
      props.maxReceiveCount ?? 5,
      1,
      1000,
      'the SQS redrive policy range',
    ),
    pushTimeout,
    queueVisibilityTimeout,
    pushBatchSize: integerIn(
      'pushBatchSize',
      props.pushBatchSize ?? 10,
      1,
      10,
      'SQS FIFO event sources deliver at most 10 messages per batch',
    ),
    pushMaxConcurrency,
    pushReservedConcurrency,
    webhookReservedConcurrency:
      props.webhookReservedConcurrency === undefined
        ? undefined
        : integerIn(
            'webhookReservedConcurrency',
            props.webhookReservedConcurrency,
            1,
            1000,
            'reserved concurrency of one function',
          ),
    pushMemorySize: integerIn(
      'pushMemorySize',
      props.pushMemorySize ?? 512,
      128,
      10240,
      'Lambda memory in MB',
    ),
    webhookMemorySize: integerIn(
      'webhookMemorySize',
      props.webhookMemorySize ?? 256,
      128,
      10240,
      'Lambda memory in MB',
    ),
    webhookTimeout: secondsIn(
      'webhookTimeout',
      props.webhookTimeout ?? Duration.seconds(10),
      1,
      29,
      'API Gateway HTTP APIs wait at most 30 seconds for the integration',
    ),
    throttlingRateLimit: integerIn(
      'throttlingRateLimit',
      props.throttlingRateLimit ?? 50,
      1,
      10000,
      'requests per second; 10000 is the default account quota',
    ),
    throttlingBurstLimit: integerIn(
      'throttlingBurstLimit',
      props.throttlingBurstLimit ?? 100,
      1,
      5000,
      'requests; 5000 is the default account burst quota',
    ),
    logRetention,
    logLevel,
    metricsNamespace,
    alarmEmail: props.alarmEmail,
    oldestMessageAgeAlarmThreshold: secondsIn(
      'oldestMessageAgeAlarmThreshold',
      props.oldestMessageAgeAlarmThreshold ?? Duration.minutes(15),
      60,
      MAX_RETENTION.toSeconds(),
      'from one minute to the 14-day queue retention',
    ),
  };
}
