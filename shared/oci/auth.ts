/**
 * Authentication against a registry (distribution spec "Authentication",
 * Docker's token spec): ping `/v2/`, follow the challenge — none, Basic or
 * Bearer — and cache what was learnt in module scope, so that warm Lambda
 * invocations neither ping nor fetch a token again until it nearly expires.
 * None of these requests count towards an operation's request count.
 */
import { createHash } from 'node:crypto';
import { silentLog, type Log } from '../log.js';
import { HEADER } from './constants.js';
import type { CredentialProvider, RegistryCredential } from './credential.js';
import { parseChallenges, type Challenge } from './challenge.js';
import {
  assertSafeEndpoint,
  redactUrl,
  type EndpointPolicy,
} from './endpoint.js';
import { OciError } from './errors.js';
import type { Repository } from './reference.js';
import { responseError, type Transport } from './transport.js';

/** Actions a token is asked for (`repository:<name>:<actions>`). */
export type ScopeAction = 'pull' | 'push' | 'delete';

/** The challenge each registry origin answered; null: no authentication. */
const challenges = new Map<string, Challenge | null>();
/** Bearer tokens by origin, realm, service, scope and credential. */
const tokens = new Map<string, { token: string; expiresAt: number }>();
/** Enough for every unit a container serves; the oldest goes first. */
const MAX_CACHED_TOKENS = 500;
/** The token lifetime the spec assumes when `expires_in` is missing. */
const DEFAULT_TOKEN_SECONDS = 60;
/** Sent as client_id in refresh-token grants (Docker's token spec). */
const CLIENT_ID = 'confighub-flux-oci';

/** Forgets every cached challenge and token (tests, credential rotation). */
export function clearAuthCache(): void {
  challenges.clear();
  tokens.clear();
}

export interface AuthSession {
  /** Incremented on every renewal; read it before {@link header}. */
  readonly generation: number;
  /** The `Authorization` value for the registry's origin, if any. */
  header(): Promise<string | undefined>;
  /**
   * After a 401: adopt the challenge it carried, ask the credential provider
   * once more with `refresh: true`, and fetch a new token. Returns true when
   * the request should be retried (also when a parallel request already
   * renewed since `generation`), false when renewal was already spent.
   */
  renew(generation: number, challenge: string | null): Promise<boolean>;
}

export interface AuthSessionOptions {
  transport: Transport;
  policy: EndpointPolicy;
  base: URL;
  repo: Repository;
  actions: readonly ScopeAction[];
  credentials: CredentialProvider;
  log?: Log;
  signal?: AbortSignal;
}

