/**
 * The local stack: the same webhook and push handlers the Lambda functions
 * run, wired to an embedded queue, a local registry (or an OCI image layout
 * directory) and a secrets file, in one process on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';

import { createPushHandler } from '../functions/push/handler.js';
import { createWebhookHandler } from '../functions/webhook/handler.js';
import { createHttpListener } from '../functions/webhook/http.js';
import {
  createConfigHubReporter,
  createLogReporter,
  type ActionResult,
  type ActionResultReporter,
} from '../shared/confighub/index.js';
import { createCredentialResolver } from '../shared/credentials/index.js';
import type { TargetParams } from '../shared/event/types.js';
import type { Log } from '../shared/log.js';
import {
  createLayoutStore,
  createRegistryClient,
  type ArtifactStore,
  type RegistryClientOptions,
  type Repository,
} from '../shared/oci/index.js';
import { endpointPolicy, registryBaseUrl } from '../shared/oci/endpoint.js';
import { createFileSecretSource } from '../shared/secrets/file.js';
import { queueDepth } from '../cli/dlq/queues.js';
import {
  startEventSource,
  type EventSource,
  type SqsBatchHandler,
} from './event-source.js';
import { startEmbeddedQueue, type EmbeddedQueue } from './queue.js';
import {
  registryAvailable,
  startRegistry,
  type TestRegistry,
} from '../test/support/registry.js';

/** Secret ids in the local secrets file. */
export const LOCAL_SECRET = {
  signing: 'local/webhook-signing',
  worker: 'local/confighub-worker',
} as const;

export interface LocalStackOptions {
  /** Webhook port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * A registry to push every artifact to (`host:port`), keeping each
   * target's repository path. Without it: docker-registry on a free port
   * when installed, else an OCI image layout directory.
   */
  registry?: string;
  /** Write OCI image layouts under this directory instead of a registry. */
  layoutDir?: string;
  /** Send ActionResults to this ConfigHub instead of logging them. */
  confighubUrl?: string;
  /** Worker id for ConfigHub's result endpoint. */
  workerId?: string;
  /** Where the stack keeps its state: stack.json, secrets.json, layouts. */
  stateDir?: string;
  /** Seconds a failed message stays invisible before its retry; 2. */
  visibilityTimeoutSeconds?: number;
  /** Receives before a message goes to the DLQ; 5, as deployed. */
  maxReceiveCount?: number;
  /** The push function's timeout as its handler sees it; 60 s. */
  functionTimeoutMs?: number;
  /** Messages per push handler call; 10, the most SQS FIFO allows. */
  batchSize?: number;
  /** Push handler calls at once, each on other units; 1. */
  concurrency?: number;
  /** The registry client's retries of 429, 5xx and network errors. */
  registryRetry?: RegistryClientOptions['retry'];
  log: Log;
}

/** Bounds for {@link LocalStack.idle}. */
export interface IdleOptions {
  /** Reject when the stack is still busy after this long; no limit by default. */
  timeoutMs?: number;
  /** Time between two checks; 200 ms. */
  intervalMs?: number;
}

/** Where the registry side of the local stack lives. */
export type LocalTarget =
  | { kind: 'registry'; host: string; managed: boolean }
  | { kind: 'layout'; dir: string };

export interface LocalStack {
  webhookUrl: string;
  queue: EmbeddedQueue;
  target: LocalTarget;
  signingSecret: string;
  stateDir: string;
  /** `<stateDir>/stack.json`, read by `npm run send` and `npm run dlq`. */
  stackFile: string;
  /** The store the push handler writes to, for reading artifacts back. */
  storeFor(repo: Repository): ArtifactStore;
  /** Every ActionResult reported so far, in order. */
  readonly results: readonly ActionResult[];
  /** Emits `result` with each ActionResult as it is reported. */
  readonly events: EventEmitter<{ result: [ActionResult] }>;
  /**
   * Resolves once the event queue holds nothing visible, in flight or
   * delayed and no push handler call is running, on two checks in a row.
   * The DLQ is not looked at: what is parked there waits for a replay.
   */
  idle(options?: IdleOptions): Promise<void>;
  stop(): Promise<void>;
}

