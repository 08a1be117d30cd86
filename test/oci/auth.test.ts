import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';

import type { Log } from '../../shared/log.js';
import {
  buildFluxArtifact,
  clearAuthCache,
  createRegistryClient,
  OciError,
  type CredentialRequest,
  type RegistryCredential,
  type Repository,
} from '../../shared/oci/index.js';
import { clearUploadCache } from '../../shared/oci/push.js';
import {
  fakeRegistry,
  recordingFetch,
  startServer,
  type Recorded,
  type ScriptedServer,
} from './scripted.js';

const UNIT = new URL('../fixtures/units/helm-hooks.yaml', import.meta.url);
const PASSWORD = 'pa55-w0rd-s3cret';
const IDENTITY_TOKEN = 'refresh-t0ken-s3cret';

const artifact = async () =>
  buildFluxArtifact({
    content: await readFile(UNIT),
    created: '2025-03-01T10:00:00Z',
    source: 's',
    revision: 'r',
  });

const servers: ScriptedServer[] = [];
beforeEach(() => {
  clearAuthCache();
  clearUploadCache();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A token server that mints `tok-<secret>` and records what it was asked. */
async function tokenServer() {
  const asked: Recorded[] = [];
  const server = await startServer((req, res) => {
    asked.push(req);
    const url = new URL(req.url, 'http://x');
    let secret: string | undefined;
    if (req.method === 'POST') {
      const form = new URLSearchParams(req.body.toString());
      if (form.get('grant_type') === 'refresh_token') {
        secret = form.get('refresh_token') ?? undefined;
      }
    } else {
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      secret = basic
        ? Buffer.from(basic[1]!, 'base64').toString().split(':')[1]
        : 'anonymous';
    }
    if (!secret || url.searchParams.get('service') === 'wrong') {
      res.writeHead(401).end('{"details":"bad credentials"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: `tok-${secret}`, expires_in: 300 }));
  });
  servers.push(server);
  return { server, asked };
}

/** A registry that accepts only `Bearer tok-<accepted>`. */
async function bearerRegistry(realm: string, accepted: () => string) {
  const registry = fakeRegistry({
    singlePost: true,
    before: (req, res) => {
      if (req.headers.authorization === `Bearer tok-${accepted()}`)
        return false;
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="${realm}",service="svc",scope="repository:org/app:pull,push"`,
        })
        .end(
          '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
        );
      return true;
    },
  });
  const server = await startServer(registry.handler);
  servers.push(server);
  return server;
}

const repoAt = (server: ScriptedServer): Repository => ({
  registry: server.host,
  apiHost: server.host,
  name: 'org/app',
});

function recordingProvider(
  answer: (request: CredentialRequest) => RegistryCredential,
) {
  const calls: CredentialRequest[] = [];
  return {
    calls,
    provider: (request: CredentialRequest) => {
      calls.push(request);
      return Promise.resolve(answer(request));
    },
  };
}

describe('registry authentication', () => {
  describe('when the registry asks for a Bearer token and the credential is basic', () => {
    it('fetches one token with service and scope, and reuses it on warm pushes', async () => {
      const tokens = await tokenServer();
      const server = await bearerRegistry(
        `${tokens.server.origin}/token`,
        () => PASSWORD,
      );
      const credentials = recordingProvider(() => ({
        kind: 'basic',
        username: 'u',
        password: PASSWORD,
      }));
      const recorder = recordingFetch();
      const first = createRegistryClient({
        credentials: credentials.provider,
        fetch: recorder.fetch,
      });

      await first.push(repoAt(server), await artifact(), { tags: ['rev1'] });
      const warm = createRegistryClient({
        credentials: credentials.provider,
        fetch: recorder.fetch,
      });
      recorder.reset();
      const again = await warm.push(repoAt(server), await artifact(), {
        tags: ['rev1'],
      });

      assert.equal(tokens.asked.length, 1);
      const url = new URL(tokens.asked[0]!.url, 'http://x');
      assert.equal(url.searchParams.get('service'), 'svc');
      assert.equal(
        url.searchParams.get('scope'),
        'repository:org/app:pull,push',
      );
      assert.equal(server.requests.filter((r) => r.url === '/v2/').length, 1);
      assert.equal(recorder.calls.length, again.requests);
    });
  });

  describe('when the credential is an identity token', () => {
    it('exchanges it with a refresh_token grant', async () => {
      const tokens = await tokenServer();
      const server = await bearerRegistry(
        `${tokens.server.origin}/token`,
        () => IDENTITY_TOKEN,
      );
      const client = createRegistryClient({
        credentials: () =>
          Promise.resolve({
            kind: 'identityToken',
            identityToken: IDENTITY_TOKEN,
          }),
      });

      await client.push(repoAt(server), await artifact(), { tags: ['rev1'] });

      const form = new URLSearchParams(tokens.asked[0]!.body.toString());
      assert.equal(tokens.asked[0]!.method, 'POST');
      assert.equal(form.get('grant_type'), 'refresh_token');
      assert.equal(form.get('service'), 'svc');
      assert.equal(form.get('scope'), 'repository:org/app:pull,push');
    });
  });

  describe('when the registry refuses a cached token (rotated secret)', () => {
    it('asks the provider once more with refresh and retries once', async () => {
      const tokens = await tokenServer();
      let accepted = 'old';
      const server = await bearerRegistry(
        `${tokens.server.origin}/token`,
        () => accepted,
      );
      const credentials = recordingProvider((r) => ({
        kind: 'basic',
        username: 'u',
        password: r.refresh ? 'new' : 'old',
      }));
      const client = createRegistryClient({
        credentials: credentials.provider,
      });
      await client.push(repoAt(server), await artifact(), { tags: ['rev1'] });
      accepted = 'new';
      credentials.calls.length = 0;

      const result = await client.push(repoAt(server), await artifact(), {
        tags: ['rev2'],
      });

      assert.deepEqual(result.tagged, ['rev2']);
      assert.deepEqual(
        credentials.calls.map((c) => c.refresh),
        [false, true],
      );
      assert.deepEqual(credentials.calls[0], {
        registry: server.host,
        repository: 'org/app',
        refresh: false,
      });
    });

    it('fails with a permanent AUTH_FAILED when the fresh credential is refused too', async () => {
      const tokens = await tokenServer();
      const server = await bearerRegistry(
        `${tokens.server.origin}/token`,
        () => 'never',
      );
      const credentials = recordingProvider(() => ({
        kind: 'basic',
        username: 'u',
        password: PASSWORD,
      }));
      const client = createRegistryClient({
        credentials: credentials.provider,
      });

      await assert.rejects(
        client.push(repoAt(server), await artifact(), { tags: ['rev1'] }),
        (e: unknown) =>
          e instanceof OciError &&
          e.code === 'AUTH_FAILED' &&
          !e.retryable &&
          e.status === 401,
      );
      assert.equal(credentials.calls.filter((c) => c.refresh).length, 1);
    });
  });

  describe('when the credential provider itself fails', () => {
    const cases = [
      { title: 'a throttled secret read', retryable: true },
      { title: 'no usable source', retryable: false },
    ];
    for (const { title, retryable } of cases) {
      it(`keeps its message and its retry verdict (${title})`, async () => {
        const tokens = await tokenServer();
        const server = await bearerRegistry(
          `${tokens.server.origin}/token`,
          () => 'never',
        );
        const failure = Object.assign(
          new Error(`tried target-secret: ${title}`),
          { name: 'CredentialsError', retryable },
        );
        const client = createRegistryClient({
          credentials: () => Promise.reject(failure),
        });

        await assert.rejects(
          client.push(repoAt(server), await artifact(), { tags: ['rev1'] }),
          (e: unknown) =>
            e instanceof OciError &&
            e.code === 'AUTH_FAILED' &&
            e.retryable === retryable &&
            e.message.includes(`tried target-secret: ${title}`) &&
            e.cause === failure,
        );
      });
    }
  });

  describe('when the token realm is unsafe', () => {
    const realms = [
      [
        'a link-local metadata address',
        'http://169.254.169.254/latest/meta-data/token',
      ],
      ['the GCP metadata host', 'http://metadata.google.internal/token'],
      ["AWS's IPv6 metadata address", 'http://[fd00:ec2::254]/token'],
      ['plain HTTP to a remote host', 'http://auth.example.com/token'],
    ] as const;
    for (const [title, realm] of realms) {
      it(`refuses ${title} with UNSAFE_ENDPOINT and sends it nothing`, async () => {
        const server = await bearerRegistry(realm, () => PASSWORD);
        const recorder = recordingFetch();
        const client = createRegistryClient({
          credentials: () =>
            Promise.resolve({
              kind: 'basic',
              username: 'u',
              password: PASSWORD,
            }),
          fetch: recorder.fetch,
        });

        await assert.rejects(
          client.push(repoAt(server), await artifact(), { tags: ['rev1'] }),
          (e: unknown) =>
            e instanceof OciError &&
            e.code === 'UNSAFE_ENDPOINT' &&
            !e.retryable,
        );
        assert.deepEqual(
          recorder.calls.map((c) => new URL(c.url).host),
          [server.host],
        );
      });
    }
  });

  describe('when the registry itself is on a metadata address', () => {
    it('refuses before any request', async () => {
      const recorder = recordingFetch();
      const client = createRegistryClient({ fetch: recorder.fetch });
      const repo = {
        registry: '169.254.169.254',
        apiHost: '169.254.169.254',
        name: 'x/y',
      };

      await assert.rejects(
        client.inspect(repo, 'rev1'),
        (e: unknown) => e instanceof OciError && e.code === 'UNSAFE_ENDPOINT',
      );
      assert.equal(recorder.calls.length, 0);
    });
  });
});

describe('secrets in logs and errors', () => {
  describe('when pushes succeed and fail with every kind of credential', () => {
    it('never writes a password, token or signed URL into a log line or an error', async () => {
      const lines: string[] = [];
      const record =
        (level: string) =>
        (message: string, fields?: Record<string, unknown>) =>
          lines.push(JSON.stringify({ level, message, ...fields }));
      const log: Log = {
        debug: record('debug'),
        info: record('info'),
        warn: record('warn'),
        error: record('error'),
      };
      const errors: string[] = [];
      const collect = (e: unknown) => {
        for (let c: unknown = e; c instanceof Error; c = c.cause)
          errors.push(`${c.name}: ${c.message}`);
      };
      const tokens = await tokenServer();
      const good = await bearerRegistry(
        `${tokens.server.origin}/token`,
        () => PASSWORD,
      );
      const refusing = await bearerRegistry(
        `${tokens.server.origin}/token?service=wrong`,
        () => 'x',
      );
      const credentialsList: RegistryCredential[] = [
        { kind: 'basic', username: 'u', password: PASSWORD },
        { kind: 'identityToken', identityToken: IDENTITY_TOKEN },
        { kind: 'registryToken', token: IDENTITY_TOKEN },
      ];

      for (const credential of credentialsList) {
        clearAuthCache();
        const client = createRegistryClient({
          credentials: () => Promise.resolve(credential),
          log,
          retry: { retries: 0 },
        });
        await client
          .push(repoAt(good), await artifact(), { tags: ['rev1'] })
          .catch(collect);
        await client
          .push(repoAt(refusing), await artifact(), { tags: ['rev1'] })
          .catch(collect);
        await client.pull(repoAt(refusing), 'rev1').catch(collect);
      }

      assert.ok(lines.length > 10);
      assert.ok(errors.length >= 6);
      const basic = Buffer.from(`u:${PASSWORD}`).toString('base64');
      for (const text of [...lines, ...errors]) {
        for (const secret of [
          PASSWORD,
          IDENTITY_TOKEN,
          basic,
          `tok-${PASSWORD}`,
          'Bearer ',
          'Basic ',
        ]) {
          assert.ok(
            !text.includes(secret),
            `${JSON.stringify(secret)} appears in: ${text}`,
          );
        }
      }
    });
  });
});
