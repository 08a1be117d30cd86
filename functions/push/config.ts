/**
 * The push function's configuration: read from the environment once per
 * container, validated by one schema, with messages naming the variable,
 * the value and what is allowed.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

import {
  AUTH_METHODS,
  DEFAULT_REGISTRY_SECRET_PREFIX,
} from '../../shared/credentials/index.js';

// zod/mini loads no locale, so a value without a message of ours (a count
// that is NaN, a variable that is not a string) would read just "Invalid
// input". The English locale keeps classic zod's "Invalid input: expected
// number, received NaN"; it adds 2.7 KiB to the minified bundle.
z.config(en());

const text = () =>
  z.pipe(
    z.optional(z.string().check(z.trim())),
    z.transform((value: string | undefined) =>
      value === '' ? undefined : value,
    ),
  );

const flag = (name: string, fallback: boolean) =>
  z.pipe(
    text(),
    z.transform((value: string | undefined, ctx) => {
      if (value === undefined) return fallback;
      const lower = value.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      ctx.issues.push({
        code: 'custom',
        message: `${name} must be "true" or "false", got ${JSON.stringify(value)}`,
        input: value,
      });
      return z.NEVER;
    }),
  );

const url = (name: string) =>
  text().check(
    z.superRefine((value, ctx) => {
      if (value === undefined) return;
      if (!URL.canParse(value) || !/^https?:/.test(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be an http(s) URL, got ${JSON.stringify(value)}`,
        });
      }
    }),
  );

/** The CloudWatch namespace when the stack sets none (it does: the same). */
export const DEFAULT_METRICS_NAMESPACE = 'ConfigHubFluxOci';

/** The environment the push function reads; other variables are ignored. */
export const pushEnvSchema = z
  .object({
    DLQ_URL: z.pipe(
      url('DLQ_URL'),
      z.string({
        error: 'DLQ_URL is required: the URL of the FIFO dead-letter queue',
      }),
    ),
    MAX_RECEIVE_COUNT: z.pipe(
      z.pipe(
        text(),
        z.transform((value: string | undefined) =>
          value === undefined ? 5 : Number(value),
        ),
      ),
      z
        .number()
        .check(
          z.int(),
          z.gte(
            1,
            'MAX_RECEIVE_COUNT must be a whole number from 1 to 1000 (the queue redrive maxReceiveCount)',
          ),
          z.lte(
            1000,
            'MAX_RECEIVE_COUNT must be a whole number from 1 to 1000 (the queue redrive maxReceiveCount)',
          ),
        ),
    ),
    CONFIGHUB_URL: url('CONFIGHUB_URL'),
    CONFIGHUB_WORKER_ID: text(),
    CONFIGHUB_WORKER_SECRET_ID: text(),
    AUTH_METHOD: z.pipe(
      z.pipe(
        text(),
        z.transform((value: string | undefined) => value ?? 'anonymous'),
      ),
      z.enum(AUTH_METHODS, {
        error: (issue) =>
          `AUTH_METHOD must be one of ${AUTH_METHODS.join(', ')}, got ${JSON.stringify(issue.input)}`,
      }),
    ),
    DEFAULT_REGISTRY_SECRET_ID: text(),
    DOCKER_CONFIG: text(),
    REGISTRY_SECRET_PREFIX: z.pipe(
      text(),
      z.transform(
        (value: string | undefined) => value ?? DEFAULT_REGISTRY_SECRET_PREFIX,
      ),
    ),
    ECR_CREATE_REPOSITORIES: flag('ECR_CREATE_REPOSITORIES', true),
    POWERTOOLS_METRICS_NAMESPACE: z.pipe(
      text(),
      z.transform(
        (value: string | undefined) => value ?? DEFAULT_METRICS_NAMESPACE,
      ),
    ),
    INSECURE_REGISTRIES: z.pipe(
      text(),
      z.transform((value: string | undefined) =>
        (value ?? '')
          .split(',')
          .map((host) => host.trim())
          .filter((host) => host !== ''),
      ),
    ),
  })
  .check(
    z.superRefine((env, ctx) => {
      if (
        env.CONFIGHUB_URL !== undefined &&
        (env.CONFIGHUB_WORKER_ID === undefined ||
          env.CONFIGHUB_WORKER_SECRET_ID === undefined)
      ) {
        ctx.addIssue({
          code: 'custom',
          message:
            'CONFIGHUB_URL is set, so CONFIGHUB_WORKER_ID and CONFIGHUB_WORKER_SECRET_ID are required too (the worker id and the Secrets Manager id of its secret); unset CONFIGHUB_URL to log results instead',
        });
      }
      if (
        env.AUTH_METHOD === 'secret' &&
        env.DEFAULT_REGISTRY_SECRET_ID === undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          message:
            'AUTH_METHOD is "secret", so DEFAULT_REGISTRY_SECRET_ID must name the worker-wide registry secret in Secrets Manager',
        });
      }
      if (
        env.AUTH_METHOD === 'docker-config' &&
        env.DOCKER_CONFIG === undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          message:
            'AUTH_METHOD is "docker-config", so DOCKER_CONFIG must give the path of a Docker config.json (or its directory)',
        });
      }
    }),
  );

export type PushEnv = z.infer<typeof pushEnvSchema>;

/** Parses the environment; throws one error listing every problem. */
export function readPushEnv(env: NodeJS.ProcessEnv): PushEnv {
  const parsed = pushEnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new Error(
    `push function configuration is invalid: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`,
  );
}
