/**
 * The push function's Lambda entry: real dependencies built once per
 * container from the environment, the handler wrapped with middy for
 * Powertools' Lambda context in logs and EMF metrics.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';

import {
  createConfigHubReporter,
  createLogReporter,
} from '../../shared/confighub/index.js';
import { createCredentialResolver } from '../../shared/credentials/index.js';
import { powertoolsLog } from '../../shared/log.js';
import { createRegistryClient } from '../../shared/oci/index.js';
import { createSecretsManagerSource } from '../../shared/secrets/secrets-manager.js';
import { readPushEnv } from './config.js';
import { createPushHandler } from './handler.js';

const env = readPushEnv(process.env);
const logger = new Logger();
const log = powertoolsLog(logger);
const metrics = new Metrics({ namespace: env.POWERTOOLS_METRICS_NAMESPACE });
const secrets = createSecretsManagerSource({
  client: new SecretsManagerClient({}),
});
const resolver = createCredentialResolver({
  secrets,
  config: {
    authMethod: env.AUTH_METHOD,
    defaultRegistrySecretId: env.DEFAULT_REGISTRY_SECRET_ID,
    dockerConfig: env.DOCKER_CONFIG,
    registrySecretPrefix: env.REGISTRY_SECRET_PREFIX,
    ecrCreateRepositories: env.ECR_CREATE_REPOSITORIES,
  },
  log,
});

const reporter =
  env.CONFIGHUB_URL !== undefined &&
  env.CONFIGHUB_WORKER_ID !== undefined &&
  env.CONFIGHUB_WORKER_SECRET_ID !== undefined
    ? createConfigHubReporter({
        url: env.CONFIGHUB_URL,
        workerId: env.CONFIGHUB_WORKER_ID,
        secrets,
        workerSecretId: env.CONFIGHUB_WORKER_SECRET_ID,
        log,
      })
    : createLogReporter(log);

const push = createPushHandler({
  storeFor: (_repo, target, { log }) =>
    createRegistryClient({
      credentials: resolver.providerFor(target),
      insecureRegistries: env.INSECURE_REGISTRIES,
      log,
    }),
  ensureRepository: async (repo, target) => {
    await resolver.ensureRepository(
      repo,
      target.Tag === undefined ? {} : { movingTag: target.Tag },
    );
  },
  sqs: new SQSClient({}),
  dlqUrl: env.DLQ_URL,
  maxReceiveCount: env.MAX_RECEIVE_COUNT,
  reporter,
  log,
  metrics,
  ...(env.CONFIGHUB_URL !== undefined && { confighubUrl: env.CONFIGHUB_URL }),
});

/** The Lambda handler for the SQS FIFO event source (ReportBatchItemFailures). */
export const handler = middy(push)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
