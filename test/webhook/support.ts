/**
 * Helpers for the webhook tests: fixtures, signed API Gateway events, an
 * in-memory secret source and a handler wired to the embedded queue.
 */
import { readdirSync, readFileSync } from 'node:fs';

import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

import {
  createWebhookHandler,
  type WebhookDeps,
  type WebhookHandler,
} from '../../functions/webhook/handler.js';
import { silentLog } from '../../shared/log.js';
import {
  SecretSourceError,
  type SecretSource,
  type SecretStage,
} from '../../shared/secrets/source.js';
import { signBody } from '../../shared/signing/signature.js';

export const FIXTURES = new URL('../fixtures/events/', import.meta.url);
export const SECRET_ID = 'confighub-flux-oci/webhook-signing';
export const CURRENT_SECRET = 'current-signing-secret-for-tests';
export const PREVIOUS_SECRET = 'previous-signing-secret-for-tests';
/** The tests' clock: 2025-12-03T18:00:00Z. */
export const NOW = new Date('2025-12-03T18:00:00Z');

export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

/** Names of the good fixtures (top level) or of `bad/`. */
export function fixtureNames(folder: '' | 'bad/' = ''): string[] {
  return readdirSync(new URL(folder, FIXTURES), { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => `${folder}${entry.name}`)
    .sort();
}

/** A secret source holding one secret with the given versions. */
export function memorySecrets(
  versions: Partial<Record<SecretStage, string>>,
): SecretSource & { calls: { stage: SecretStage; forceFetch: boolean }[] } {
  const calls: { stage: SecretStage; forceFetch: boolean }[] = [];
  return {
    calls,
    get(id, options = {}) {
      const stage = options.stage ?? 'AWSCURRENT';
      calls.push({ stage, forceFetch: options.forceFetch === true });
      const text = id === SECRET_ID ? versions[stage] : undefined;
      if (text === undefined) {
        return Promise.reject(
          new SecretSourceError('NOT_FOUND', id, `no ${stage} version`),
        );
      }
      return Promise.resolve({ text });
    },
  };
}

export interface RequestOptions {
  method?: string;
  path?: string;
  contentType?: string | null;
  /** The signature header; by default the body signed with the current secret at NOW. */
  signature?: string | null;
  secret?: string;
  signedAt?: Date;
  base64?: boolean;
}

/** An HTTP API (2.0) event as API Gateway builds it. */
export function request(
  body: string | Buffer,
  options: RequestOptions = {},
): APIGatewayProxyEventV2 {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers: Record<string, string> = {};
  if (options.contentType !== null) {
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  const signature =
    options.signature === undefined
      ? signBody(
          options.secret ?? CURRENT_SECRET,
          bytes,
          options.signedAt ?? NOW,
        )
      : options.signature;
  if (signature !== null) headers['x-confighub-signature'] = signature;
  const method = options.method ?? 'POST';
  const path = options.path ?? '/webhook';
  const base64 = options.base64 ?? typeof body !== 'string';

  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'test',
      domainName: 'test.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'test',
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: 'request-1',
      routeKey: '$default',
      stage: '$default',
      time: NOW.toUTCString(),
      timeEpoch: NOW.getTime(),
    },
    body: base64 ? bytes.toString('base64') : bytes.toString('utf8'),
    isBase64Encoded: base64,
  };
}

/** A handler on `queueUrl` with both secret versions and the fixed clock. */
export function webhook(
  sqs: SQSClient,
  queueUrl: string,
  overrides: Partial<WebhookDeps> = {},
): WebhookHandler {
  return createWebhookHandler({
    sqs,
    queueUrl,
    secrets: memorySecrets({
      AWSCURRENT: CURRENT_SECRET,
      AWSPREVIOUS: PREVIOUS_SECRET,
    }),
    signingSecretId: SECRET_ID,
    log: silentLog,
    now: () => NOW,
    ...overrides,
  });
}

/** An SQS client for a port where nothing listens, failing fast. */
export function unreachableSqs(port: number): SQSClient {
  return new SQSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

export function parseBody(body: string | undefined): Record<string, unknown> {
  return JSON.parse(body ?? '') as Record<string, unknown>;
}
