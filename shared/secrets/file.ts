/**
 * A {@link SecretSource} reading a local JSON file, for the local stack and
 * tests. The file maps secret ids to values:
 *
 * ```json
 * {
 *   "registry/ghcr": "{\"auths\":{…}}",
 *   "registry/binary": { "binary": "<base64>" },
 *   "registry/rotating": { "AWSCURRENT": "new", "AWSPREVIOUS": "old" }
 * }
 * ```
 *
 * A stage's value may itself be a string or `{ "binary": … }`. The file is
 * read on every call, so editing it is like rotating the secret.
 */
import { readFile } from 'node:fs/promises';

import {
  SecretSourceError,
  type GetSecretOptions,
  type SecretSource,
  type SecretValue,
} from './source.js';

/** Reads secrets from a JSON file; the file is re-read on each call. */
export function createFileSecretSource(path: string): SecretSource {
  return {
    async get(
      id: string,
      options: GetSecretOptions = {},
    ): Promise<SecretValue> {
      const stage = options.stage ?? 'AWSCURRENT';
      const secrets = await readSecretsFile(path, id);
      if (!Object.hasOwn(secrets, id)) {
        throw new SecretSourceError(
          'NOT_FOUND',
          id,
          `secret ${id} is not in ${path}; add it as a key of that JSON object`,
        );
      }
      const entry = secrets[id];
      if (
        isRecord(entry) &&
        ('AWSCURRENT' in entry || 'AWSPREVIOUS' in entry)
      ) {
        if (!Object.hasOwn(entry, stage)) {
          throw new SecretSourceError(
            'NOT_FOUND',
            id,
            `secret ${id} in ${path} has no ${stage} version`,
          );
        }
        return toValue(entry[stage], id, path);
      }
      if (stage !== 'AWSCURRENT') {
        throw new SecretSourceError(
          'NOT_FOUND',
          id,
          `secret ${id} in ${path} has only one version; ${stage} needs {"AWSCURRENT": …, "${stage}": …}`,
        );
      }
      return toValue(entry, id, path);
    },
  };
}

async function readSecretsFile(
  path: string,
  id: string,
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SecretSourceError(
      code === 'EACCES' ? 'ACCESS_DENIED' : 'UNAVAILABLE',
      id,
      `cannot read secrets file ${path} (${code ?? 'error'})`,
      { cause: error },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the file's text, which holds secrets.
    throw new SecretSourceError(
      'UNAVAILABLE',
      id,
      `secrets file ${path} is not valid JSON`,
    );
  }
  if (!isRecord(parsed)) {
    throw new SecretSourceError(
      'UNAVAILABLE',
      id,
      `secrets file ${path} must hold a JSON object of secret id to value`,
    );
  }
  return parsed;
}

function toValue(entry: unknown, id: string, path: string): SecretValue {
  if (typeof entry === 'string') return { text: entry };
  if (isRecord(entry) && typeof entry.binary === 'string') {
    return { binary: new Uint8Array(Buffer.from(entry.binary, 'base64')) };
  }
  throw new SecretSourceError(
    'UNAVAILABLE',
    id,
    `secret ${id} in ${path} must be a string, {"binary": "<base64>"} or {"AWSCURRENT": …, "AWSPREVIOUS": …}`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