/** One operation's view of authentication to one repository. */
export function createAuthSession(options: AuthSessionOptions): AuthSession {
  const log = options.log ?? silentLog;
  const origin = options.base.origin;
  const registry = options.repo.registry;
  const scope = `repository:${options.repo.name}:${options.actions.join(',')}`;
  let state: Promise<string | undefined> | undefined;
  let generation = 0;
  let renewed = false;

  async function ping(): Promise<Challenge | null> {
    const url = new URL('/v2/', options.base);
    const response = await options.transport({
      method: 'GET',
      url,
      what: `GET ${redactUrl(url)} (ping)`,
      signal: options.signal,
    });
    if (response.status === 401) {
      const challenge = pickChallenge(
        response.headers.get(HEADER.wwwAuthenticate),
      );
      if (!challenge) {
        throw new OciError(
          'AUTH_FAILED',
          `${registry} answered 401 to GET /v2/ without a Basic or Bearer challenge it can be authenticated with`,
          { status: 401, registry },
        );
      }
      return challenge;
    }
    if (response.status >= 500 || response.status === 429) {
      throw responseError(
        response,
        `GET ${redactUrl(url)} (ping)`,
        '200 or 401',
      );
    }
    // 200, or a registry that keeps /v2/ elsewhere: go on without auth and
    // let a 401 on the real request carry the challenge.
    if (response.status !== 200) {
      log.debug('registry ping did not answer 200 or 401', {
        registry,
        status: response.status,
      });
    }
    return null;
  }

  async function establish(refresh: boolean): Promise<string | undefined> {
    let challenge = challenges.get(origin);
    if (challenge === undefined) {
      challenge = await ping();
      challenges.set(origin, challenge);
    }
    if (challenge === null) return undefined;

    const credential = await resolveCredential(refresh);
    if (credential.kind === 'registryToken')
      return `Bearer ${credential.token}`;
    if (challenge.scheme === 'basic') return basicHeader(credential, registry);

    return `Bearer ${await bearerToken(challenge, credential, refresh)}`;
  }

  /**
   * Asks the credential provider. Its failure becomes one AUTH_FAILED that
   * keeps the provider's message (the resolver lists every source it tried)
   * and its own verdict on retrying (a throttled secret read passes).
   */
  async function resolveCredential(
    refresh: boolean,
  ): Promise<RegistryCredential> {
    try {
      return await options.credentials({
        registry,
        repository: options.repo.name,
        refresh,
      });
    } catch (error) {
      if (error instanceof OciError) throw error;
      const retryable =
        typeof (error as { retryable?: unknown }).retryable === 'boolean'
          ? (error as { retryable: boolean }).retryable
          : false;
      throw new OciError(
        'AUTH_FAILED',
        `credentials for ${registry}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, registry, retryable },
      );
    }
  }

  async function bearerToken(
    challenge: Challenge,
    credential: RegistryCredential,
    refresh: boolean,
  ): Promise<string> {
    const realm = realmUrl(challenge, registry, options.policy);
    const service = challenge.params.service;
    const key = [
      origin,
      realm.href,
      service ?? '',
      scope,
      fingerprint(credential),
    ].join('\n');
    const cached = tokens.get(key);
    if (!refresh && cached && cached.expiresAt > Date.now()) {
      return cached.token;
    }

    const fetched = await fetchToken(realm, service, credential);
    tokens.delete(key);
    if (tokens.size >= MAX_CACHED_TOKENS) {
      const oldest = tokens.keys().next();
      if (!oldest.done) tokens.delete(oldest.value);
    }
    tokens.set(key, fetched);

    return fetched.token;
  }

  async function fetchToken(
    realm: URL,
    service: string | undefined,
    credential: RegistryCredential,
  ): Promise<{ token: string; expiresAt: number }> {
    const url = new URL(realm);
    const headers: Record<string, string> = {};
    let body: Uint8Array | undefined;
    let method: 'GET' | 'POST' = 'GET';

    if (credential.kind === 'identityToken') {
      // OAuth2 refresh-token grant (Docker token spec, "OAuth2 token").
      method = 'POST';
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credential.identityToken,
        client_id: CLIENT_ID,
        scope,
      });
      if (service !== undefined) form.set('service', service);
      body = new TextEncoder().encode(form.toString());
      headers[HEADER.contentType] = 'application/x-www-form-urlencoded';
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      url.searchParams.set('scope', scope);
      if (credential.kind === 'basic') {
        headers[HEADER.authorization] = basicHeader(credential, registry);
      }
    }

    const what = `${method} token ${redactUrl(url)}`;
    const started = Date.now();
    const response = await options.transport({
      method,
      url,
      headers,
      body,
      what,
      signal: options.signal,
    });
    if (response.status === 401 || response.status === 403) {
      throw responseError(response, what, '200', {
        code: 'AUTH_FAILED',
        hint: `the token service refused the credentials for ${scope}; check the registry secret`,
      });
    }
    if (response.status !== 200) throw responseError(response, what, '200');

    const parsed = parseTokenResponse(response.body);
    if (!parsed) {
      throw new OciError(
        'AUTH_FAILED',
        `${what}: the answer holds no token or access_token`,
        { status: response.status, registry },
      );
    }
    const seconds = parsed.expiresIn ?? DEFAULT_TOKEN_SECONDS;
    // Stop using a token shortly before it expires: 30 s, or half of a
    // short lifetime, so a request never arrives with an expired one.
    const marginSeconds = Math.min(30, seconds / 2);
    log.debug('registry token fetched', {
      registry,
      scope,
      expiresIn: seconds,
    });

    return {
      token: parsed.token,
      expiresAt: started + (seconds - marginSeconds) * 1000,
    };
  }

  return {
    get generation() {
      return generation;
    },
    header() {
      state ??= establish(false).catch(async (error: unknown) => {
        // The token service refused the credential: the same one-time
        // renewal as a 401 from the registry (a rotated secret).
        if (!isRefusedCredential(error) || renewed) throw error;
        renewed = true;
        generation++;
        log.debug('token service refused the credential, renewing once', {
          registry,
        });
        return establish(true);
      });
      return state;
    },
    async renew(seen, header) {
      if (seen !== generation) return true;
      if (renewed) return false;
      renewed = true;
      generation++;
      const challenge = pickChallenge(header);
      if (challenge) challenges.set(origin, challenge);
      log.debug('registry refused the credential, renewing once', { registry });
      state = establish(true);
      await state;

      return true;
    },
  };
}

function isRefusedCredential(error: unknown): boolean {
  return (
    error instanceof OciError &&
    error.code === 'AUTH_FAILED' &&
    (error.status === 401 || error.status === 403)
  );
}

/** Bearer before Basic: a registry offering both prefers tokens. */
function pickChallenge(header: string | null): Challenge | undefined {
  const parsed = parseChallenges(header);
  return (
    parsed.find((c) => c.scheme === 'bearer' && c.params.realm) ??
    parsed.find((c) => c.scheme === 'basic')
  );
}

function realmUrl(
  challenge: Challenge,
  registry: string,
  policy: EndpointPolicy,
): URL {
  let realm: URL;
  try {
    realm = new URL(challenge.params.realm ?? '');
  } catch (error) {
    throw new OciError(
      'AUTH_FAILED',
      `${registry} sent a Bearer challenge whose realm is not an absolute URL`,
      { cause: error, registry },
    );
  }
  assertSafeEndpoint(realm, policy, 'token realm');

  return realm;
}

function basicHeader(credential: RegistryCredential, registry: string): string {
  if (credential.kind === 'basic') {
    const pair = `${credential.username}:${credential.password}`;
    return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
  }
  throw new OciError(
    'AUTH_FAILED',
    credential.kind === 'anonymous'
      ? `${registry} asks for Basic authentication and no credential is configured for it; add a registry secret with username and password`
      : `${registry} asks for Basic authentication but the configured credential is an identity token; use a username and password for this registry`,
    { status: 401, registry },
  );
}

function parseTokenResponse(
  body: Uint8Array,
): { token: string; expiresIn: number | undefined } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  const token = record.token ?? record.access_token;
  if (typeof token !== 'string' || token === '') return undefined;
  const expiresIn =
    typeof record.expires_in === 'number' && record.expires_in > 0
      ? record.expires_in
      : undefined;

  return { token, expiresIn };
}

/** Distinguishes credentials in cache keys without keeping them readable. */
function fingerprint(credential: RegistryCredential): string {
  return createHash('sha256')
    .update(JSON.stringify(credential))
    .digest('hex')
    .slice(0, 32);
}
