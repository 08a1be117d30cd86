/**
 * A small token server for the reference registry's `auth.token` mode, in the
 * shape of the Docker token specification: GET /token with Basic credentials
 * (optionally `offline_token=true` for a refresh token) and the OAuth2 POST
 * form with `grant_type=password` or `grant_type=refresh_token`.
 *
 * Tokens are JWTs signed RS256 by a self-signed certificate carried in the
 * `x5c` header; the registry trusts that certificate through its
 * `rootcertbundle`. This is test support: it never logs, and its request log
 * holds user names and scopes but never passwords or tokens.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** A user known to the registry (basic mode) or the token server. */
export interface TestUser {
  username: string;
  password: string;
  /**
   * Actions this user may be granted, e.g. `['pull']` for a read-only user.
   * Default: pull, push, delete and `*`.
   */
  actions?: readonly string[];
}

/** One entry of a token's `access` claim. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** How a token request authenticated itself. */
export type TokenGrant = 'basic' | 'password' | 'refresh_token' | 'anonymous';

/** What the token server saw and answered, without any secret. */
export interface TokenRequestRecord {
  method: string;
  grant: TokenGrant | 'unsupported';
  username?: string;
  /** Scopes as requested, e.g. `repository:acme/app:pull,push`. */
  scopes: string[];
  status: number;
  /** Access granted; empty when refused. */
  access: AccessEntry[];
  /** Whether the answer carried a refresh token. */
  refreshToken: boolean;
}

export interface TokenServerOptions {
  users: readonly TestUser[];
  /** Registry's service name, the tokens' audience. */
  service: string;
  issuer?: string;
  /** Lifetime of issued tokens (expires_in and exp). Default 300. */
  ttlSeconds?: number;
  /** Grant `pull` to requests without credentials. Default false. */
  anonymousPull?: boolean;
}

export interface TokenServer {
  /** The realm: `http://127.0.0.1:PORT/token`. */
  readonly url: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM of the signing certificate, for the registry's rootcertbundle. */
  readonly certificatePem: string;
  /** Token requests received (all grants, refused ones too). */
  readonly requests: number;
  /** Every request, oldest first. */
  readonly requestLog: readonly TokenRequestRecord[];
  /** Sets requests and requestLog back to zero. */
  resetCount(): void;
  /**
   * Answers every following request with `status` (default 401), whatever
   * its credentials, until accept() is called.
   */
  refuse(status?: number): void;
  accept(): void;
  /**
   * While on, issued tokens carry an `exp` two minutes past (beyond the
   * registry's 60 s leeway) yet `expires_in` still says they are fresh: the
   * registry answers 401 to them, which drives a client's re-auth path.
   */
  issueExpiredTokens(on: boolean): void;
  /**
   * Issues a refresh token for a known user without an HTTP request, as a
   * docker config `identitytoken` would hold.
   */
  issueRefreshToken(username: string): string;
  /** Forgets a refresh token: later refresh grants with it get 401. */
  revokeRefreshToken(refreshToken: string): void;
  /** Signs a registry token directly, without counting a request. */
  mint(claims: {
    subject?: string;
    access: AccessEntry[];
    ttlSeconds?: number;
  }): Promise<string>;
  close(): Promise<void>;
}

const DEFAULT_ACTIONS = ['pull', 'push', 'delete', '*'];
/** Distribution 2.8.2 accepts tokens up to 60 s past exp (measured). */
const EXPIRED_AGE_SECONDS = 120;

interface Issuer {
  privateKey: webcrypto.CryptoKey;
  certificateDer: Buffer;
  certificatePem: string;
}

let issuerPromise: Promise<Issuer> | undefined;

/** One RSA key and certificate per process: key generation is the slow part. */
function sharedIssuer(): Promise<Issuer> {
  issuerPromise ??= createIssuer();
  return issuerPromise;
}

