/**
 * The rules for a FluxOCIWriter target's parameters, shared by the webhook
 * (which refuses a bad target with a 4xx) and the push function (which reads
 * the normalised form off the queue).
 */
import * as z from 'zod/mini';

import { goObject } from '../event/keys.js';
import { PROVIDERS, type Provider, type TargetParams } from '../event/types.js';
import { InvalidReferenceError } from '../oci/errors.js';
import { parseRepositoryPrefix, validateTag } from '../oci/reference.js';

/** A DNS-1123 label: what Kubernetes allows for a namespace. */
const DNS_1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
/** A DNS-1123 subdomain: what Kubernetes allows for a Secret's name. */
const DNS_1123_SUBDOMAIN =
  /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
/** `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`. */
const SECRET_ARN =
  /^arn:aws(?:-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/;
/** Secrets Manager names: 1–512 of letters, digits and `/_+=.@-`. */
const SECRET_NAME = /^[\w/+=.@-]{1,512}$/;

/** One problem with a target's parameters, as the webhook reports it. */
export interface TargetParamsIssue {
  /** The parameter at fault, e.g. `Provider`; empty for the whole object. */
  path: string;
  message: string;
}

/** Why a set text parameter is refused, or `undefined` if it is allowed. */
type Check = (value: string) => string | undefined;

/**
 * A text parameter that may be left out. An absent key, `null` and the empty
 * string all mean "not set" (ConfigHub sends `"Tag": ""` for no tag); a set
 * value is trimmed and then checked.
 */
function optionalText(check: Check = () => undefined) {
  return z.optional(
    z.pipe(
      z.union([z.string(), z.null()], {
        error: (issue) => `must be a string, got ${describe(issue.input)}`,
      }),
      z.transform((value: string | null, ctx) => {
        const trimmed = value?.trim();
        if (trimmed === undefined || trimmed === '') return undefined;
        const problem = check(trimmed);
        if (problem !== undefined) {
          ctx.issues.push({ code: 'custom', message: problem, input: value });
        }
        return trimmed;
      }),
    ),
  );
}

const repository = z.pipe(
  z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'is required: the registry host and repository prefix, e.g. ghcr.io/acme'
          : `must be a string such as ghcr.io/acme, got ${describe(issue.input)}`,
    })
    .check(
      z.superRefine((value, ctx) => {
        try {
          parseRepositoryPrefix(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: referenceRule(error) });
        }
      }),
    ),
  z.transform((value: string) => value.trim()),
);

const tag = optionalText((value) => {
  try {
    validateTag(value);
    return undefined;
  } catch (error) {
    return referenceRule(error);
  }
});

const provider = optionalText((value) =>
  matchProvider(value) === undefined
    ? `${JSON.stringify(value)} is not a supported provider; use one of ${PROVIDERS.join(', ')}`
    : undefined,
);

const allowDeletion = z.optional(
  z.pipe(
    z.union([z.boolean(), z.string(), z.null()], {
      error: (issue) =>
        `must be "true" or "false", got ${describe(issue.input)}`,
    }),
    z.transform((value: boolean | string | null, ctx): boolean => {
      if (typeof value === 'boolean') return value;
      const text = value?.trim().toLowerCase() ?? '';
      if (text === '' || text === 'false') return false;
      if (text !== 'true') {
        ctx.issues.push({
          code: 'custom',
          message: `must be "true" or "false", got ${JSON.stringify(value)}`,
          input: value,
        });
      }
      return true;
    }),
  ),
);

const secretName = optionalText((value) =>
  value.length > 253 || !DNS_1123_SUBDOMAIN.test(value)
    ? `${JSON.stringify(value)} is not a Kubernetes Secret name: use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253 characters`
    : undefined,
);

const secretNamespace = optionalText((value) =>
  value.length > 63 || !DNS_1123_LABEL.test(value)
    ? `${JSON.stringify(value)} is not a Kubernetes namespace: use lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`
    : undefined,
);

