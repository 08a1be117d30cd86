/**
 * The credentials resolver: for a target and a registry, tries each source
 * in a fixed order, records why each one gave nothing, and returns the first
 * credential found, or a {@link CredentialsError} listing every attempt.
 *
 * Order: (1) ECR through IAM, for `Provider: AWS`; (2) the secret the target
 * names, by `SecretId` or by its Kubernetes secret pair mapped to
 * `${REGISTRY_SECRET_PREFIX}${namespace}/${name}`; (3) the worker default
 * chosen by `AUTH_METHOD`; (4) for `Provider: None` only, anonymous.
 */
import { createHash } from 'node:crypto';
import { readFile as fsReadFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { ECRClient } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient } from '@aws-sdk/client-ecr-public';

import type { Provider, TargetParams } from '../event/types.js';
import { silentLog, type Log } from '../log.js';
import type {
  CredentialProvider,
  CredentialRequest,
  RegistryCredential,
} from '../oci/credential.js';
import type { Repository } from '../oci/reference.js';
import { errorName } from '../secrets/aws-errors.js';
import {
  SecretSourceError,
  type SecretSource,
  type SecretValue,
} from '../secrets/source.js';
import {
  entryCredential,
  findEntry,
  parseRegistrySecret,
  type RegistryAuthConfig,
} from './docker-config.js';
import {
  createEcrAccess,
  ECR_PUBLIC_REGION,
  EcrTokenError,
  parseEcrHost,
  type EnsureRepositoryResult,
} from './ecr.js';
import {
  isTransient,
  noCredentialsError,
  SecretFormatError,
  type AttemptReason,
  type CredentialAttempt,
  type CredentialSourceName,
} from './errors.js';
import { retryThrottled, sleep as realSleep, type Sleep } from './retry.js';

