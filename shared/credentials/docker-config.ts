/**
 * Registry secrets as people store them, read into one shape: a list of
 * entries keyed by registry, and the lookup of the entry for a repository.
 * Pure functions; no I/O. Nothing here puts a secret value in an error.
 */
import { parse as parseYaml } from 'yaml';

import type { RegistryCredential } from '../oci/credential.js';
import type { SecretValue } from '../secrets/source.js';
import { SecretFormatError } from './errors.js';

/** The shapes a registry secret is recognised in. */
export type SecretFormat =
  /** `{"auths": {…}}`, as `kubectl create secret docker-registry` writes it. */
  | 'dockerconfigjson'
  /** The legacy `.dockercfg` map, registries at the top level. */
  | 'dockercfg'
  /** `{"username": …, "password": …, "registry"?: …}`. */
  | 'username-password';

/** One registry's credentials as the secret wrote them. */
export interface AuthEntry {
  /** The registry key as written, e.g. `https://index.docker.io/v1/`; `*` for any. */
  key: string;
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

/** A registry secret, parsed. */
export interface RegistryAuthConfig {
  format: SecretFormat;
  /** How it was wrapped: base64, a Kubernetes Secret manifest, or not at all. */
  wrapping: Array<'base64' | 'kubernetes-secret'>;
  entries: AuthEntry[];
  /** Keys present but not usable in Lambda, e.g. `credsStore`, `credHelpers`. */
  ignored: string[];
}

/** A registry key, normalised: lower-case host (Docker Hub as `docker.io`) and path. */
export interface RegistryKey {
  host: string;
  path: string;
}

const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
  'hub.docker.com',
]);
const ENTRY_FIELDS = [
  'auth',
  'username',
  'password',
  'identitytoken',
  'registrytoken',
  'email',
];
/** Config keys that name external programs, which cannot run in Lambda. */
const HELPER_KEYS = ['credsStore', 'credHelpers'];
const BASE64 = /^[A-Za-z0-9+/_\-\s]+={0,2}\s*$/;
/** Wrappings nest at most this deep (base64 of a manifest of base64 …). */
const MAX_DEPTH = 4;

/**
 * Reads a secret's value in any accepted format: a dockerconfigjson
 * document (text or bytes), the same base64-encoded, a Kubernetes Secret
 * manifest (JSON or YAML, `data` or `stringData`), a legacy `.dockercfg`
 * map, or `{username, password[, registry]}`. Throws
 * {@link SecretFormatError} `MALFORMED` when it is none of these.
 */
export function parseRegistrySecret(
  value: SecretValue | string | Uint8Array,
): RegistryAuthConfig {
  const text = toText(value);
  return parseText(text, [], 0);
}

function toText(value: SecretValue | string | Uint8Array): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value.text !== undefined) return value.text;
  if (value.binary !== undefined) {
    return Buffer.from(value.binary).toString('utf8');
  }
  throw new SecretFormatError('MALFORMED', 'the secret is empty');
}