async function createIssuer(): Promise<Issuer> {
  // Loaded on first use: importing @peculiar/x509 takes about 1.5 s here,
  // which test files that never start token mode should not pay. It resolves
  // its algorithms through tsyringe, which needs the Reflect polyfill first.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const algorithm = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
  };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ]);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(8).toString('hex'),
      name: 'CN=confighub-flux-oci test token issuer',
      notBefore: new Date(now - 60 * 60 * 1000),
      notAfter: new Date(now + 24 * 60 * 60 * 1000),
      keys,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
          true,
        ),
        new x509.BasicConstraintsExtension(true, undefined, true),
      ],
    },
    webcrypto,
  );

  return {
    privateKey: keys.privateKey,
    certificateDer: Buffer.from(certificate.rawData),
    certificatePem: certificate.toString('pem'),
  };
}

function base64url(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

async function signJwt(
  issuer: Issuer,
  payload: Record<string, unknown>,
): Promise<string> {
  const header = {
    typ: 'JWT',
    alg: 'RS256',
    x5c: [issuer.certificateDer.toString('base64')],
  };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = await webcrypto.subtle.sign(
    'RSASSA-PKCS1-v1_5',
    issuer.privateKey,
    Buffer.from(input),
  );

  return `${input}.${base64url(new Uint8Array(signature))}`;
}

/** Parses `type:name:actions`; the name may itself hold colons. */
function parseScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) {
    return undefined;
  }
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter((action) => action !== ''),
  };
}

/** Grants each requested scope the actions among `allowed`; drops the rest. */
export function grantAccess(
  scopes: readonly string[],
  allowed: readonly string[],
): AccessEntry[] {
  const access: AccessEntry[] = [];
  for (const scope of scopes) {
    const requested = parseScope(scope);
    if (requested === undefined) {
      continue;
    }
    const actions = requested.actions.filter((a) => allowed.includes(a));
    if (actions.length > 0) {
      access.push({ ...requested, actions });
    }
  }

  return access;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }

  return Buffer.concat(chunks).toString('utf8');
}

function parseBasic(
  header: string | undefined,
): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (match?.[1] === undefined) {
    return undefined;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    return undefined;
  }

  return {
    username: decoded.slice(0, colon),
    password: decoded.slice(colon + 1),
  };
}

/** Scope parameters may repeat, and each may hold several space-separated. */
function scopesOf(params: URLSearchParams): string[] {
  return params
    .getAll('scope')
    .flatMap((value) => value.split(' '))
    .filter((scope) => scope !== '');
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    ...headers,
  });
  response.end(JSON.stringify(body));
}

