/**
 * The push handler end to end: the real reference registry, the embedded
 * FIFO queue driven by the local event source, and a small HTTP server
 * standing in for ConfigHub's action_result endpoint.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';

import {
  createPushHandler,
  type PushHandlerDeps,
} from '../../functions/push/handler.js';
import {
  startEventSource,
  type EventSource,
} from '../../local/event-source.js';
import {
  createConfigHubReporter,
  type ActionResult,
  type ApplyOutput,
} from '../../shared/confighub/index.js';
import { createCredentialResolver } from '../../shared/credentials/index.js';
import { parseWireEvent } from '../../shared/event/schema.js';
import type { QueuedEvent } from '../../shared/event/types.js';
import type { Log } from '../../shared/log.js';
import { silentLog } from '../../shared/log.js';
import { createRegistryClient } from '../../shared/oci/index.js';
import type { SecretSource } from '../../shared/secrets/source.js';
import { freeLoopbackPort } from '../support/ports.js';
import { startEmbeddedQueue, type EmbeddedQueue } from '../support/queue.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import {
  copyToLayout,
  extractFluxContent,
  inspectRaw,
  listTags,
} from '../support/skopeo.js';
import { RecordingLog } from './recorders.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/events');
const ACCEPTED_AT = '2026-12-03T10:00:00Z';
const WORKER_SECRET = 'worker-secret-for-tests';

/** A fixture event as the webhook would queue it, aimed at `registryHost`. */
function fixtureEvent(
  name: string,
  registryHost: string,
  prefix?: string,
): QueuedEvent {
  const parsed = parseWireEvent(readFileSync(join(FIXTURES, name), 'utf8'));
  assert.equal(parsed.kind, 'operation', `${name} is an operation`);
  if (parsed.kind !== 'operation') throw new Error('unreachable');
  const event = parsed.event;
  const path = event.Payload.TargetParams.Repository.replace(
    /^(https?:\/\/)?[^/]+\/?/,
    '',
  );
  event.Payload.TargetParams.Repository = `${registryHost}/${prefix ?? path}`;
  return { schemaVersion: 1, acceptedAt: ACCEPTED_AT, ...event };
}

/** The unit's data as the fixture carries it. */
function dataOf(event: QueuedEvent): Buffer {
  return Buffer.from(event.Payload.Data, 'base64');
}

/** Queues an event as the webhook does. */
async function enqueue(
  queue: EmbeddedQueue,
  event: QueuedEvent,
  deduplicationId = event.Payload.QueuedOperationID,
): Promise<void> {
  await queue.sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.queueUrl,
      MessageBody: JSON.stringify(event),
      MessageGroupId: event.Payload.UnitID,
      MessageDeduplicationId: deduplicationId,
      MessageAttributes: {
        Action: { DataType: 'String', StringValue: event.Action },
        UnitSlug: { DataType: 'String', StringValue: event.Payload.UnitSlug },
        RevisionNum: {
          DataType: 'Number',
          StringValue: String(event.Payload.RevisionNum),
        },
        QueuedOperationID: {
          DataType: 'String',
          StringValue: event.Payload.QueuedOperationID,
        },
      },
    }),
  );
}

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Reads the DLQ's messages without keeping them invisible for long. */
async function peekDlq(queue: EmbeddedQueue): Promise<Message[]> {
  const received = await queue.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.dlqUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 0,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return received.Messages ?? [];
}

/** ConfigHub's action_result endpoint, recording what it receives. */
class ConfigHubStandIn {
  readonly results: ActionResult[] = [];
  readonly authorizations = new Set<string | undefined>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.authorizations.add(request.headers.authorization);
        if (request.url === '/api/bridge_worker/worker-1/action_result') {
          this.results.push(
            JSON.parse(Buffer.concat(chunks).toString('utf8')) as ActionResult,
          );
          response.writeHead(200).end('{}');
        } else {
          response.writeHead(404).end();
        }
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server)
      await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** `Status/Result` of each result for one operation, in arrival order. */
  sequenceFor(operationId: string): string[] {
    return this.results
      .filter((r) => r.QueuedOperationID === operationId)
      .map((r) => `${r.Status}/${r.Result}`);
  }

  finalFor(operationId: string): ActionResult | undefined {
    return this.results.findLast(
      (r) => r.QueuedOperationID === operationId && r.Status !== 'Progressing',
    );
  }

  finished(operationId: string): boolean {
    return this.finalFor(operationId) !== undefined;
  }
}

