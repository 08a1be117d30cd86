/**
 * Reads the bridge's settings from CDK context (`cdk.json` or
 * `cdk deploy -c key=value`). Values from `-c` arrive as strings, values
 * from `cdk.json` as JSON; both are accepted and converted here, and the
 * construct checks the ranges.
 */
import { Duration } from 'aws-cdk-lib';
import { BridgeConfigError } from './errors.js';
import type {
  ConfigHubFluxOciBridgeProps,
  LambdaAuthMethod,
  LogLevel,
} from './props.js';

/** Reads one context value; `app.node.tryGetContext` fits. */
export type ContextReader = (key: string) => unknown;

/** The context keys the app reads, with what each sets. */
export const CONTEXT_KEYS = {
  stackName: 'stack name (default ConfigHubFluxOciBridge)',
  account: 'AWS account id (default: environment-agnostic)',
  region: 'AWS region (default: environment-agnostic)',
  ecrRepositoryPrefixes: 'ECR repository prefixes, comma-separated or a list',
  ecrPublicRepositoryPrefixes: 'ECR Public repository prefixes, likewise',
  ecrCreateRepositories: 'true or false',
  registrySecretPrefix: 'name prefix of registry secrets',
  authMethod: 'secret or anonymous',
  confighubUrl: 'ConfigHub base URL',
  workerId: 'ConfigHub bridge worker id',
  maxReceiveCount: 'receives before the DLQ',
  pushTimeoutSeconds: 'push function timeout',
  queueVisibilityTimeoutSeconds: 'queue visibility timeout',
  pushBatchSize: 'messages per push invocation',
  pushMaxConcurrency: 'event source maximum concurrency',
  pushReservedConcurrency: 'push function reserved concurrency',
  webhookReservedConcurrency: 'webhook function reserved concurrency',
  pushMemorySize: 'push function memory (MB)',
  webhookMemorySize: 'webhook function memory (MB)',
  webhookTimeoutSeconds: 'webhook function timeout',
  throttlingRateLimit: 'API requests per second',
  throttlingBurstLimit: 'API burst',
  logRetentionDays: 'log retention in days',
  logLevel: 'DEBUG, INFO, WARN or ERROR',
  metricsNamespace: 'CloudWatch namespace of the metrics',
  alarmEmail: 'email subscribed to alarms',
  oldestMessageAgeAlarmSeconds: 'oldest-message alarm threshold',
} as const;
export type ContextKey = keyof typeof CONTEXT_KEYS;

function invalid(key: string, value: unknown, rule: string): never {
  throw new BridgeConfigError(
    'INVALID_CONTEXT',
    key,
    `context ${key} is ${JSON.stringify(value)}; ${rule}. Fix: pass -c ${key}=<value> or set "${key}" in cdk.json "context".`,
  );
}

function text(read: ContextReader, key: ContextKey): string | undefined {
  const value = read(key);
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string') {
    invalid(key, value, 'expected a string');
  }
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(read: ContextReader, key: ContextKey): number | undefined {
  const value = read(key);
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^-?\d+$/.test(value.trim())
        ? Number(value.trim())
        : Number.NaN;
  if (!Number.isSafeInteger(number)) {
    invalid(key, value, 'expected a whole number');
  }
  return number;
}

function boolean(read: ContextReader, key: ContextKey): boolean | undefined {
  const value = read(key);
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (value === true || value === 'true') {
    return true;
  }
  if (value === false || value === 'false') {
    return false;
  }
  return invalid(key, value, 'expected true or false');
}

function list(read: ContextReader, key: ContextKey): string[] | undefined {
  const value = read(key);
  if (value === undefined || value === null) {
    return undefined;
  }
  const items = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(',')
      : invalid(key, value, 'expected a comma-separated string or a list');
  return items
    .map((item: unknown) => {
      if (typeof item !== 'string') {
        return invalid(key, value, 'expected strings only');
      }
      return item.trim();
    })
    .filter((item) => item !== '');
}

function seconds(read: ContextReader, key: ContextKey): Duration | undefined {
  const value = integer(read, key);
  return value === undefined ? undefined : Duration.seconds(value);
}

/** Where and under what name the app deploys. */
export interface StackSettings {
  stackName: string;
  env: { account?: string; region?: string } | undefined;
}

/** Reads the stack name and the optional fixed account and region. */
export function stackSettingsFromContext(read: ContextReader): StackSettings {
  const account = text(read, 'account');
  const region = text(read, 'region');
  if (account !== undefined && !/^\d{12}$/.test(account)) {
    invalid('account', account, 'expected a 12-digit AWS account id');
  }
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    invalid('region', region, 'expected a region such as eu-west-1');
  }
  const stackName = text(read, 'stackName') ?? 'ConfigHubFluxOciBridge';
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    invalid(
      'stackName',
      stackName,
      'expected a CloudFormation stack name (letters, digits, dashes; starting with a letter)',
    );
  }
  return {
    stackName,
    env:
      account === undefined && region === undefined
        ? undefined
        : { account, region },
  };
}

/** Reads every bridge setting present in context; absent ones keep defaults. */
export function bridgePropsFromContext(
  read: ContextReader,
): ConfigHubFluxOciBridgeProps {
  // Absent keys stay undefined, which the construct reads as its default;
  // strings are narrowed by cast here and checked by the construct.
  return {
    ecrRepositoryPrefixes: list(read, 'ecrRepositoryPrefixes'),
    ecrPublicRepositoryPrefixes: list(read, 'ecrPublicRepositoryPrefixes'),
    ecrCreateRepositories: boolean(read, 'ecrCreateRepositories'),
    registrySecretPrefix: text(read, 'registrySecretPrefix'),
    authMethod: text(read, 'authMethod') as LambdaAuthMethod | undefined,
    confighubUrl: text(read, 'confighubUrl'),
    workerId: text(read, 'workerId'),
    maxReceiveCount: integer(read, 'maxReceiveCount'),
    pushTimeout: seconds(read, 'pushTimeoutSeconds'),
    queueVisibilityTimeout: seconds(read, 'queueVisibilityTimeoutSeconds'),
    pushBatchSize: integer(read, 'pushBatchSize'),
    pushMaxConcurrency: integer(read, 'pushMaxConcurrency'),
    pushReservedConcurrency: integer(read, 'pushReservedConcurrency'),
    webhookReservedConcurrency: integer(read, 'webhookReservedConcurrency'),
    pushMemorySize: integer(read, 'pushMemorySize'),
    webhookMemorySize: integer(read, 'webhookMemorySize'),
    webhookTimeout: seconds(read, 'webhookTimeoutSeconds'),
    throttlingRateLimit: integer(read, 'throttlingRateLimit'),
    throttlingBurstLimit: integer(read, 'throttlingBurstLimit'),
    logRetention: integer(read, 'logRetentionDays'),
    logLevel: text(read, 'logLevel')?.toUpperCase() as LogLevel | undefined,
    metricsNamespace: text(read, 'metricsNamespace'),
    alarmEmail: text(read, 'alarmEmail'),
    oldestMessageAgeAlarmThreshold: seconds(
      read,
      'oldestMessageAgeAlarmSeconds',
    ),
  };
}
