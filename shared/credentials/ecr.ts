/**
 * Amazon ECR through IAM: recognise ECR hosts, fetch and cache authorization
 * tokens in the host's region, and make sure a repository exists before a
 * push (ECR creates repositories on push only where a creation template
 * allows it).
 */
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
  type ECRClient,
  type ImageTagMutabilityExclusionFilter,
} from '@aws-sdk/client-ecr';
import {
  CreateRepositoryCommand as CreatePublicRepositoryCommand,
  DescribeRepositoriesCommand as DescribePublicRepositoriesCommand,
  GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand,
  RepositoryAlreadyExistsException as PublicRepositoryAlreadyExistsException,
  RepositoryNotFoundException as PublicRepositoryNotFoundException,
  type ECRPUBLICClient,
} from '@aws-sdk/client-ecr-public';

import type { Log } from '../log.js';
import type { Repository } from '../oci/reference.js';
import { awsErrorKind, errorName } from '../secrets/aws-errors.js';
import { CredentialsError } from './errors.js';
import { retryThrottled, type Sleep } from './retry.js';

/** A registry host that is Amazon ECR. */
export type EcrHost =
  | {
      kind: 'private';
      host: string;
      accountId: string;
      region: string;
      fips: boolean;
    }
  | { kind: 'public'; host: string };

/** ECR Public's API (and so its tokens) lives in us-east-1 only. */
export const ECR_PUBLIC_REGION = 'us-east-1';
const ECR_PUBLIC_HOST = 'public.ecr.aws';

/**
 * `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`, and the dual-stack
 * `<account>.dkr-ecr[-fips].<region>.on.aws`.
 */
const ECR_PRIVATE_HOST =
  /^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:amazonaws\.com(?:\.cn)?|on\.aws)$/;

/** Recognises an ECR registry host (port-less, as ECR serves on 443). */
export function parseEcrHost(registry: string): EcrHost | undefined {
  const host = registry
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/\/.*$/, '');
  if (host === ECR_PUBLIC_HOST) return { kind: 'public', host };
  const match = ECR_PRIVATE_HOST.exec(host);
  if (match === null) return undefined;

  return {
    kind: 'private',
    host,
    accountId: match[1]!,
    region: match[3]!,
    fips: match[2] !== undefined,
  };
}

/** A decoded ECR token: user `AWS`, password, and when to fetch a new one. */
export interface EcrToken {
  username: string;
  password: string;
  /** Epoch ms after which the token is not served from the cache. */
  refreshAt: number;
}

export interface EcrDeps {
  /** Returns the ECR client for a region; built once per region. */
  ecrClient: (region: string) => ECRClient;
  /** Returns the ECR Public client (region us-east-1). */
  ecrPublicClient: () => ECRPUBLICClient;
  clock: () => number;
  sleep: Sleep;
  log: Log;
  /** Create missing repositories (ECR_CREATE_REPOSITORIES). */
  createRepositories: boolean;
}

/** Tokens are fetched again this long before ECR says they expire. */
export const TOKEN_REFRESH_MARGIN_MS = 15 * 60 * 1000;
/** When ECR gives no expiry, a token is reused for at most this long. */
const TOKEN_FALLBACK_TTL_MS = 60 * 60 * 1000;

/** A failure to get a token, classified for the resolver's attempt list. */
export class EcrTokenError extends Error {
  override readonly name = 'EcrTokenError';
  readonly reason: 'access-denied' | 'throttled' | 'unavailable' | 'unusable';

  constructor(
    reason: EcrTokenError['reason'],
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.reason = reason;
  }
}

/** What {@link EcrAccess.ensureRepository} found or did. */
export type EnsureRepositoryResult =
  | { status: 'not-ecr' }
  | { status: 'disabled' }
  | { status: 'exists' | 'created'; mutability: TagMutability };

/** A repository's tag mutability, as ECR reports it. */
export interface TagMutability {
  setting: string;
  exclusions: string[];
}

/** ECR tokens and repositories for one container, cached across invocations. */
export interface EcrAccess {
  /** A token for the host's registry; `refresh` skips the cache. */
  token(host: EcrHost, options?: { refresh?: boolean }): Promise<EcrToken>;
  /**
   * Makes sure an ECR repository exists, creating it with mutable tags when
   * missing; refuses an immutable repository when `movingTag` would have to
   * move. Not ECR, or creation switched off: does nothing.
   */
  ensureRepository(
    repo: Repository,
    options?: { movingTag?: string },
  ): Promise<EnsureRepositoryResult>;
}

