/**
 * The webhook's Lambda entry: configuration and clients built once per
 * container, the handler wrapped with middy and Powertools' logger (context
 * keys reset on every invocation, so one operation's correlation id never
 * leaks into the next).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';

import { createSecretsManagerSource } from '../../shared/secrets/secrets-manager.js';
import { loadWebhookConfig } from './config.js';
import { powertoolsLog } from '../../shared/log.js';
import { createWebhookHandler } from './handler.js';

const config = loadWebhookConfig(process.env);
// Service name and level come from POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL.
const logger = new Logger();

const log = powertoolsLog(logger);

/** The Lambda handler: API Gateway HTTP API (payload format 2.0). */
export const handler = middy(
  createWebhookHandler({
    sqs: new SQSClient({}),
    queueUrl: config.queueUrl,
    secrets: createSecretsManagerSource({
      client: new SecretsManagerClient({}),
    }),
    signingSecretId: config.signingSecretId,
    toleranceSeconds: config.toleranceSeconds,
    maxBodyBytes: config.maxBodyBytes,
    maxMessageBytes: config.maxMessageBytes,
    log,
  }),
).use(injectLambdaContext(logger, { resetKeys: true }));