const workerSecrets: SecretSource = {
  get: () => Promise.resolve({ text: WORKER_SECRET }),
};

interface Stack {
  queue: EmbeddedQueue;
  confighub: ConfigHubStandIn;
  source: EventSource;
  log: RecordingLog;
  stop(): Promise<void>;
}

/** Queue, ConfigHub stand-in and event source around one handler. */
async function startStack(
  storeFor: PushHandlerDeps['storeFor'],
  options: { maxReceiveCount?: number } = {},
): Promise<Stack> {
  const queue = await startEmbeddedQueue({
    maxReceiveCount: options.maxReceiveCount ?? 3,
    visibilityTimeoutSeconds: 1,
    name: `push-${Math.random().toString(36).slice(2, 8)}`,
  });
  const confighub = new ConfigHubStandIn();
  await confighub.start();
  const log = new RecordingLog();
  const handler = createPushHandler({
    storeFor,
    sqs: queue.sqs,
    dlqUrl: queue.dlqUrl,
    maxReceiveCount: queue.maxReceiveCount,
    reporter: createConfigHubReporter({
      url: confighub.url,
      workerId: 'worker-1',
      secrets: workerSecrets,
      workerSecretId: 'confighub/worker',
      minDelayMs: 1,
    }),
    log,
  });
  const source = startEventSource({
    sqs: queue.client(),
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    region: queue.region,
    handler,
    log: silentLog,
  });
  return {
    queue,
    confighub,
    source,
    log,
    async stop() {
      await source.stop();
      await confighub.stop();
      await queue.stop();
    },
  };
}

function outputsOf(result: ActionResult | undefined): ApplyOutput[] {
  assert.ok(result?.Outputs, 'the result has Outputs');
  return JSON.parse(
    Buffer.from(result.Outputs, 'base64').toString('utf8'),
  ) as ApplyOutput[];
}

const anonymousStore =
  (log: Log = silentLog): PushHandlerDeps['storeFor'] =>
  () =>
    createRegistryClient({ log, retry: { retries: 0 } });

