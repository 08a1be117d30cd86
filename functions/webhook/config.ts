/**
 * The webhook's configuration, read from the environment once at cold start
 * and validated by one schema, so a bad deployment fails on its first
 * invocation with a message naming the variable instead of misbehaving.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

import { DEFAULT_TOLERANCE_SECONDS } from '../../shared/signing/signature.js';
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
} from './handler.js';

// zod/mini loads no locale, so a variable that is not a string would read
// just "Invalid input". The English locale keeps classic zod's "Invalid
// input: expected string, received number"; it adds 2.7 KiB to the minified
// bundle.
z.config(en());

/** SQS's hard ceiling for one message since August 2025 (1 MiB). */
const SQS_MAX_MESSAGE_BYTES = 1_048_576;
/** API Gateway HTTP APIs refuse bodies over 10 MB. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface WebhookConfig {
  queueUrl: string;
  signingSecretId: string;
  toleranceSeconds: number;
  maxBodyBytes: number;
  maxMessageBytes: number;
}

/** A whole number from an environment variable, with a default and bounds. */
function wholeNumber(fallback: number, min: number, max: number) {
  return z.pipe(
    z.optional(z.string()),
    z.transform((value: string | undefined, ctx): number => {
      if (value === undefined || value.trim() === '') return fallback;
      const number = Number(value.trim());
      if (!Number.isSafeInteger(number) || number < min || number > max) {
        ctx.issues.push({
          code: 'custom',
          message: `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}; unset it for the default ${fallback}`,
          input: value,
        });
      }
      return number;
    }),
  );
}

const envSchema = z.strictObject({
  QUEUE_URL: z.url({
    error:
      'must be the FIFO queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/bridge.fifo',
  }),
  SIGNING_SECRET_ID: z
    .string({ error: 'must name the signing secret (ARN or name)' })
    .check(
      z.trim(),
      z.minLength(1, { error: 'must name the signing secret (ARN or name)' }),
    ),
  SIGNATURE_TOLERANCE_SECONDS: wholeNumber(DEFAULT_TOLERANCE_SECONDS, 1, 3600),
  MAX_BODY_BYTES: wholeNumber(
    DEFAULT_MAX_BODY_BYTES,
    1024,
    API_GATEWAY_MAX_BODY_BYTES,
  ),
  MAX_MESSAGE_BYTES: wholeNumber(
    DEFAULT_MAX_MESSAGE_BYTES,
    1024,
    SQS_MAX_MESSAGE_BYTES,
  ),
});

/** The variables the webhook reads; everything else in the environment is not its concern. */
const NAMES = Object.keys(envSchema.shape) as (keyof typeof envSchema.shape)[];

/** Reads and validates the webhook's variables; throws naming each bad one. */
export function loadWebhookConfig(env: NodeJS.ProcessEnv): WebhookConfig {
  const picked = Object.fromEntries(
    NAMES.filter((name) => env[name] !== undefined).map((name) => [
      name,
      env[name],
    ]),
  );
  const result = envSchema.safeParse(picked);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.')} ${issue.message}`)
      .join('; ');
    throw new Error(`webhook configuration is invalid: ${problems}`);
  }
  const config = result.data;
  return {
    queueUrl: config.QUEUE_URL,
    signingSecretId: config.SIGNING_SECRET_ID,
    toleranceSeconds: config.SIGNATURE_TOLERANCE_SECONDS,
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxMessageBytes: config.MAX_MESSAGE_BYTES,
  };
}