/** How the worker authenticates when the target does not say (AUTH_METHOD). */
export const AUTH_METHODS = ['secret', 'docker-config', 'anonymous'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** Where Kubernetes secret references are looked up in Secrets Manager. */
export const DEFAULT_REGISTRY_SECRET_PREFIX = 'confighub-flux-oci/registry/';

/** The push function's credential settings, read once from the environment. */
export interface CredentialsConfig {
  /** AUTH_METHOD: the worker's default source. */
  authMethod: AuthMethod;
  /** DEFAULT_REGISTRY_SECRET_ID: the worker-wide secret (AUTH_METHOD=secret). */
  defaultRegistrySecretId?: string | undefined;
  /** DOCKER_CONFIG: a config.json path, or its directory (AUTH_METHOD=docker-config). */
  dockerConfig?: string | undefined;
  /** REGISTRY_SECRET_PREFIX; default `confighub-flux-oci/registry/`. */
  registrySecretPrefix?: string | undefined;
  /** ECR_CREATE_REPOSITORIES; default true. */
  ecrCreateRepositories?: boolean | undefined;
}

export interface CredentialResolverDeps {
  secrets: SecretSource;
  config: CredentialsConfig;
  /** Builds an ECR client for a region; called once per region. */
  ecrClient?: (region: string) => ECRClient;
  /** Builds the ECR Public client (us-east-1); called once. */
  ecrPublicClient?: () => ECRPUBLICClient;
  log?: Log;
  /** Epoch milliseconds; `Date.now` by default. */
  clock?: () => number;
  /** Pause between throttled retries; injectable so tests do not wait. */
  sleep?: Sleep;
  /** Reads the Docker config file; `fs.readFile` by default. */
  readFile?: (path: string) => Promise<string>;
}

/** A credential and where it came from (never the secret itself in logs). */
export interface ResolvedCredential {
  credential: RegistryCredential;
  source: CredentialSourceName;
  /** The secret id or file it was read from, if any. */
  from?: string;
  /** The sources tried before it, with their reasons. */
  attempts: CredentialAttempt[];
}

export interface ResolveOptions {
  /**
   * Fingerprint ({@link credentialFingerprint}) of the credential the
   * registry just refused: on a refresh, a source that gives the same one
   * again is recorded as `refused` and the next source is tried.
   */
  refused?: string;
}

/** A one-way digest of a credential, to recognise it without keeping it. */
export function credentialFingerprint(credential: RegistryCredential): string {
  return createHash('sha256').update(JSON.stringify(credential)).digest('hex');
}

export interface CredentialResolver {
  /**
   * The credential provider the OCI engine calls for each registry request
   * of this target; with `refresh: true` (after a 401) secrets and tokens
   * are fetched again instead of served from cache.
   */
  providerFor(target: TargetParams): CredentialProvider;
  /** Resolves a credential, reporting its source and the attempts before it. */
  resolve(
    target: TargetParams,
    request: CredentialRequest,
    options?: ResolveOptions,
  ): Promise<ResolvedCredential>;
  /**
   * Makes sure the ECR repository exists before a push (see
   * {@link EcrAccess.ensureRepository}); does nothing for other registries.
   */
  ensureRepository(
    repo: Repository,
    options?: { movingTag?: string },
  ): Promise<EnsureRepositoryResult>;
}

/** Maps a target's Kubernetes secret reference to a Secrets Manager name. */
export function kubernetesSecretId(
  prefix: string,
  namespace: string,
  name: string,
): string {
  return `${prefix}${namespace}/${name}`;
}

/** Creates the resolver; build it once per container and reuse it. */
export function createCredentialResolver(
  deps: CredentialResolverDeps,
): CredentialResolver {
  const log = deps.log ?? silentLog;
  const clock = deps.clock ?? Date.now;
  const pause = deps.sleep ?? realSleep;
  const readText = deps.readFile ?? ((path) => fsReadFile(path, 'utf8'));
  const config = {
    ...deps.config,
    registrySecretPrefix:
      deps.config.registrySecretPrefix ?? DEFAULT_REGISTRY_SECRET_PREFIX,
    ecrCreateRepositories: deps.config.ecrCreateRepositories ?? true,
  };

  const ecrClients = new Map<string, ECRClient>();
  let ecrPublic: ECRPUBLICClient | undefined;
  const ecr = createEcrAccess({
    ecrClient: (region) => {
      let client = ecrClients.get(region);
      if (client === undefined) {
        client = deps.ecrClient?.(region) ?? new ECRClient({ region });
        ecrClients.set(region, client);
      }
      return client;
    },
    ecrPublicClient: () => {
      ecrPublic ??=
        deps.ecrPublicClient?.() ??
        new ECRPUBLICClient({ region: ECR_PUBLIC_REGION });
      return ecrPublic;
    },
    clock,
    sleep: pause,
    log,
    createRepositories: config.ecrCreateRepositories,
  });

  type Outcome =
    | { ok: true; credential: RegistryCredential; from?: string }
    | { ok: false; reason: AttemptReason; detail: string };

  async function fromEcr(request: CredentialRequest): Promise<Outcome> {
    const host = parseEcrHost(request.registry);
    if (host === undefined) {
      return {
        ok: false,
        reason: 'not-applicable',
        detail: `${request.registry} is not an ECR host (<account>.dkr.ecr.<region>.amazonaws.com or public.ecr.aws)`,
      };
    }
    try {
      const token = await ecr.token(host, { refresh: request.refresh });
      return {
        ok: true,
        credential: {
          kind: 'basic',
          username: token.username,
          password: token.password,
        },
        from:
          host.kind === 'public'
            ? `ECR Public ${ECR_PUBLIC_REGION}`
            : `ECR ${host.region}`,
      };
    } catch (error) {
      if (error instanceof EcrTokenError) {
        return { ok: false, reason: error.reason, detail: error.message };
      }
      throw error;
    }
  }

  async function fromSecret(
    id: string,
    request: CredentialRequest,
    source: CredentialSourceName,
  ): Promise<Outcome> {
    let value: SecretValue;
    try {
      value = await retryThrottled(
        () => deps.secrets.get(id, { forceFetch: request.refresh === true }),
        pause,
      );
    } catch (error) {
      if (error instanceof SecretSourceError) {
        return {
          ok: false,
          reason: SOURCE_REASON[error.code],
          detail: error.message,
        };
      }
      return {
        ok: false,
        reason: 'unavailable',
        detail: `reading secret ${id} failed (${errorName(error) || 'error'})`,
      };
    }
    return fromDocument(value, `secret ${id}`, id, request, source);
  }

  async function fromDockerConfig(
    request: CredentialRequest,
  ): Promise<Outcome> {
    const configured = config.dockerConfig?.trim();
    let path =
      configured === undefined || configured === ''
        ? join(homedir(), '.docker', 'config.json')
        : configured;
    let text: string;
    try {
      try {
        text = await readText(path);
      } catch (error) {
        // DOCKER_CONFIG names a directory in Docker's own convention.
        if ((error as NodeJS.ErrnoException).code !== 'EISDIR') throw error;
        path = join(path, 'config.json');
        text = await readText(path);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      return {
        ok: false,
        reason:
          code === 'ENOENT'
            ? 'not-found'
            : code === 'EACCES' || code === 'EPERM'
              ? 'access-denied'
              : 'unavailable',
        detail: `cannot read Docker config ${path} (${code}); set DOCKER_CONFIG to a config.json or its directory`,
      };
    }
    return fromDocument(
      text,
      `Docker config ${path}`,
      path,
      request,
      'docker-config',
    );
  }

  function fromDocument(
    value: SecretValue | string,
    what: string,
    from: string,
    request: CredentialRequest,
    source: CredentialSourceName,
  ): Outcome {
    let parsed: RegistryAuthConfig;
    try {
      parsed = parseRegistrySecret(value);
    } catch (error) {
      if (error instanceof SecretFormatError) {
        return {
          ok: false,
          reason: 'malformed',
          detail: `${what}: ${error.message}`,
        };
      }
      throw error;
    }
    const helpers =
      parsed.ignored.length === 0
        ? ''
        : `; ${parsed.ignored.join(' and ')} ignored (credential helpers cannot run in Lambda)`;
    if (parsed.ignored.length > 0) {
      log.warn('registry config names credential helpers; ignored', {
        source,
        from,
        ignored: parsed.ignored,
      });
    }

    const match = findEntry(parsed, request.registry, request.repository);
    if (match === undefined) {
      const keys = parsed.entries.map((e) => JSON.stringify(e.key));
      return {
        ok: false,
        reason: 'no-entry',
        detail: `${what} (${parsed.format}) has no entry for ${request.registry}/${request.repository}; its registries: ${keys.length === 0 ? '(none)' : keys.join(', ')}${helpers}`,
      };
    }
    let firstProblem: string | undefined;
    for (const entry of [match.entry, ...match.alternatives]) {
      try {
        return { ok: true, credential: entryCredential(entry), from };
      } catch (error) {
        if (!(error instanceof SecretFormatError)) throw error;
        firstProblem ??= error.message;
        log.debug('registry config entry unusable', {
          source,
          from,
          key: entry.key,
          problem: error.message,
        });
      }
    }
    return {
      ok: false,
      reason: 'unusable',
      detail: `${what}: ${firstProblem ?? 'no usable entry'}${helpers}`,
    };
  }

  async function resolve(
    target: TargetParams,
    request: CredentialRequest,
    options: ResolveOptions = {},
  ): Promise<ResolvedCredential> {
    const attempts: CredentialAttempt[] = [];
    const refused = request.refresh === true ? options.refused : undefined;
    const attempt = async (
      source: CredentialSourceName,
      run: () => Promise<Outcome> | Outcome,
    ): Promise<ResolvedCredential | undefined> => {
      let outcome = await run();
      if (
        outcome.ok &&
        refused !== undefined &&
        credentialFingerprint(outcome.credential) === refused
      ) {
        outcome = {
          ok: false,
          reason: 'refused',
          detail: `${request.registry} refused the credential from ${outcome.from ?? source} and reading it again gave the same one; fix the secret`,
        };
      }
      if (outcome.ok) {
        log.debug('registry credentials resolved', {
          registry: request.registry,
          source,
          from: outcome.from,
          refresh: request.refresh === true,
          attemptsBefore: attempts.length,
        });
        return {
          credential: outcome.credential,
          source,
          ...(outcome.from === undefined ? {} : { from: outcome.from }),
          attempts,
        };
      }
      const recorded = {
        source,
        reason: outcome.reason,
        detail: outcome.detail,
      };
      attempts.push(recorded);
      log.debug('registry credential source gave nothing', {
        registry: request.registry,
        ...recorded,
      });
      return undefined;
    };

    const provider = target.Provider;
    if (provider === 'AWS') {
      const found = await attempt(
        parseEcrHost(request.registry)?.kind === 'public'
          ? 'ecr-public'
          : 'ecr',
        () => fromEcr(request),
      );
      if (found) return found;
    }

    const secretId = target.SecretId;
    const name = target.KubernetesSecretName;
    const namespace = target.KubernetesSecretNamespace;
    if (secretId !== undefined) {
      const found = await attempt('target-secret', () =>
        fromSecret(secretId, request, 'target-secret'),
      );
      if (found) return found;
    }
    if (name !== undefined && namespace !== undefined) {
      const id = kubernetesSecretId(
        config.registrySecretPrefix,
        namespace,
        name,
      );
      const found = await attempt('kubernetes-secret', () =>
        fromSecret(id, request, 'kubernetes-secret'),
      );
      if (found) return found;
    }
    if (
      secretId === undefined &&
      (name === undefined || namespace === undefined)
    ) {
      attempts.push({
        source: 'target-secret',
        reason: 'not-configured',
        detail: targetSecretHint(provider),
      });
    }

    // After a throttled or failing read, going anonymous would trade a retry
    // for a certain 401: the error is retryable instead.
    const blocked = () =>
      attempts.some((a) => isTransient(a) || a.reason === 'refused');
    if (!(blocked() && config.authMethod === 'anonymous')) {
      const worker = await workerDefault(request, attempt);
      if (worker) return worker;
    }

    if (provider === 'None' && !blocked()) {
      log.debug('no worker credentials; going anonymous (Provider None)', {
        registry: request.registry,
      });
      return {
        credential: { kind: 'anonymous' },
        source: 'anonymous',
        attempts,
      };
    }
    throw withHint(
      noCredentialsError(request.registry, request.repository, attempts),
      provider,
      request.registry,
    );
  }

  async function workerDefault(
    request: CredentialRequest,
    attempt: (
      source: CredentialSourceName,
      run: () => Promise<Outcome> | Outcome,
    ) => Promise<ResolvedCredential | undefined>,
  ): Promise<ResolvedCredential | undefined> {
    switch (config.authMethod) {
      case 'anonymous':
        return attempt('anonymous', () => ({
          ok: true,
          credential: { kind: 'anonymous' },
        }));
      case 'docker-config':
        return attempt('docker-config', () => fromDockerConfig(request));
      case 'secret': {
        const id = config.defaultRegistrySecretId?.trim();
        if (id === undefined || id === '') {
          return attempt('worker-secret', () => ({
            ok: false,
            reason: 'not-configured',
            detail:
              'AUTH_METHOD=secret but DEFAULT_REGISTRY_SECRET_ID is not set',
          }));
        }
        return attempt('worker-secret', () =>
          fromSecret(id, request, 'worker-secret'),
        );
      }
    }
  }

  return {
    providerFor(target) {
      // What this provider last gave each registry, to notice on a refresh
      // that the registry refused a credential the source still holds.
      const given = new Map<string, string>();
      return async (request) => {
        const key = `${request.registry}/${request.repository}`;
        const resolved = await resolve(target, request, {
          refused: given.get(key),
        });
        given.set(key, credentialFingerprint(resolved.credential));
        return resolved.credential;
      };
    },
    resolve,
    ensureRepository: (repo, options) => ecr.ensureRepository(repo, options),
  };
}

const SOURCE_REASON: Record<SecretSourceError['code'], AttemptReason> = {
  NOT_FOUND: 'not-found',
  ACCESS_DENIED: 'access-denied',
  THROTTLED: 'throttled',
  UNAVAILABLE: 'unavailable',
};

function targetSecretHint(provider: Provider): string {
  switch (provider) {
    case 'GCP':
      return 'the target names no secret; GCP targets need a dockerconfigjson secret (_json_key or oauth2accesstoken) named by SecretId or KubernetesSecretName/KubernetesSecretNamespace';
    case 'Azure':
      return 'the target names no secret; Azure targets need a dockerconfigjson secret (service principal or identitytoken) named by SecretId or KubernetesSecretName/KubernetesSecretNamespace';
    default:
      return 'the target names no SecretId or KubernetesSecretName/KubernetesSecretNamespace';
  }
}

/** Adds the likely fix when an ECR host was used without Provider AWS. */
function withHint<E extends Error>(
  error: E,
  provider: Provider,
  registry: string,
): E {
  if (provider !== 'AWS' && parseEcrHost(registry) !== undefined) {
    error.message += `; ${registry} is ECR: set the target's Provider to AWS to use the function's IAM role`;
  }
  return error;
}