void describe('push handler with a real registry and queue', () => {
  let registry: TestRegistry;
  let stack: Stack;
  let layouts: string;

  before(async () => {
    registry = await startRegistry();
    stack = await startStack(anonymousStore());
    layouts = await mkdtemp(join(tmpdir(), 'push-layouts-'));
  });
  after(async () => {
    await stack?.stop();
    await registry?.stop();
    if (layouts) await rm(layouts, { recursive: true, force: true });
  });

  /** The manifest.yaml bytes behind a tag, read with skopeo. */
  async function contentAt(ref: string, tag: string): Promise<Buffer> {
    const dir = join(layouts, `${tag}-${Math.random().toString(36).slice(2)}`);
    await copyToLayout(`${ref}:${tag}`, dir, tag);
    return extractFluxContent(dir, tag);
  }

  void describe('when the fixture events arrive in order', () => {
    const names = [
      'apply-frontend-rev1.json',
      'apply-frontend-rev2.json',
      'sse-envelope-apply-frontend-rev3.json',
      'apply-frontend-k8s-secret-ref.json',
      'refresh-frontend.json',
      'import-frontend.json',
      'destroy-frontend-denied.json',
      'destroy-frontend-allowed.json',
      'apply-boutique-rev7-trunk.json',
      'apply-hooks-ecr.json',
      'apply-orphans-no-tag.json',
    ];
    const events = new Map<string, QueuedEvent>();

    before(async () => {
      for (const name of names) {
        const event = fixtureEvent(name, registry.host);
        events.set(name, event);
        await enqueue(stack.queue, event);
      }
      await waitFor('every fixture event to finish', () =>
        [...events.values()].every((e) =>
          stack.confighub.finished(e.Payload.QueuedOperationID),
        ),
      );
    });

    const op = (name: string) => events.get(name)!.Payload.QueuedOperationID;
    const frontend = () => `${registry.host}/confighub/frontend`;

    void it('reports Progressing then the final result for each event, with the worker secret', () => {
      const expected: Record<string, string[]> = {
        'apply-frontend-rev1.json': [
          'Progressing/None',
          'Completed/ApplyCompleted',
        ],
        'apply-frontend-rev2.json': [
          'Progressing/None',
          'Completed/ApplyCompleted',
        ],
        'sse-envelope-apply-frontend-rev3.json': [
          'Progressing/None',
          'Completed/ApplyCompleted',
        ],
        'apply-frontend-k8s-secret-ref.json': [
          'Progressing/None',
          'Completed/ApplyCompleted',
        ],
        'import-frontend.json': [
          'Progressing/None',
          'Completed/ImportCompleted',
        ],
        'destroy-frontend-denied.json': [
          'Progressing/None',
          'Failed/DestroyFailed',
        ],
        'destroy-frontend-allowed.json': [
          'Progressing/None',
          'Completed/DestroyCompleted',
        ],
        'apply-boutique-rev7-trunk.json': [
          'Progressing/None',
          'Completed/ApplyCompleted',
        ],
        'apply-hooks-ecr.json': [
          'Progressing/None',
          'Completed/ApplyCompleted',
        ],
        'apply-orphans-no-tag.json': [
          'Progressing/None',
          'Completed/ApplyCompleted',
        ],
      };
      for (const [name, sequence] of Object.entries(expected)) {
        assert.deepEqual(stack.confighub.sequenceFor(op(name)), sequence, name);
      }
      assert.deepEqual(
        [...stack.confighub.authorizations],
        [`Bearer ${WORKER_SECRET}`],
      );
    });

    void it('leaves rev1 to rev4 pushed minus the destroyed rev2, with latest on rev4', async () => {
      const tags = (await listTags(frontend())).sort();
      assert.deepEqual(tags, ['latest', 'rev1', 'rev3', 'rev4']);
      const latest = await inspectRaw(`${frontend()}:latest`);
      const rev4 = await inspectRaw(`${frontend()}:rev4`);
      assert.equal(latest.digest, rev4.digest);
    });

    void it("reports outputs whose digests are the registry's, and pushes the unit data byte for byte", async () => {
      for (const [name, tag] of [
        ['apply-frontend-rev1.json', 'rev1'],
        ['sse-envelope-apply-frontend-rev3.json', 'rev3'],
        ['apply-frontend-k8s-secret-ref.json', 'rev4'],
      ] as const) {
        const raw = await inspectRaw(`${frontend()}:${tag}`);
        const outputs = outputsOf(stack.confighub.finalFor(op(name)));
        assert.equal(outputs[0]?.URL, `${frontend()}:${tag}`);
        assert.equal(outputs[0]?.Digest, `${frontend()}@${raw.digest}`);
        assert.deepEqual(
          await contentAt(frontend(), tag),
          dataOf(events.get(name)!),
          name,
        );
      }
    });

    void it('reports the Refresh against latest as drift or no drift by comparing the bytes', async () => {
      const refresh = events.get('refresh-frontend.json')!;
      const live = await contentAt(frontend(), 'latest');
      const expected = live.equals(dataOf(refresh))
        ? 'Completed/RefreshAndNoDrift'
        : 'Completed/RefreshAndDrifted';
      assert.deepEqual(
        stack.confighub.sequenceFor(op('refresh-frontend.json')),
        ['Progressing/None', expected],
      );
      const final = stack.confighub.finalFor(op('refresh-frontend.json'));
      assert.deepEqual(Buffer.from(final?.LiveState ?? '', 'base64'), live);
    });

    void it('imports the content latest held then as both Data and LiveState', () => {
      const final = stack.confighub.finalFor(op('import-frontend.json'));
      const rev4 = dataOf(events.get('apply-frontend-k8s-secret-ref.json')!);
      assert.deepEqual(Buffer.from(final?.Data ?? '', 'base64'), rev4);
      assert.equal(final?.LiveState, final?.Data);
    });

    void it('parks the refused Destroy in the DLQ with its reason', async () => {
      const dlq = await peekDlq(stack.queue);
      const parked = dlq.filter(
        (m) =>
          m.MessageAttributes?.QueuedOperationID?.StringValue ===
          op('destroy-frontend-denied.json'),
      );
      assert.equal(parked.length, 1);
      assert.equal(
        parked[0]!.MessageAttributes?.FailureClass?.StringValue,
        'permanent',
      );
      assert.match(
        parked[0]!.MessageAttributes?.FailureReason?.StringValue ?? '',
        /deletion is not allowed on this target \(AllowDeletion is false\)/,
      );
      assert.equal(
        parked[0]!.Attributes?.MessageGroupId,
        events.get('destroy-frontend-denied.json')!.Payload.UnitID,
      );
    });

    void it('pushes the other units: trunk on boutique rev7, rev tags alone without a Tag', async () => {
      const boutique = `${registry.host}/confighub/boutique`;
      assert.deepEqual((await listTags(boutique)).sort(), ['rev7', 'trunk']);
      assert.equal(
        (await inspectRaw(`${boutique}:trunk`)).digest,
        (await inspectRaw(`${boutique}:rev7`)).digest,
      );
      assert.deepEqual(
        await listTags(`${registry.host}/org-2/db-migrate-hooks`),
        ['rev3'],
      );
      assert.deepEqual(
        await listTags(`${registry.host}/platform/team-a/legacy-apps`),
        ['rev12'],
      );
      assert.deepEqual(
        await contentAt(
          `${registry.host}/platform/team-a/legacy-apps`,
          'rev12',
        ),
        dataOf(events.get('apply-orphans-no-tag.json')!),
      );
    });
  });

  void describe('when rev1 is replayed after rev2', () => {
    void it('pushes rev1 and leaves latest on rev2', async () => {
      const rev2 = fixtureEvent(
        'apply-frontend-rev2.json',
        registry.host,
        'replay',
      );
      const rev1 = fixtureEvent(
        'apply-frontend-rev1.json',
        registry.host,
        'replay',
      );
      await enqueue(stack.queue, rev2, 'replay-rev2');
      await enqueue(stack.queue, rev1, 'replay-rev1');
      const operations = new Set([
        rev1.Payload.QueuedOperationID,
        rev2.Payload.QueuedOperationID,
      ]);
      // Two Completed results from the fixture run, two from this replay.
      await waitFor(
        'both revisions',
        () =>
          stack.confighub.results.filter(
            (r) =>
              r.Status === 'Completed' && operations.has(r.QueuedOperationID),
          ).length >= 4,
      );

      const repo = `${registry.host}/replay/frontend`;
      assert.deepEqual((await listTags(repo)).sort(), [
        'latest',
        'rev1',
        'rev2',
      ]);
      const latest = await inspectRaw(`${repo}:latest`);
      assert.equal(latest.digest, (await inspectRaw(`${repo}:rev2`)).digest);
      assert.notEqual(latest.digest, (await inspectRaw(`${repo}:rev1`)).digest);
      const final = stack.confighub.results.findLast(
        (r) => r.QueuedOperationID === rev1.Payload.QueuedOperationID,
      );
      assert.match(final?.Message ?? '', /kept latest on revision 2/);
    });
  });
});

