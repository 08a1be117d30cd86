/**
 * The registry client: an {@link ArtifactStore} over the distribution API.
 * Each public operation authenticates once for its repository, runs the
 * protocol verbs, and passes their errors through unchanged (they already
 * name the request, the status and the registry's answer); anything else is
 * wrapped once here.
 */
import { silentLog, type Log } from '../log.js';
import { LIMIT, MEDIA_TYPE } from './constants.js';
import { extractContent, parseManifest } from './artifact.js';
import { createAuthSession, type ScopeAction } from './auth.js';
import type { CredentialProvider } from './credential.js';
import { endpointPolicy, registryBaseUrl } from './endpoint.js';
import { OciError } from './errors.js';
import {
  deleteManifest,
  getBlob,
  getManifest,
  headManifest,
  type RegistryContext,
} from './protocol.js';
import { pushArtifact, readManifestInfo, validatePushOptions } from './push.js';
import { formatRepository, validateTag, type Repository } from './reference.js';
import { createTransport, type RetryOptions } from './transport.js';
import type { ArtifactStore } from './types.js';

export interface RegistryClientOptions {
  /** Default: anonymous. */
  credentials?: CredentialProvider;
  /** Hosts (`host` or `host:port`) allowed over plain HTTP besides loopback. */
  insecureRegistries?: string[];
  log?: Log;
  /** Per request attempt, body included. Default 30 s. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Injected in tests; Node's global fetch otherwise. */
  fetch?: typeof fetch;
}

const anonymous: CredentialProvider = () =>
  Promise.resolve({ kind: 'anonymous' });

/** Creates a client for any OCI distribution registry. */
export function createRegistryClient(
  options: RegistryClientOptions = {},
): ArtifactStore {
  const log = options.log ?? silentLog;
  const policy = endpointPolicy(options.insecureRegistries);
  const credentials = options.credentials ?? anonymous;
  const transport = createTransport({
    policy,
    log,
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    fetch: options.fetch,
  });

  function context(
    repo: Repository,
    actions: readonly ScopeAction[],
    signal: AbortSignal | undefined,
  ): RegistryContext {
    const base = registryBaseUrl(repo.apiHost, policy);
    const auth = createAuthSession({
      transport,
      policy,
      base,
      repo,
      actions,
      credentials,
      log,
      signal,
    });
    return {
      transport,
      auth,
      repo,
      base,
      counter: { requests: 0 },
      log,
      signal,
    };
  }

  return {
    async push(repo, artifact, pushOptions) {
      validatePushOptions(pushOptions);
      const ctx = context(repo, ['pull', 'push'], pushOptions.signal);
      return boundary('push', repo, async () => {
        // Authenticate before the parallel round, so it starts warm.
        await ctx.auth.header();
        return pushArtifact(ctx, artifact, pushOptions);
      });
    },

    async pull(repo, tag, opts) {
      validateTag(tag);
      const ctx = context(repo, ['pull'], opts?.signal);
      return boundary('pull', repo, async () => {
        const manifest = await getManifest(ctx, tag);
        if (!manifest) return undefined;
        const what = `${formatRepository(repo)}:${tag}`;
        const parsed = parseManifest(manifest.bytes, what);
        const layer = parsed.layers.find(
          (l) => l.mediaType === MEDIA_TYPE.fluxContent,
        );
        if (!layer) {
          throw new OciError(
            'INVALID_ARTIFACT',
            `${what} is not a Flux artifact: no layer of media type ${MEDIA_TYPE.fluxContent} (found ${parsed.layers.map((l) => l.mediaType).join(', ') || parsed.mediaType || 'no layers'})`,
            { registry: repo.registry, digest: manifest.digest },
          );
        }
        const bytes = await getBlob(ctx, layer.digest, LIMIT.content);

        return {
          digest: manifest.digest,
          annotations: parsed.annotations,
          content: await extractContent(bytes),
        };
      });
    },

    async inspect(repo, tag, opts) {
      validateTag(tag);
      const ctx = context(repo, ['pull'], opts?.signal);
      return boundary('inspect', repo, () => readManifestInfo(ctx, tag));
    },

    async delete(repo, tag, opts) {
      validateTag(tag);
      const ctx = context(repo, ['pull', 'delete'], opts?.signal);
      return boundary('delete', repo, async () => {
        // The reference registry refuses DELETE by tag: resolve the digest.
        const head = await headManifest(ctx, tag);
        if (!head) return undefined;
        const deleted = await deleteManifest(ctx, head.digest);

        return deleted ? { digest: head.digest } : undefined;
      });
    },
  };
}

/** Passes OciErrors through; wraps anything unexpected once, with cause. */
async function boundary<T>(
  operation: string,
  repo: Repository,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof OciError) throw error;
    throw new OciError(
      'REGISTRY_ERROR',
      `${operation} ${formatRepository(repo)}: unexpected failure (${error instanceof Error ? error.name : typeof error})`,
      { cause: error, registry: repo.registry },
    );
  }
}