const secretId = optionalText((value) => {
  if (value.startsWith('arn:')) {
    return SECRET_ARN.test(value)
      ? undefined
      : `${JSON.stringify(value)} is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)`;
  }
  return SECRET_NAME.test(value)
    ? undefined
    : `${JSON.stringify(value)} is not a Secrets Manager secret name or ARN: names are 1 to 512 letters, digits and /_+=.@-`;
});

/**
 * Accepts a target's raw parameters (the JSON object ConfigHub sends) and
 * outputs {@link TargetParams}: `AllowDeletion` as a boolean (`"true"`,
 * `"false"`, a boolean, or absent for false), empty strings as absent,
 * `Provider` matched case-insensitively (absent means `None`).
 * `KubernetesSecretName` and `KubernetesSecretNamespace` go together.
 * Keys are matched as Go's decoder matches them, ignoring case (`tag` is
 * `Tag`); two keys naming one parameter are refused; unknown keys are
 * dropped.
 */
export const targetParamsSchema = z.pipe(
  goObject(
    {
      Repository: repository,
      Tag: tag,
      Provider: provider,
      AllowDeletion: allowDeletion,
      KubernetesSecretName: secretName,
      KubernetesSecretNamespace: secretNamespace,
      SecretId: secretId,
    },
    {
      error: (issue) =>
        `target parameters must be a JSON object, got ${describe(issue.input)}`,
    },
  ).check(
    z.superRefine((params, ctx) => {
      const hasName = params.KubernetesSecretName !== undefined;
      const hasNamespace = params.KubernetesSecretNamespace !== undefined;
      if (hasName && !hasNamespace) {
        ctx.addIssue({
          code: 'custom',
          path: ['KubernetesSecretNamespace'],
          message:
            'is required when KubernetesSecretName is set: set both or neither',
        });
      }
      if (hasNamespace && !hasName) {
        ctx.addIssue({
          code: 'custom',
          path: ['KubernetesSecretName'],
          message:
            'is required when KubernetesSecretNamespace is set: set both or neither',
        });
      }
    }),
  ),
  z.transform((params): TargetParams => {
    const out: TargetParams = {
      Repository: params.Repository,
      // An unset Provider means "however the worker authenticates".
      Provider: matchProvider(params.Provider ?? 'None') ?? 'None',
      AllowDeletion: params.AllowDeletion ?? false,
    };
    if (params.Tag !== undefined) out.Tag = params.Tag;
    if (params.KubernetesSecretName !== undefined) {
      out.KubernetesSecretName = params.KubernetesSecretName;
    }
    if (params.KubernetesSecretNamespace !== undefined) {
      out.KubernetesSecretNamespace = params.KubernetesSecretNamespace;
    }
    if (params.SecretId !== undefined) out.SecretId = params.SecretId;
    return out;
  }),
);

/** What {@link parseTargetParams} returns. */
export type ParseTargetParamsResult =
  | { ok: true; params: TargetParams }
  | { ok: false; issues: TargetParamsIssue[] };

/**
 * Validates and normalises a target's raw parameters; on failure returns
 * every problem with the parameter it concerns.
 */
export function parseTargetParams(raw: unknown): ParseTargetParamsResult {
  const result = targetParamsSchema.safeParse(raw);
  if (result.success) return { ok: true, params: result.data };

  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
    })),
  };
}

/** One line per issue: `Provider: "Foo" is not a supported provider; …`. */
export function formatTargetParamsIssues(issues: TargetParamsIssue[]): string {
  return issues
    .map((issue) =>
      issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`,
    )
    .join('; ');
}

function matchProvider(value: string): Provider | undefined {
  const lower = value.toLowerCase();
  return PROVIDERS.find((known) => known.toLowerCase() === lower);
}

function referenceRule(error: unknown): string {
  if (error instanceof InvalidReferenceError) {
    // The field is already the issue's path; keep the value and the rule.
    return error.message.replace(/^\w+ /, '');
  }
  throw error;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object'
    ? 'an object'
    : `${typeof value} ${JSON.stringify(value)}`;
}