void describe('push handler when a message is delivered again after a successful push', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  void it('yields the same digest and uploads no blob', async () => {
    const { lambdaContext, RecordingReporter, sqsRecord } =
      await import('./fakes.js');
    const log = new RecordingLog();
    const reporter = new RecordingReporter();
    const handler = createPushHandler({
      storeFor: anonymousStore(),
      // Never called: nothing in this test is parked.
      sqs: new SQSClient({
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      }),
      dlqUrl: 'unused',
      maxReceiveCount: 5,
      reporter,
      log,
    });
    const event = fixtureEvent(
      'apply-frontend-rev1.json',
      registry.host,
      'redelivery',
    );
    const record = sqsRecord(event);

    await handler({ Records: [record] }, lambdaContext());
    await handler(
      {
        Records: [
          {
            ...record,
            attributes: { ...record.attributes, ApproximateReceiveCount: '2' },
          },
        ],
      },
      lambdaContext(),
    );

    const finished = log.lines.filter((l) => l.message === 'action finished');
    assert.equal(finished.length, 2);
    assert.equal(finished[0]!.fields.digest, finished[1]!.fields.digest);
    assert.ok(Number(finished[0]!.fields.uploadedBlobs) > 0);
    assert.equal(finished[1]!.fields.uploadedBlobs, 0);
    const raw = await inspectRaw(`${registry.host}/redelivery/frontend:rev1`);
    assert.equal(raw.digest, finished[1]!.fields.digest);
  });
});