/** Creates the ECR token cache and repository helper. */
export function createEcrAccess(deps: EcrDeps): EcrAccess {
  const tokens = new Map<string, Promise<EcrToken>>();
  const repositories = new Map<string, TagMutability>();

  async function fetchToken(host: EcrHost): Promise<EcrToken> {
    let encoded: string | undefined;
    let expiresAt: Date | undefined;
    const where =
      host.kind === 'public'
        ? `ECR Public (${ECR_PUBLIC_REGION})`
        : `ECR ${host.region}`;
    try {
      if (host.kind === 'public') {
        const out = await retryThrottled(
          () =>
            deps
              .ecrPublicClient()
              .send(new GetPublicAuthorizationTokenCommand({})),
          deps.sleep,
        );
        encoded = out.authorizationData?.authorizationToken;
        expiresAt = out.authorizationData?.expiresAt;
      } else {
        const out = await retryThrottled(
          () =>
            deps
              .ecrClient(host.region)
              .send(new GetAuthorizationTokenCommand({})),
          deps.sleep,
        );
        encoded = out.authorizationData?.[0]?.authorizationToken;
        expiresAt = out.authorizationData?.[0]?.expiresAt;
      }
    } catch (error) {
      const kind = awsErrorKind(error);
      const hint =
        kind === 'access-denied'
          ? host.kind === 'public'
            ? '; grant ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken'
            : '; grant ecr:GetAuthorizationToken'
          : '';
      throw new EcrTokenError(
        kind,
        `GetAuthorizationToken in ${where} failed (${errorName(error) || 'error'})${hint}`,
        error,
      );
    }

    const decoded =
      encoded === undefined
        ? ''
        : Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0 || colon === decoded.length - 1) {
      throw new EcrTokenError(
        'unusable',
        `GetAuthorizationToken in ${where} returned no token of the form base64(AWS:password)`,
      );
    }
    const now = deps.clock();
    const refreshAt =
      expiresAt === undefined
        ? now + TOKEN_FALLBACK_TTL_MS
        : Math.max(now, expiresAt.getTime() - TOKEN_REFRESH_MARGIN_MS);

    return {
      username: decoded.slice(0, colon),
      password: decoded.slice(colon + 1),
      refreshAt,
    };
  }

  async function token(
    host: EcrHost,
    options: { refresh?: boolean } = {},
  ): Promise<EcrToken> {
    // A token is good for every registry the role may reach in its region.
    const key = host.kind === 'public' ? 'public' : host.region;
    const cached = tokens.get(key);
    if (cached !== undefined && options.refresh !== true) {
      const settled = await cached.catch(() => undefined);
      if (settled !== undefined && deps.clock() < settled.refreshAt) {
        return settled;
      }
      if (tokens.get(key) !== cached) return token(host, options);
    }
    const pending = fetchToken(host);
    tokens.set(key, pending);
    try {
      return await pending;
    } catch (error) {
      if (tokens.get(key) === pending) tokens.delete(key);
      throw error;
    }
  }

  async function ensureRepository(
    repo: Repository,
    options: { movingTag?: string } = {},
  ): Promise<EnsureRepositoryResult> {
    const host = parseEcrHost(repo.registry);
    if (host === undefined) return { status: 'not-ecr' };
    if (!deps.createRepositories) return { status: 'disabled' };

    const key = `${repo.registry}/${repo.name}`;
    let mutability = repositories.get(key);
    let status: 'exists' | 'created' = 'exists';
    if (mutability === undefined) {
      const found = await findOrCreate(host, repo);
      mutability = found.mutability;
      status = found.status;
      repositories.set(key, mutability);
    }
    if (options.movingTag !== undefined) {
      refuseImmutable(repo, mutability, options.movingTag);
    }

    return { status, mutability };
  }

  async function findOrCreate(
    host: EcrHost,
    repo: Repository,
  ): Promise<{ status: 'exists' | 'created'; mutability: TagMutability }> {
    const name = apiRepositoryName(host, repo);
    try {
      const existing = await describe(host, name);
      if (existing !== undefined)
        return { status: 'exists', mutability: existing };
      try {
        const created = await create(host, name);
        deps.log.info('created ECR repository', {
          registry: repo.registry,
          repository: repo.name,
        });
        return { status: 'created', mutability: created };
      } catch (error) {
        if (
          !(error instanceof RepositoryAlreadyExistsException) &&
          !(error instanceof PublicRepositoryAlreadyExistsException)
        ) {
          throw error;
        }
        // Another invocation created it between our describe and create.
        deps.log.debug('ECR repository created concurrently', {
          registry: repo.registry,
          repository: repo.name,
        });
        const raced = await describe(host, name);
        return {
          status: 'exists',
          mutability: raced ?? { setting: 'MUTABLE', exclusions: [] },
        };
      }
    } catch (error) {
      const kind = awsErrorKind(error);
      const hint =
        kind === 'access-denied'
          ? `; grant ${host.kind === 'public' ? 'ecr-public' : 'ecr'}:DescribeRepositories and :CreateRepository on it, or set ECR_CREATE_REPOSITORIES=false and create it yourself`
          : '';
      throw new CredentialsError(
        'REPOSITORY_UNAVAILABLE',
        repo.registry,
        `ensuring ECR repository ${repo.registry}/${repo.name} exists failed (${errorName(error) || 'error'})${hint}`,
        { cause: error, retryable: kind !== 'access-denied' },
      );
    }
  }

  async function describe(
    host: EcrHost,
    name: string,
  ): Promise<TagMutability | undefined> {
    try {
      if (host.kind === 'public') {
        await retryThrottled(
          () =>
            deps.ecrPublicClient().send(
              new DescribePublicRepositoriesCommand({
                repositoryNames: [name],
              }),
            ),
          deps.sleep,
        );
        // ECR Public has no tag immutability.
        return { setting: 'MUTABLE', exclusions: [] };
      }
      const out = await retryThrottled(
        () =>
          deps.ecrClient(host.region).send(
            new DescribeRepositoriesCommand({
              registryId: host.accountId,
              repositoryNames: [name],
            }),
          ),
        deps.sleep,
      );
      const found = out.repositories?.[0];
      return {
        setting: found?.imageTagMutability ?? 'MUTABLE',
        exclusions: filters(found?.imageTagMutabilityExclusionFilters),
      };
    } catch (error) {
      if (
        error instanceof RepositoryNotFoundException ||
        error instanceof PublicRepositoryNotFoundException
      ) {
        return undefined;
      }
      throw error;
    }
  }

  async function create(host: EcrHost, name: string): Promise<TagMutability> {
    if (host.kind === 'public') {
      await deps
        .ecrPublicClient()
        .send(new CreatePublicRepositoryCommand({ repositoryName: name }));
      return { setting: 'MUTABLE', exclusions: [] };
    }
    // Mutable, because the target's Tag moves to each new revision.
    await deps.ecrClient(host.region).send(
      new CreateRepositoryCommand({
        registryId: host.accountId,
        repositoryName: name,
        imageTagMutability: 'MUTABLE',
      }),
    );
    return { setting: 'MUTABLE', exclusions: [] };
  }

  return { token, ensureRepository };
}

