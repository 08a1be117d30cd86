/**
 * Starts Debian's reference registry (docker-registry, distribution 2.8.2)
 * for a test: a generated config in a temp dir, filesystem storage there,
 * deletes enabled, listening on a free 127.0.0.1 port, with no auth, htpasswd
 * Basic auth, or token auth backed by a token server the harness starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { freeLoopbackPort } from './ports.js';
import {
  grantAccess,
  startTokenServer,
  type TestUser,
  type TokenServer,
} from './token-server.js';

export type {
  AccessEntry,
  TestUser,
  TokenRequestRecord,
  TokenServer,
} from './token-server.js';

export type RegistryAuthMode = 'none' | 'basic' | 'token';

export interface StartRegistryOptions {
  /** Default 'none'. */
  auth?: RegistryAuthMode;
  /**
   * Users for basic and token modes. Default: one user `flux-tester` with a
   * random password.
   */
  users?: TestUser[];
  /** Token mode: lifetime of issued tokens. Default 300. */
  tokenTtlSeconds?: number;
  /** Token mode: grant pull to requests without credentials. Default false. */
  anonymousPull?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of a reference. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly auth: RegistryAuthMode;
  readonly users: readonly TestUser[];
  /** Token mode: the registry's service name (the tokens' audience). */
  readonly service?: string;
  /** Token mode only. */
  readonly tokenServer?: TokenServer;
  /** Where the registry stores blobs and manifests. */
  readonly storageDir: string;
  /** The registry's process id, also its process group id. */
  readonly pid: number;
  /**
   * An Authorization header value for raw HTTP from a test (undefined in
   * 'none' mode). Token mode mints the token directly, so the token server's
   * request count does not move. `scopes` like `repository:acme/app:pull,push`.
   */
  authorization(options?: {
    user?: TestUser;
    scopes?: string[];
  }): Promise<string | undefined>;
  /** The registry's stdout and stderr so far, for failing-test diagnostics. */
  logs(): string;
  /** Kills the registry's process group, stops the token server, removes the temp dir. */
  stop(): Promise<void>;
}

const SERVICE = 'confighub-flux-oci-test-registry';
const BASIC_REALM = 'confighub-flux-oci-test';
const MAX_LOG_CHARS = 256 * 1024;
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 3_000;

/**
 * A watchdog beside each registry: it blocks reading a pipe from the test
 * process, and when that pipe closes (the test process died, even by SIGKILL,
 * so the exit hook never ran) it kills the registry's process group and
 * removes its temp dir. dash's kill takes `-9 -PGID`, not `-- -PGID`.
 */
const WATCHDOG = 'read -r _; kill -9 -"$1" 2>/dev/null; rm -rf -- "$2"';

interface Live {
  pgid: number;
  dir: string;
}

const live = new Set<Live>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const entry of live) {
      killGroup(entry.pgid, 'SIGKILL');
      rmSync(entry.dir, { recursive: true, force: true });
    }
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}

/** True while any process of the group is alive. */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function waitGroupGone(
  pgid: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processGroupAlive(pgid)) {
    if (Date.now() > deadline) {
      return false;
    }
    await sleep(20);
  }

  return true;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** docker-registry and skopeo are both on the PATH. */
export function registryAvailable(): boolean {
  return onPath('docker-registry') && onPath('skopeo');
}

function defaultUsers(): TestUser[] {
  return [
    {
      username: 'flux-tester',
      password: randomBytes(12).toString('base64url'),
    },
  ];
}

/**
 * htpasswd lines. Distribution compares with Go's bcrypt, which reads the
 * `$2b$` prefix bcryptjs writes (checked by the harness tests). Cost 4, the
 * minimum, keeps each login fast.
 */
function htpasswd(users: readonly TestUser[]): string {
  return users
    .map((user) => `${user.username}:${bcrypt.hashSync(user.password, 4)}\n`)
    .join('');
}

/**
 * Every response of our registry carries this header with its own id, so
 * readiness cannot be fooled by another process that took the port between
 * probe and bind.
 */
const ID_HEADER = 'X-Test-Registry-Id';

function registryConfig(
  port: number,
  dir: string,
  id: string,
  auth: Record<string, unknown> | undefined,
): string {
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'storage') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString('hex'),
      headers: { [ID_HEADER]: [id] },
    },
  };
  if (auth !== undefined) {
    config.auth = auth;
  }

  return stringify(config);
}

interface Spawned {
  child: ChildProcess;
  watchdog: ChildProcess | undefined;
  exited: Promise<number | null>;
  logs(): string;
}

function spawnRegistry(configPath: string, dir: string): Spawned {
  // Its own process group, so stop() can signal everything it started; Node
  // stays its parent and reaps it (PID 1 here reaps orphans only late).
  const child = spawn('docker-registry', ['serve', configPath], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const capture = (chunk: Buffer) => {
    if (output.length < MAX_LOG_CHARS) {
      output += chunk.toString('utf8');
    }
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (error) => {
      output += `spawn failed: ${error.message}\n`;
      resolve(null);
    });
  });
  const watchdog =
    child.pid === undefined
      ? undefined
      : spawn(
          'sh',
          ['-c', WATCHDOG, 'registry-watchdog', String(child.pid), dir],
          { stdio: ['pipe', 'ignore', 'ignore'] },
        );
  // A forgotten stop() must not keep the test process alive; the exit hook
  // and the watchdog still end the registry.
  for (const started of [child, watchdog]) {
    started?.unref();
    for (const stream of [started?.stdin, started?.stdout, started?.stderr]) {
      (stream as Socket | null | undefined)?.unref();
    }
  }

  return { child, watchdog, exited, logs: () => output };
}