void describe('push handler when the registry is down', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack(anonymousStore(), { maxReceiveCount: 3 });
  });
  after(async () => {
    await stack?.stop();
  });

  void it('retries through SQS, then parks the message as transient on its last receive and reports Failed', async () => {
    const port = await freeLoopbackPort();
    const event = fixtureEvent(
      'apply-frontend-rev1.json',
      `127.0.0.1:${port}`,
      'down',
    );
    await enqueue(stack.queue, event);

    await waitFor(
      'the message in the DLQ',
      async () => (await peekDlq(stack.queue)).length === 1,
    );

    const [parked] = await peekDlq(stack.queue);
    assert.equal(
      parked?.MessageAttributes?.FailureClass?.StringValue,
      'transient',
    );
    assert.equal(parked?.MessageAttributes?.ReceiveCount?.StringValue, '3');
    assert.ok(parked?.MessageAttributes?.FailedAt?.StringValue);
    assert.equal(parked?.Body, JSON.stringify(event));
    await waitFor('the Failed report', () =>
      stack.confighub.finished(event.Payload.QueuedOperationID),
    );
    assert.deepEqual(
      stack.confighub.sequenceFor(event.Payload.QueuedOperationID),
      [
        'Progressing/None',
        'Progressing/None',
        'Progressing/None',
        'Progressing/None',
        'Progressing/None',
        'Failed/ApplyFailed',
      ],
    );
  });
});

void describe('push handler when the registry refuses the credentials', () => {
  let registry: TestRegistry;
  let stack: Stack;
  let secretReads = 0;

  before(async () => {
    registry = await startRegistry({ auth: 'basic' });
    const user = registry.users[0]!;
    const resolver = createCredentialResolver({
      secrets: {
        get: () => {
          secretReads++;
          return Promise.resolve({
            text: JSON.stringify({
              auths: {
                [registry.host]: {
                  username: user.username,
                  password: 'wrong-password',
                },
              },
            }),
          });
        },
      },
      config: {
        authMethod: 'secret',
        defaultRegistrySecretId: 'registry/default',
      },
    });
    stack = await startStack(
      (_repo, target) =>
        createRegistryClient({
          credentials: resolver.providerFor(target),
          retry: { retries: 0 },
        }),
      { maxReceiveCount: 3 },
    );
  });
  after(async () => {
    await stack?.stop();
    await registry?.stop();
  });

  void it('reports Failed once and parks the message as permanent without retries', async () => {
    const event = fixtureEvent('apply-frontend-rev1.json', registry.host);
    await enqueue(stack.queue, event);

    await waitFor(
      'the message in the DLQ',
      async () => (await peekDlq(stack.queue)).length === 1,
    );
    await waitFor('the Failed report', () =>
      stack.confighub.finished(event.Payload.QueuedOperationID),
    );

    const [parked] = await peekDlq(stack.queue);
    assert.equal(
      parked?.MessageAttributes?.FailureClass?.StringValue,
      'permanent',
    );
    assert.equal(parked?.MessageAttributes?.ReceiveCount?.StringValue, '1');
    assert.deepEqual(
      stack.confighub.sequenceFor(event.Payload.QueuedOperationID),
      ['Progressing/None', 'Failed/ApplyFailed'],
    );
    const final = stack.confighub.finalFor(event.Payload.QueuedOperationID);
    assert.ok(!final?.Message.includes('wrong-password'));
    assert.ok(
      !(parked?.MessageAttributes?.FailureReason?.StringValue ?? '').includes(
        'wrong-password',
      ),
    );
    assert.ok(!JSON.stringify(stack.log.lines).includes('wrong-password'));
    // The secret was read again after the 401, once.
    assert.ok(secretReads >= 2);
  });
});