function parseText(
  raw: string,
  wrapping: RegistryAuthConfig['wrapping'],
  depth: number,
): RegistryAuthConfig {
  const text = raw.replace(/^\uFEFF/, '').trim();
  if (text === '') {
    throw new SecretFormatError('MALFORMED', 'the secret is empty');
  }
  if (depth > MAX_DEPTH) {
    throw new SecretFormatError(
      'MALFORMED',
      'the secret is wrapped too deeply (base64 or manifests nested more than 4 times)',
    );
  }
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // JSON.parse quotes the text it choked on: never pass its message on.
      throw new SecretFormatError(
        'MALFORMED',
        'the secret starts with "{" but is not valid JSON',
      );
    }
    return parseObject(parsed, wrapping, depth, true);
  }
  if (BASE64.test(text)) {
    const decoded = Buffer.from(text.replace(/\s+/g, ''), 'base64').toString(
      'utf8',
    );
    if (/^\s*[{a-zA-Z"'.-]/.test(decoded) && !decoded.includes('\uFFFD')) {
      return parseText(decoded, [...wrapping, 'base64'], depth + 1);
    }
    throw new SecretFormatError(
      'MALFORMED',
      'the secret looks like base64 but does not decode to a JSON or YAML document',
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { maxAliasCount: 10 });
  } catch {
    // YAML errors quote the offending line: never pass their message on.
    throw new SecretFormatError(
      'MALFORMED',
      'the secret is neither JSON, base64 nor valid YAML',
    );
  }
  // A one-line text that YAML reads as `key: value` is more likely a bare
  // password than a document: its "keys" are not shown in errors.
  return parseObject(parsed, wrapping, depth, text.includes('\n'));
}

function parseObject(
  parsed: unknown,
  wrapping: RegistryAuthConfig['wrapping'],
  depth: number,
  showKeys: boolean,
): RegistryAuthConfig {
  if (!isRecord(parsed)) {
    throw new SecretFormatError(
      'MALFORMED',
      `expected a JSON or YAML object, got ${kindOf(parsed)}`,
    );
  }
  if (isKubernetesSecret(parsed)) {
    return parseKubernetesSecret(parsed, wrapping, depth);
  }
  const ignored = HELPER_KEYS.filter((key) => key in parsed);
  if ('auths' in parsed) {
    if (!isRecord(parsed.auths)) {
      throw new SecretFormatError(
        'MALFORMED',
        `"auths" must be an object of registry to credentials, got ${kindOf(parsed.auths)}`,
      );
    }
    return {
      format: 'dockerconfigjson',
      wrapping,
      entries: entriesOf(parsed.auths, '"auths"'),
      ignored,
    };
  }
  if (ignored.length > 0) {
    // A Docker config with only helpers: nothing usable, but well formed.
    return { format: 'dockerconfigjson', wrapping, entries: [], ignored };
  }
  // The data map of a Kubernetes Secret stored on its own.
  for (const key of ['.dockerconfigjson', '.dockercfg']) {
    const inner = parsed[key];
    if (typeof inner === 'string') {
      return parseText(inner, wrapping, depth + 1);
    }
  }
  if ('username' in parsed || 'password' in parsed) {
    const registry = parsed.registry ?? parsed.server;
    if (registry !== undefined && typeof registry !== 'string') {
      throw new SecretFormatError(
        'MALFORMED',
        `"registry" must be a string, got ${kindOf(registry)}`,
      );
    }
    return {
      format: 'username-password',
      wrapping,
      entries: [
        {
          key:
            registry === undefined || registry.trim() === '' ? '*' : registry,
          username: parsed.username,
          password: parsed.password,
        },
      ],
      ignored,
    };
  }
  const values = Object.values(parsed);
  if (
    values.length > 0 &&
    values.every(
      (v) =>
        isRecord(v) && Object.keys(v).some((k) => ENTRY_FIELDS.includes(k)),
    )
  ) {
    return {
      format: 'dockercfg',
      wrapping,
      entries: entriesOf(parsed, 'the .dockercfg map'),
      ignored,
    };
  }
  throw new SecretFormatError(
    'MALFORMED',
    `not a registry secret: expected "auths" (dockerconfigjson), a Kubernetes Secret, registries at the top level (.dockercfg) or username/password; found ${showKeys ? `keys ${describeKeys(parsed)}` : 'a one-line text'}`,
  );
}

function isKubernetesSecret(value: Record<string, unknown>): boolean {
  return (
    value.kind === 'Secret' ||
    (typeof value.apiVersion === 'string' &&
      (isRecord(value.data) || isRecord(value.stringData)))
  );
}

/**
 * A Kubernetes Secret: `stringData` wins over `data` as the API server
 * merges them; `.dockerconfigjson`, then `.dockercfg`, then the
 * `username`/`password` keys of a basic-auth Secret.
 */
function parseKubernetesSecret(
  secret: Record<string, unknown>,
  wrapping: RegistryAuthConfig['wrapping'],
  depth: number,
): RegistryAuthConfig {
  const inner = [...wrapping, 'kubernetes-secret' as const];
  const stringData = isRecord(secret.stringData) ? secret.stringData : {};
  const data = isRecord(secret.data) ? secret.data : {};
  const read = (key: string): string | undefined => {
    const plain = stringData[key];
    if (typeof plain === 'string') return plain;
    const encoded = data[key];
    if (typeof encoded === 'string') {
      return Buffer.from(encoded.replace(/\s+/g, ''), 'base64').toString(
        'utf8',
      );
    }
    return undefined;
  };

  for (const key of ['.dockerconfigjson', '.dockercfg']) {
    const document = read(key);
    if (document !== undefined) return parseText(document, inner, depth + 1);
  }
  const username = read('username');
  const password = read('password');
  if (username !== undefined || password !== undefined) {
    return {
      format: 'username-password',
      wrapping: inner,
      entries: [{ key: '*', username, password }],
      ignored: [],
    };
  }
  const keys = [...new Set([...Object.keys(data), ...Object.keys(stringData)])];
  throw new SecretFormatError(
    'MALFORMED',
    `the Kubernetes Secret has no ".dockerconfigjson", ".dockercfg" or username/password in data or stringData; found keys ${describeKeys(Object.fromEntries(keys.map((k) => [k, 0])))}`,
  );
}

function entriesOf(map: Record<string, unknown>, where: string): AuthEntry[] {
  return Object.entries(map).map(([key, entry]) => {
    if (!isRecord(entry)) {
      throw new SecretFormatError(
        'MALFORMED',
        `${where} entry ${JSON.stringify(key)} must be an object, got ${kindOf(entry)}`,
      );
    }
    return {
      key,
      auth: entry.auth,
      username: entry.username,
      password: entry.password,
      identitytoken: entry.identitytoken,
      registrytoken: entry.registrytoken,
    };
  });
}

/**
 * Normalises a registry key or host the way Docker matches them: no scheme,
 * no trailing slash, no `/v1` or `/v2` API path, Docker Hub's aliases as
 * `docker.io`, host lower-cased, `host:port` kept as written.
 */
export function normaliseRegistryKey(key: string): RegistryKey {
  let rest = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  rest = rest.replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  let host = (slash === -1 ? rest : rest.slice(0, slash)).toLowerCase();
  let path = slash === -1 ? '' : rest.slice(slash + 1);
  if (path === 'v1' || path === 'v2') path = '';
  if (DOCKER_HUB_ALIASES.has(host)) host = 'docker.io';
  path = path.replace(/^\/+|\/+$/g, '');

  return { host, path };
}

/** The entry chosen for a repository, and the key it was written under. */
export interface EntryMatch {
  entry: AuthEntry;
  /** Entries that matched too, less specific or later in the document. */
  alternatives: AuthEntry[];
}

/**
 * Finds the entry for `registry/repository`: keys match on host (exact,
 * port included) and on path at component boundaries; the longest path
 * wins, then the first in the document. A `*` entry matches any registry
 * but loses to any key that names the registry.
 */
export function findEntry(
  config: RegistryAuthConfig,
  registry: string,
  repository: string,
): EntryMatch | undefined {
  const wanted = normaliseRegistryKey(registry);
  const repoPath = repository.replace(/^\/+|\/+$/g, '');
  const scored: Array<{ entry: AuthEntry; score: number; order: number }> = [];

  config.entries.forEach((entry, order) => {
    if (entry.key === '*') {
      scored.push({ entry, score: -1, order });
      return;
    }
    const key = normaliseRegistryKey(entry.key);
    if (key.host !== wanted.host) return;
    if (
      key.path === '' ||
      repoPath === key.path ||
      repoPath.startsWith(`${key.path}/`)
    ) {
      scored.push({ entry, score: key.path.length, order });
    }
  });
  scored.sort((a, b) => b.score - a.score || a.order - b.order);
  const [best, ...rest] = scored;
  if (best === undefined) return undefined;

  return { entry: best.entry, alternatives: rest.map((s) => s.entry) };
}

/**
 * Turns an entry into a credential: `registrytoken`, then `identitytoken`
 * (with `username` if any), then `username`/`password`, then `auth`
 * (base64 of `user:password`; the password may hold `:`, a trailing newline
 * is dropped). Throws {@link SecretFormatError} `UNUSABLE` naming the field.
 */
export function entryCredential(entry: AuthEntry): RegistryCredential {
  const where = `entry ${JSON.stringify(entry.key)}`;
  const field = (name: keyof AuthEntry): string | undefined => {
    const value = entry[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      throw new SecretFormatError(
        'UNUSABLE',
        `${where}: "${name}" must be a string, got ${kindOf(value)}`,
      );
    }
    return value.trim() === '' ? undefined : value;
  };

  const registryToken = field('registrytoken');
  if (registryToken !== undefined) {
    return { kind: 'registryToken', token: registryToken.trim() };
  }
  const identityToken = field('identitytoken');
  const username = field('username');
  const password = field('password');
  if (identityToken !== undefined) {
    return username === undefined
      ? { kind: 'identityToken', identityToken: identityToken.trim() }
      : {
          kind: 'identityToken',
          username,
          identityToken: identityToken.trim(),
        };
  }
  if (username !== undefined && password !== undefined) {
    return { kind: 'basic', username, password: stripNewline(password) };
  }
  const auth = field('auth');
  if (auth !== undefined) return decodeAuth(auth, where);
  if (username !== undefined) {
    throw new SecretFormatError(
      'UNUSABLE',
      `${where} has a username but no password or auth`,
    );
  }
  if (password !== undefined) {
    throw new SecretFormatError(
      'UNUSABLE',
      `${where} has a password but no username or auth`,
    );
  }
  throw new SecretFormatError(
    'UNUSABLE',
    `${where} has none of auth, username/password, identitytoken or registrytoken`,
  );
}

function decodeAuth(auth: string, where: string): RegistryCredential {
  const compact = auth.replace(/\s+/g, '');
  if (!BASE64.test(compact)) {
    throw new SecretFormatError(
      'UNUSABLE',
      `${where}: "auth" is not base64 of user:password`,
    );
  }
  const decoded = stripNewline(Buffer.from(compact, 'base64').toString('utf8'));
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) {
    throw new SecretFormatError(
      'UNUSABLE',
      `${where}: "auth" must decode to user:password with both parts non-empty`,
    );
  }

  return {
    kind: 'basic',
    username: decoded.slice(0, colon),
    password: decoded.slice(colon + 1),
  };
}

/** `kubectl` and `echo | base64` leave a newline after the password. */
function stripNewline(value: string): string {
  return value.replace(/\r?\n$/, '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Top-level key names (never values), shortened, at most eight. */
function describeKeys(value: Record<string, unknown>): string {
  const keys = Object.keys(value);
  if (keys.length === 0) return '(none)';
  const shown = keys
    .slice(0, 8)
    .map((k) => JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k));
  return keys.length > 8 ? `${shown.join(', ')} …` : shown.join(', ');
}