/** Starts every part, writes `<stateDir>/stack.json`, and returns handles. */
export async function startLocalStack(
  options: LocalStackOptions,
): Promise<LocalStack> {
  const log = options.log;
  const stateDir = resolve(options.stateDir ?? '.local');
  await mkdir(stateDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) =>
        log.warn('stopping a part of the local stack failed', {
          error: String(error),
        }),
      );
    }
  };

  try {
    const secretsFile = join(stateDir, 'secrets.json');
    const signingSecret = await ensureSecrets(secretsFile);
    const secrets = createFileSecretSource(secretsFile);

    const queue = await startEmbeddedQueue({
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2,
      maxReceiveCount: options.maxReceiveCount ?? 5,
    });
    cleanups.push(() => queue.stop());

    const target = await startTarget(options, stateDir, log);
    if (target.kind === 'registry' && target.managed) {
      cleanups.push(target.stop);
    }

    const events = new EventEmitter<{ result: [ActionResult] }>();
    const results: ActionResult[] = [];
    const inner: ActionResultReporter =
      options.confighubUrl === undefined
        ? createLogReporter(log)
        : createConfigHubReporter({
            url: options.confighubUrl,
            workerId: options.workerId ?? 'local',
            secrets,
            workerSecretId: LOCAL_SECRET.worker,
            log,
          });
    const reporter: ActionResultReporter = {
      async report(result, reportOptions) {
        results.push(result);
        events.emit('result', result);
        await inner.report(result, reportOptions);
      },
    };

    const resolver = createCredentialResolver({
      secrets,
      config: { authMethod: 'anonymous', ecrCreateRepositories: false },
      log,
    });
    const layoutStore =
      target.kind === 'layout' ? createLayoutStore(target.dir) : undefined;
    const storeFor = (
      targetParams: TargetParams,
      storeLog: Log,
    ): ArtifactStore =>
      layoutStore ??
      createRegistryClient({
        credentials: resolver.providerFor(targetParams),
        log: storeLog,
        ...(options.registryRetry !== undefined && {
          retry: options.registryRetry,
        }),
      });

    const push = createPushHandler({
      storeFor: (_repo, targetParams, scope) =>
        storeFor(targetParams, scope.log),
      sqs: queue.sqs,
      dlqUrl: queue.dlqUrl,
      maxReceiveCount: queue.maxReceiveCount,
      reporter,
      log,
      ...(options.confighubUrl !== undefined && {
        confighubUrl: options.confighubUrl,
      }),
    });
    const eventSource: EventSource = startEventSource({
      sqs: queue.sqs,
      queueUrl: queue.queueUrl,
      queueArn: queue.queueArn,
      region: queue.region,
      handler:
        target.kind === 'registry' ? retargetBatches(push, target.host) : push,
      functionTimeoutMs: options.functionTimeoutMs ?? 60_000,
      ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
      ...(options.concurrency !== undefined && {
        concurrency: options.concurrency,
      }),
      log,
    });
    cleanups.push(() => eventSource.stop());

    const webhook = createWebhookHandler({
      sqs: queue.sqs,
      queueUrl: queue.queueUrl,
      secrets,
      signingSecretId: LOCAL_SECRET.signing,
      log,
    });
    const server = createServer(createHttpListener(webhook, { log }));
    await listen(server, options.port ?? 0);
    cleanups.push(() => close(server));
    const { port } = server.address() as AddressInfo;
    const webhookUrl = `http://127.0.0.1:${port}/webhook`;

    const stackFile = join(stateDir, 'stack.json');
    await writeFile(
      stackFile,
      `${JSON.stringify(
        {
          webhookUrl,
          sqsEndpoint: queue.endpoint,
          region: queue.region,
          queueUrl: queue.queueUrl,
          dlqUrl: queue.dlqUrl,
          signingSecret,
          target:
            target.kind === 'registry'
              ? { registry: target.host }
              : { layout: target.dir },
        },
        null,
        2,
      )}\n`,
      { mode: 0o600 },
    );
    cleanups.push(() => rm(stackFile, { force: true }));

    let stopped = false;
    return {
      webhookUrl,
      queue,
      target:
        target.kind === 'registry'
          ? { kind: 'registry', host: target.host, managed: target.managed }
          : target,
      signingSecret,
      stateDir,
      stackFile,
      storeFor: (repo) =>
        storeFor(
          { Repository: repo.registry, Provider: 'None', AllowDeletion: false },
          log,
        ),
      results,
      events,
      idle: (idleOptions) => waitForIdle(queue, eventSource, idleOptions),
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanUp();
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Polls the event queue's depth and the event source; see `idle`. */
async function waitForIdle(
  queue: EmbeddedQueue,
  eventSource: EventSource,
  options: IdleOptions = {},
): Promise<void> {
  const intervalMs = options.intervalMs ?? 200;
  const deadline =
    options.timeoutMs === undefined
      ? Number.POSITIVE_INFINITY
      : Date.now() + options.timeoutMs;
  let quietChecks = 0;
  let depth = 0;
  for (;;) {
    depth = await queueDepth(queue.sqs, queue.queueUrl);
    const quiet = depth === 0 && !eventSource.busy;
    quietChecks = quiet ? quietChecks + 1 : 0;
    if (quietChecks >= 2) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `the local stack is still busy after ${options.timeoutMs} ms: ${depth} message(s) in the event queue${eventSource.busy ? ', a push handler call running' : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

type StartedTarget =
  | { kind: 'registry'; host: string; managed: false }
  | {
      kind: 'registry';
      host: string;
      managed: true;
      stop: () => Promise<void>;
    }
  | { kind: 'layout'; dir: string };

async function startTarget(
  options: LocalStackOptions,
  stateDir: string,
  log: Log,
): Promise<StartedTarget> {
  if (options.registry !== undefined) {
    await warnIfSilent(options.registry, log);
    return { kind: 'registry', host: options.registry, managed: false };
  }
  if (options.layoutDir === undefined && registryAvailable()) {
    const registry: TestRegistry = await startRegistry({ auth: 'none' });
    log.debug('started docker-registry', { host: registry.host });
    return {
      kind: 'registry',
      host: registry.host,
      managed: true,
      stop: () => registry.stop(),
    };
  }
  const dir = resolve(options.layoutDir ?? join(stateDir, 'layout'));
  await mkdir(dir, { recursive: true });
  return { kind: 'layout', dir };
}

/**
 * Asks a given registry's `/v2/` once, so a typo in `--registry` shows at
 * start rather than as failed pushes. Only warns: a registry that is down
 * now may be up by the time events arrive (and tests start it that way).
 */
async function warnIfSilent(host: string, log: Log): Promise<void> {
  try {
    // The engine's own scheme rule: plain HTTP only for loopback.
    const url = new URL('v2/', registryBaseUrl(host, endpointPolicy()));
    await fetch(url, { signal: AbortSignal.timeout(3000) });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    log.warn(
      `registry ${host} does not answer at /v2/; pushes will fail until it does`,
      {
        error: String(cause ?? error),
      },
    );
  }
}

/**
 * Points every queued event's target at the local registry, keeping the
 * repository path, before the push handler sees it: results, outputs and
 * logs then name where the artifact really went. A body that is not a
 * queued event passes unchanged, for the handler to refuse.
 */
function retargetBatches(
  handler: SqsBatchHandler,
  host: string,
): SqsBatchHandler {
  return (event, context) =>
    handler(
      {
        Records: event.Records.map((record) => ({
          ...record,
          body: retargetBody(record.body, host),
        })),
      },
      context,
    );
}

function retargetBody(body: string, host: string): string {
  let event: { Payload?: { TargetParams?: { Repository?: unknown } } };
  try {
    event = JSON.parse(body) as typeof event;
  } catch {
    return body;
  }
  const params = event.Payload?.TargetParams;
  if (typeof params?.Repository !== 'string') return body;
  params.Repository = withRegistryHost(params.Repository, host);
  return JSON.stringify(event);
}

/**
 * A target's `Repository` moved to `host`, keeping its path:
 * `https://ghcr.io/acme` → `127.0.0.1:5000/acme`.
 */
export function withRegistryHost(repository: string, host: string): string {
  const path = repository
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .split('/')
    .slice(1);
  return [host, ...path].join('/');
}

/** Creates the secrets file on first start; keeps an existing signing secret. */
async function ensureSecrets(file: string): Promise<string> {
  let secrets: Record<string, unknown> = {};
  if (existsSync(file)) {
    secrets = JSON.parse(await readFile(file, 'utf8')) as Record<
      string,
      unknown
    >;
  }
  let changed = false;
  for (const id of [LOCAL_SECRET.signing, LOCAL_SECRET.worker]) {
    if (typeof secrets[id] !== 'string') {
      secrets[id] = randomBytes(32).toString('hex');
      changed = true;
    }
  }
  if (changed) {
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, {
      mode: 0o600,
    });
  }
  return secrets[LOCAL_SECRET.signing] as string;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    server.closeAllConnections();
    server.close(() => resolveClose());
  });
}
