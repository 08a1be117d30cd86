import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  processGroupAlive,
  registryAvailable,
  startRegistry,
  type TestRegistry,
} from '../support/registry.js';
import { seedArtifact } from '../support/seed.js';
import {
  copyToLayout,
  extractFluxContent,
  inspectRaw,
  listTags,
  readLayoutManifest,
  SkopeoError,
  skopeoCopyFromLayout,
} from '../support/skopeo.js';

const CONTENT =
  'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: harness\ndata:\n  a: "1"\n';

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function jwtPayload(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(
    Buffer.from(payload, 'base64url').toString('utf8'),
  ) as Record<string, unknown>;
}

async function getV2(
  registry: TestRegistry,
  authorization?: string,
): Promise<Response> {
  const response = await fetch(`${registry.url}/v2/`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  await response.arrayBuffer();

  return response;
}

/** Gone, or a zombie waiting for PID 1 to reap it. */
function registryGone(pid: number): boolean {
  if (!processGroupAlive(pid)) {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Polls `check` until it holds or 10 s pass; returns its last answer. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !check(); i++) {
    await sleep(50);
  }
  return check();
}

async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'harness-test-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('test harness', () => {
  it('finds docker-registry and skopeo on the PATH', () => {
    assert.equal(registryAvailable(), true);
  });

  describe("when auth is 'none'", () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startRegistry();
    });
    after(async () => {
      await registry.stop();
    });

    it('listens on a loopback port and answers GET /v2/ with 200', async () => {
      assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
      assert.equal(registry.url, `http://${registry.host}`);

      const response = await getV2(registry);

      assert.equal(response.status, 200);
    });

    it('serves a seeded artifact that skopeo reads back byte for byte', async () => {
      const seeded = await seedArtifact(registry, {
        repository: 'acme/app',
        tags: ['rev1', 'latest'],
        content: CONTENT,
        annotations: { 'com.confighub.revision': '1' },
      });

      const inspected = await inspectRaw(`${registry.host}/acme/app:latest`);
      const tags = await listTags(`${registry.host}/acme/app`);

      assert.deepEqual(inspected.raw, seeded.manifest);
      assert.equal(inspected.digest, seeded.digest);
      assert.equal(inspected.json.annotations?.['com.confighub.revision'], '1');
      assert.deepEqual(tags.sort(), ['latest', 'rev1']);
    });

    it('copies to an OCI layout and extracts manifest.yaml from it', async () => {
      const seeded = await seedArtifact(registry, {
        repository: 'acme/layout',
        tags: ['rev2'],
        content: CONTENT,
      });

      await withTempDir(async (dir) => {
        await copyToLayout(`${registry.host}/acme/layout:rev2`, dir, 'rev2');
        const manifest = await readLayoutManifest(dir, 'rev2');
        const content = await extractFluxContent(dir, 'rev2');

        assert.equal(manifest?.digest, seeded.digest);
        assert.equal(content.toString('utf8'), CONTENT);
        assert.equal(await readLayoutManifest(dir, 'absent'), undefined);
      });
    });

    it('accepts a skopeo copy from an OCI layout with the same digest', async () => {
      const seeded = await seedArtifact(registry, {
        repository: 'acme/source',
        tags: ['rev3'],
      });

      await withTempDir(async (dir) => {
        await copyToLayout(`${registry.host}/acme/source:rev3`, dir, 'rev3');
        await skopeoCopyFromLayout(
          dir,
          'rev3',
          `${registry.host}/acme/copy:v3`,
        );
      });
      const copied = await inspectRaw(`${registry.host}/acme/copy:v3`);

      assert.equal(copied.digest, seeded.digest);
    });

    it('deletes a manifest by digest, after which skopeo finds no tag', async () => {
      const seeded = await seedArtifact(registry, {
        repository: 'acme/gone',
        tags: ['rev4'],
      });

      const response = await fetch(
        `${registry.url}/v2/acme/gone/manifests/${seeded.digest}`,
        { method: 'DELETE' },
      );
      await response.arrayBuffer();

      assert.equal(response.status, 202);
      await assert.rejects(
        inspectRaw(`${registry.host}/acme/gone:rev4`),
        (error: unknown) => error instanceof SkopeoError && error.notFound,
      );
    });
  });

  describe("when auth is 'basic'", () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startRegistry({
        auth: 'basic',
        users: [
          { username: 'alice', password: 'correct horse' },
          { username: 'bob', password: 'battery staple' },
        ],
      });
    });
    after(async () => {
      await registry.stop();
    });

    it('challenges GET /v2/ with Basic', async () => {
      const response = await getV2(registry);

      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Basic /);
    });

    it('lets each configured user in with its password', async () => {
      const alice = await getV2(registry, basic('alice', 'correct horse'));
      const bob = await getV2(registry, basic('bob', 'battery staple'));

      assert.equal(alice.status, 200);
      assert.equal(bob.status, 200);
    });

    it('refuses a wrong password and an unknown user', async () => {
      const wrong = await getV2(registry, basic('alice', 'battery staple'));
      const unknown = await getV2(registry, basic('carol', 'correct horse'));

      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
    });

    it('lets skopeo read a pushed artifact with credentials, not without', async () => {
      const seeded = await seedArtifact(registry, {
        repository: 'acme/private',
        tags: ['rev1'],
      });
      const ref = `${registry.host}/acme/private:rev1`;

      const inspected = await inspectRaw(ref, {
        creds: { username: 'bob', password: 'battery staple' },
      });

      assert.equal(inspected.digest, seeded.digest);
      await assert.rejects(inspectRaw(ref), SkopeoError);
    });
  });

  describe("when auth is 'token'", () => {
    const alice = { username: 'alice', password: 'correct horse' };
    const reader = {
      username: 'reader',
      password: 'read only',
      actions: ['pull'],
    };
    let registry: TestRegistry;
    let tokenUrl: string;
    before(async () => {
      registry = await startRegistry({ auth: 'token', users: [alice, reader] });
      tokenUrl = registry.tokenServer?.url ?? '';
    });
    after(async () => {
      await registry.stop();
    });

    async function requestToken(
      query: string,
      authorization?: string,
    ): Promise<{ status: number; body: Record<string, unknown> }> {
      const response = await fetch(
        `${tokenUrl}?service=${registry.service}&${query}`,
        { headers: authorization === undefined ? {} : { authorization } },
      );

      return {
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
      };
    }

    it('challenges GET /v2/ with Bearer, realm the token server', async () => {
      const response = await getV2(registry);

      assert.equal(response.status, 401);
      assert.equal(
        response.headers.get('www-authenticate'),
        `Bearer realm="${tokenUrl}",service="${registry.service}"`,
      );
      assert.match(tokenUrl, /^http:\/\/127\.0\.0\.1:\d+\/token$/);
    });

    it('issues a token to a user that opens /v2/', async () => {
      const { status, body } = await requestToken(
        'scope=repository:acme/app:pull,push',
        basic(alice.username, alice.password),
      );

      const response = await getV2(registry, `Bearer ${String(body.token)}`);

      assert.equal(status, 200);
      assert.equal(body.access_token, body.token);
      assert.equal(body.expires_in, 300);
      assert.equal(typeof body.issued_at, 'string');
      assert.equal(body.refresh_token, undefined);
      assert.equal(response.status, 200);
    });

    it('grants only the requested actions the user may have', async () => {
      const { body } = await requestToken(
        'scope=repository:acme/app:pull,push&scope=repository:acme/other:pull',
        basic(reader.username, reader.password),
      );

      const claims = jwtPayload(String(body.token));

      assert.deepEqual(claims.access, [
        { type: 'repository', name: 'acme/app', actions: ['pull'] },
        { type: 'repository', name: 'acme/other', actions: ['pull'] },
      ]);
      assert.equal(claims.aud, registry.service);
      assert.equal(claims.sub, 'reader');
    });

    it('refuses a wrong password and anonymous requests', async () => {
      const wrong = await requestToken(
        'scope=repository:acme/app:pull',
        basic(alice.username, 'battery staple'),
      );
      const anonymous = await requestToken('scope=repository:acme/app:pull');

      assert.equal(wrong.status, 401);
      assert.equal(anonymous.status, 401);
      assert.equal(JSON.stringify(wrong.body).includes('token'), false);
    });

    it('lets skopeo push and read through the token flow', async () => {
      const seeded = await seedArtifact(registry, {
        repository: 'acme/token',
        tags: ['rev1'],
      });
      registry.tokenServer?.resetCount();

      await withTempDir(async (dir) => {
        await copyToLayout(`${registry.host}/acme/token:rev1`, dir, 'rev1', {
          creds: alice,
        });
        await skopeoCopyFromLayout(
          dir,
          'rev1',
          `${registry.host}/acme/pushed:rev1`,
          { creds: alice },
        );
      });
      const pushed = await inspectRaw(`${registry.host}/acme/pushed:rev1`, {
        creds: alice,
      });
      const log = registry.tokenServer?.requestLog ?? [];

      assert.equal(pushed.digest, seeded.digest);
      assert.ok(log.length > 0);
      assert.ok(log.every((entry) => entry.username === 'alice'));
      assert.ok(
        log.some((entry) =>
          entry.access.some(
            (a) => a.name === 'acme/pushed' && a.actions.includes('push'),
          ),
        ),
      );
    });

    it('keeps a read-only user from pushing', async () => {
      await seedArtifact(registry, { repository: 'acme/ro', tags: ['rev1'] });

      await withTempDir(async (dir) => {
        await copyToLayout(`${registry.host}/acme/ro:rev1`, dir, 'rev1', {
          creds: reader,
        });

        await assert.rejects(
          skopeoCopyFromLayout(dir, 'rev1', `${registry.host}/acme/ro:rev2`, {
            creds: reader,
          }),
          SkopeoError,
        );
      });
    });

    it('issues a refresh token on offline_token=true and honours it', async () => {
      const offline = await requestToken(
        'scope=repository:acme/app:pull&offline_token=true&client_id=harness',
        basic(alice.username, alice.password),
      );

      const refreshed = await fetch(tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: String(offline.body.refresh_token),
          service: registry.service ?? '',
          scope: 'repository:acme/app:pull',
          client_id: 'harness',
        }),
      });
      const body = (await refreshed.json()) as Record<string, unknown>;

      assert.equal(typeof offline.body.refresh_token, 'string');
      assert.equal(refreshed.status, 200);
      assert.equal(body.refresh_token, offline.body.refresh_token);
      assert.equal(
        (await getV2(registry, `Bearer ${String(body.access_token)}`)).status,
        200,
      );
    });

    it('answers the refresh grant for an identity token, not once revoked', async () => {
      const server = registry.tokenServer;
      assert.ok(server);
      const identityToken = server.issueRefreshToken('alice');
      const refresh = async () => {
        const response = await fetch(tokenUrl, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: identityToken,
            service: registry.service ?? '',
            scope: 'repository:acme/app:pull,push',
          }),
        });
        await response.arrayBuffer();
        return response.status;
      };

      const before = await refresh();
      server.revokeRefreshToken(identityToken);
      const afterRevoke = await refresh();

      assert.equal(before, 200);
      assert.equal(afterRevoke, 401);
    });

    it('answers the password grant', async () => {
      const response = await fetch(tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'password',
          username: alice.username,
          password: alice.password,
          service: registry.service ?? '',
          scope: 'repository:acme/app:pull',
          access_type: 'offline',
        }),
      });
      const body = (await response.json()) as Record<string, unknown>;

      assert.equal(response.status, 200);
      assert.equal(typeof body.access_token, 'string');
      assert.equal(typeof body.refresh_token, 'string');
    });

    it('counts requests and refuses every one while told to', async () => {
      const server = registry.tokenServer;
      assert.ok(server);
      server.resetCount();

      server.refuse(503);
      const refused = await requestToken(
        'scope=repository:acme/app:pull',
        basic(alice.username, alice.password),
      );
      server.accept();
      const accepted = await requestToken(
        'scope=repository:acme/app:pull',
        basic(alice.username, alice.password),
      );

      assert.equal(refused.status, 503);
      assert.equal(accepted.status, 200);
      assert.equal(server.requests, 2);
      assert.deepEqual(
        server.requestLog.map((entry) => entry.status),
        [503, 200],
      );
    });

    it('issues tokens the registry refuses as expired while told to', async () => {
      const server = registry.tokenServer;
      assert.ok(server);
      const ask = () =>
        requestToken(
          'scope=repository:acme/app:pull',
          basic(alice.username, alice.password),
        );

      server.issueExpiredTokens(true);
      const stale = await ask();
      server.issueExpiredTokens(false);
      const fresh = await ask();

      assert.equal(stale.body.expires_in, 300);
      assert.equal(
        (await getV2(registry, `Bearer ${String(stale.body.token)}`)).status,
        401,
      );
      assert.equal(
        (await getV2(registry, `Bearer ${String(fresh.body.token)}`)).status,
        200,
      );
    });

    it('mints tokens for raw HTTP without counting a request', async () => {
      const server = registry.tokenServer;
      assert.ok(server);
      server.resetCount();

      const authorization = await registry.authorization({
        scopes: ['repository:acme/app:pull'],
      });

      assert.equal((await getV2(registry, authorization)).status, 200);
      assert.equal(server.requests, 0);
    });
  });

  describe('when the registry is stopped', () => {
    it('ends the registry process group and removes its files', async () => {
      const registry = await startRegistry({ auth: 'token' });
      const tokenUrl = registry.tokenServer?.url ?? '';

      await registry.stop();
      await registry.stop();

      assert.equal(processGroupAlive(registry.pid), false);
      assert.equal(existsSync(registry.storageDir), false);
      await assert.rejects(fetch(`${registry.url}/v2/`));
      await assert.rejects(fetch(tokenUrl));
    });

    it('ends the registry even when the test process is killed', async () => {
      const holder = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'hold-registry.ts')],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = once(holder, 'exit');
      const [line] = (await once(
        createInterface({ input: holder.stdout }),
        'line',
      )) as [string];
      const held = JSON.parse(line) as { pid: number; storageDir: string };

      holder.kill('SIGKILL');
      await exited;

      assert.equal(await eventually(() => registryGone(held.pid)), true);
      assert.equal(await eventually(() => !existsSync(held.storageDir)), true);
    });
  });
});