/** Polls GET /v2/ until our registry answers 200 or 401. */
async function waitReady(
  url: string,
  id: string,
  spawned: Spawned,
): Promise<'ready' | 'exited'> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  void spawned.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) {
      return 'exited';
    }
    try {
      const response = await fetch(`${url}/v2/`, {
        signal: AbortSignal.timeout(1_000),
      });
      await response.arrayBuffer();
      const ours = response.headers.get(ID_HEADER) === id;
      if (ours && (response.status === 200 || response.status === 401)) {
        return 'ready';
      }
    } catch {
      // Not listening yet: poll again.
    }
    await sleep(25);
  }
  throw new Error(
    `docker-registry did not answer GET ${url}/v2/ within ${READY_TIMEOUT_MS} ms; logs:\n${spawned.logs()}`,
  );
}

/**
 * Starts a registry (and, in token mode, its token server). Call stop() in
 * an `after` hook.
 */
export async function startRegistry(
  options: StartRegistryOptions = {},
): Promise<TestRegistry> {
  const mode = options.auth ?? 'none';
  const users = mode === 'none' ? [] : (options.users ?? defaultUsers());
  const dir = await mkdtemp(join(tmpdir(), 'test-registry-'));
  let tokenServer: TokenServer | undefined;

  try {
    let auth: Record<string, unknown> | undefined;
    if (mode === 'basic') {
      const path = join(dir, 'htpasswd');
      await writeFile(path, htpasswd(users), { mode: 0o600 });
      auth = { htpasswd: { realm: BASIC_REALM, path } };
    } else if (mode === 'token') {
      tokenServer = await startTokenServer({
        users,
        service: SERVICE,
        ttlSeconds: options.tokenTtlSeconds,
        anonymousPull: options.anonymousPull,
      });
      const bundle = join(dir, 'token-ca.pem');
      await writeFile(bundle, tokenServer.certificatePem);
      auth = {
        token: {
          realm: tokenServer.url,
          service: SERVICE,
          issuer: tokenServer.issuer,
          rootcertbundle: bundle,
        },
      };
    }

    installExitHook();
    // The free port may be taken between probe and bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freeLoopbackPort();
      const configPath = join(dir, 'config.yml');
      const id = randomBytes(8).toString('hex');
      await writeFile(configPath, registryConfig(port, dir, id, auth));
      const spawned = spawnRegistry(configPath, dir);
      const pgid = spawned.child.pid;
      if (pgid === undefined) {
        await spawned.exited;
        throw new Error(`could not start docker-registry:\n${spawned.logs()}`);
      }
      const entry: Live = { pgid, dir };
      live.add(entry);
      const url = `http://127.0.0.1:${port}`;

      const state = await waitReady(url, id, spawned).catch(async (error) => {
        await stopGroup(pgid, spawned);
        live.delete(entry);
        throw error;
      });
      if (state === 'exited') {
        live.delete(entry);
        spawned.watchdog?.kill('SIGKILL');
        if (attempt < 3 && /address already in use/i.test(spawned.logs())) {
          continue;
        }
        throw new Error(
          `docker-registry exited before it was ready; logs:\n${spawned.logs()}`,
        );
      }

      return createHandle({
        mode,
        users,
        url,
        port,
        dir,
        entry,
        spawned,
        tokenServer,
      });
    }
  } catch (error) {
    await tokenServer?.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function stopGroup(pgid: number, spawned: Spawned): Promise<void> {
  killGroup(pgid, 'SIGTERM');
  if (!(await waitGroupGone(pgid, STOP_TIMEOUT_MS))) {
    killGroup(pgid, 'SIGKILL');
    await waitGroupGone(pgid, STOP_TIMEOUT_MS);
  }
  await Promise.race([
    spawned.exited,
    sleep(STOP_TIMEOUT_MS, undefined, { ref: false }),
  ]);
  spawned.watchdog?.kill('SIGKILL');
}

function createHandle(parts: {
  mode: RegistryAuthMode;
  users: TestUser[];
  url: string;
  port: number;
  dir: string;
  entry: Live;
  spawned: Spawned;
  tokenServer: TokenServer | undefined;
}): TestRegistry {
  const { mode, users, tokenServer, spawned, entry } = parts;
  let stopping: Promise<void> | undefined;

  return {
    host: `127.0.0.1:${parts.port}`,
    url: parts.url,
    auth: mode,
    users,
    service: mode === 'token' ? SERVICE : undefined,
    tokenServer,
    storageDir: join(parts.dir, 'storage'),
    pid: entry.pgid,
    async authorization(options = {}) {
      const user = options.user ?? users[0];
      if (mode === 'none') {
        return undefined;
      }
      if (user === undefined) {
        throw new Error('authorization() needs a user: none was configured');
      }
      if (mode === 'basic') {
        const pair = `${user.username}:${user.password}`;
        return `Basic ${Buffer.from(pair).toString('base64')}`;
      }
      const access = grantAccess(
        options.scopes ?? [],
        user.actions ?? ['pull', 'push', 'delete', '*'],
      );
      const token = await tokenServer?.mint({
        subject: user.username,
        access,
      });
      return `Bearer ${token}`;
    },
    logs: () => spawned.logs(),
    async stop() {
      stopping ??= (async () => {
        await stopGroup(entry.pgid, spawned);
        live.delete(entry);
        await tokenServer?.close();
        await rm(parts.dir, { recursive: true, force: true });
      })();
      await stopping;
    },
  };
}