/** Starts a token server on a free loopback port. */
export async function startTokenServer(
  options: TokenServerOptions,
): Promise<TokenServer> {
  const issuerKey = await sharedIssuer();
  const issuer = options.issuer ?? 'confighub-flux-oci-test-issuer';
  const ttlSeconds = options.ttlSeconds ?? 300;
  const refreshTokens = new Map<string, string>();
  let log: TokenRequestRecord[] = [];
  let refusal: number | undefined;
  let expired = false;

  const findUser = (username: string, password: string) =>
    options.users.find(
      (user) => user.username === username && user.password === password,
    );
  const actionsOf = (username: string) =>
    options.users.find((user) => user.username === username)?.actions ??
    DEFAULT_ACTIONS;

  const mint: TokenServer['mint'] = async (claims) => {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(issuerKey, {
      iss: issuer,
      sub: claims.subject ?? '',
      aud: options.service,
      exp: now + (claims.ttlSeconds ?? ttlSeconds),
      nbf: now - 1,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access: claims.access,
    });
  };

  const issueRefreshToken = (username: string): string => {
    if (!options.users.some((user) => user.username === username)) {
      throw new Error(`unknown user ${username}: add it to the users option`);
    }
    const token = randomBytes(24).toString('base64url');
    refreshTokens.set(token, username);

    return token;
  };

  const handle = async (
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://token.invalid');
    const method = request.method ?? 'GET';
    const form =
      method === 'POST'
        ? new URLSearchParams(await readBody(request))
        : url.searchParams;
    const scopes = scopesOf(form);
    const record: TokenRequestRecord = {
      method,
      grant: 'unsupported',
      scopes,
      status: 0,
      access: [],
      refreshToken: false,
    };
    log.push(record);

    const fail = (status: number, error: string, detail: string) => {
      record.status = status;
      const headers: Record<string, string> =
        status === 401 ? { 'www-authenticate': 'Basic realm="token"' } : {};
      sendJson(
        response,
        status,
        { error, error_description: detail, details: detail },
        headers,
      );
    };

    if (url.pathname !== '/token' || (method !== 'GET' && method !== 'POST')) {
      fail(404, 'not_found', `no route ${method} ${url.pathname}`);
      return;
    }
    if (refusal !== undefined) {
      fail(refusal, 'refused', 'this token server was told to refuse');
      return;
    }
    if (form.get('service') !== options.service) {
      fail(400, 'invalid_request', `service must be ${options.service}`);
      return;
    }

    let username: string | undefined;
    let withRefresh = false;
    let refreshToken: string | undefined;
    if (method === 'GET') {
      const basic = parseBasic(request.headers.authorization);
      record.grant = basic === undefined ? 'anonymous' : 'basic';
      if (basic !== undefined) {
        if (findUser(basic.username, basic.password) === undefined) {
          record.username = basic.username;
          fail(401, 'unauthorized', 'wrong user name or password');
          return;
        }
        username = basic.username;
        withRefresh = form.get('offline_token') === 'true';
      }
    } else {
      const grantType = form.get('grant_type');
      if (grantType === 'password') {
        record.grant = 'password';
        const user = findUser(
          form.get('username') ?? '',
          form.get('password') ?? '',
        );
        record.username = form.get('username') ?? undefined;
        if (user === undefined) {
          fail(401, 'unauthorized', 'wrong user name or password');
          return;
        }
        username = user.username;
        withRefresh = form.get('access_type') === 'offline';
      } else if (grantType === 'refresh_token') {
        record.grant = 'refresh_token';
        refreshToken = form.get('refresh_token') ?? '';
        username = refreshTokens.get(refreshToken);
        if (username === undefined) {
          fail(401, 'invalid_grant', 'unknown or revoked refresh token');
          return;
        }
        withRefresh = true;
      } else {
        fail(400, 'unsupported_grant_type', `grant_type ${grantType}`);
        return;
      }
    }

    record.username = username;
    const allowed =
      username === undefined
        ? options.anonymousPull === true
          ? ['pull']
          : undefined
        : actionsOf(username);
    if (allowed === undefined) {
      fail(401, 'unauthorized', 'credentials required');
      return;
    }

    const access = grantAccess(scopes, allowed);
    const token = await mint({
      subject: username ?? '',
      access,
      ttlSeconds: expired ? -EXPIRED_AGE_SECONDS : ttlSeconds,
    });
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: ttlSeconds,
      issued_at: new Date().toISOString(),
    };
    if (withRefresh && username !== undefined) {
      body.refresh_token = refreshToken ?? issueRefreshToken(username);
      record.refreshToken = true;
    }
    record.status = 200;
    record.access = access;
    sendJson(response, 200, body);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!response.headersSent) {
        sendJson(response, 500, { error: 'internal', details: message });
      } else {
        response.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // A test that forgets close() must not keep its process alive.
  server.unref();
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/token`,
    service: options.service,
    issuer,
    certificatePem: issuerKey.certificatePem,
    get requests() {
      return log.length;
    },
    get requestLog() {
      return log;
    },
    resetCount() {
      log = [];
    },
    refuse(status = 401) {
      refusal = status;
    },
    accept() {
      refusal = undefined;
    },
    issueExpiredTokens(on) {
      expired = on;
    },
    issueRefreshToken,
    revokeRefreshToken(token) {
      refreshTokens.delete(token);
    },
    mint,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