/** ECR Public names start with the registry alias, which the API leaves out. */
function apiRepositoryName(host: EcrHost, repo: Repository): string {
  if (host.kind === 'private') return repo.name;
  const slash = repo.name.indexOf('/');
  return slash === -1 ? repo.name : repo.name.slice(slash + 1);
}

function filters(
  list: ImageTagMutabilityExclusionFilter[] | undefined,
): string[] {
  return (list ?? []).flatMap((f) =>
    f.filter === undefined ? [] : [f.filter],
  );
}

/** True when ECR would refuse to move `tag` in a repository with these settings. */
export function isTagImmutable(
  mutability: TagMutability,
  tag: string,
): boolean {
  const excluded = mutability.exclusions.some((pattern) =>
    wildcard(pattern).test(tag),
  );
  switch (mutability.setting) {
    case 'IMMUTABLE':
      return true;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !excluded;
    case 'MUTABLE_WITH_EXCLUSION':
      return excluded;
    default:
      return false;
  }
}

function refuseImmutable(
  repo: Repository,
  mutability: TagMutability,
  tag: string,
): void {
  if (!isTagImmutable(mutability, tag)) return;
  throw new CredentialsError(
    'IMMUTABLE_REPOSITORY',
    repo.registry,
    `ECR repository ${repo.registry}/${repo.name} has immutable tags (${mutability.setting}), so the target's Tag "${tag}" cannot move to a new revision; make its tags mutable (aws ecr put-image-tag-mutability --repository-name ${repo.name} --image-tag-mutability MUTABLE), exclude "${tag}" from immutability, or clear Tag on the target`,
  );
}

/** An ECR exclusion filter: `*` matches any run of characters. */
function wildcard(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}
