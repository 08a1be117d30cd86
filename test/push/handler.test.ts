import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';

import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';

import {
  createPushHandler,
  type PushHandlerDeps,
} from '../../functions/push/handler.js';
import { CredentialsError } from '../../shared/credentials/errors.js';
import { OciError } from '../../shared/oci/errors.js';
import { SecretSourceError } from '../../shared/secrets/source.js';
import {
  lambdaContext,
  MemoryStore,
  queuedEvent,
  RecordingReporter,
  sqsRecord,
  UNITS,
  YAML_REV,
} from './fakes.js';
import { RecordingLog, RecordingMetrics } from './recorders.js';

const DLQ_URL =
  'https://sqs.us-east-1.amazonaws.com/123456789012/push-dlq.fifo';
const REPO = 'registry.test/confighub/frontend';

function setup(overrides: Partial<PushHandlerDeps> = {}) {
  const store = new MemoryStore();
  const reporter = new RecordingReporter();
  const log = new RecordingLog();
  const metrics = new RecordingMetrics();
  const sqs = new SQSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const sqsMock = mockClient(sqs);
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-message' });
  const handler = createPushHandler({
    storeFor: () => store,
    sqs,
    dlqUrl: DLQ_URL,
    maxReceiveCount: 5,
    reporter,
    log,
    metrics,
    now: () => new Date('2026-12-03T10:00:05Z'),
    ...overrides,
  });
  const run = (records: SQSRecord[], remainingMs?: number) =>
    handler({ Records: records }, lambdaContext(remainingMs));
  const dlqSends = () =>
    sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
  return { store, reporter, log, metrics, sqsMock, run, dlqSends };
}

function outputsOf(reporter: RecordingReporter, index: number): unknown {
  const outputs = reporter.results[index]?.Outputs;
  assert.ok(outputs, `result ${index} has Outputs`);
  return JSON.parse(Buffer.from(outputs, 'base64').toString('utf8'));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

void describe('createPushHandler', () => {
  void describe('when an Apply arrives for a target with a Tag', () => {
    void it('pushes rev<N>, points Tag at it and reports Progressing then ApplyCompleted with both outputs', async () => {
      const { store, reporter, run } = setup();
      const event = queuedEvent({ revision: 1 });

      const response = await run([sqsRecord(event)]);

      assert.deepEqual(response.batchItemFailures, []);
      const tags = store.tagsOf('confighub/frontend');
      assert.deepEqual(Object.keys(tags).sort(), ['latest', 'rev1']);
      assert.equal(tags.latest, tags.rev1);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Completed/ApplyCompleted',
      ]);
      assert.deepEqual(outputsOf(reporter, 1), [
        { Digest: `${REPO}@${tags.rev1}`, URL: `${REPO}:rev1` },
        { Digest: `${REPO}@${tags.rev1}`, URL: `${REPO}:latest` },
      ]);
      const final = reporter.results[1]!;
      assert.equal(final.UnitID, UNITS.frontend);
      assert.equal(final.QueuedOperationID, event.Payload.QueuedOperationID);
      assert.equal(final.RevisionNum, 1);
      assert.equal(final.Action, 'Apply');
      assert.equal(final.StartedAt, '2026-12-03T10:00:05.000Z');
      assert.equal(final.TerminatedAt, '2026-12-03T10:00:05.000Z');
      assert.equal(
        Buffer.from(final.LiveState ?? '', 'base64').toString(),
        YAML_REV(1),
      );
      assert.equal(reporter.results[0]!.TerminatedAt, undefined);
    });

    void it('annotates the artifact with the ConfigHub ids, a confighub:// source and a Flux revision of the data', async () => {
      const { store, run } = setup();

      await run([sqsRecord(queuedEvent({ revision: 3 }))]);

      const digest = store.tagsOf('confighub/frontend').rev3!;
      const annotations = store.manifests.get(digest)!.annotations;
      assert.equal(annotations['com.confighub.revision'], '3');
      assert.equal(annotations['com.confighub.unit.id'], UNITS.frontend);
      assert.equal(annotations['com.confighub.unit.slug'], 'frontend');
      assert.equal(
        annotations['org.opencontainers.image.created'],
        '2026-12-03T10:00:00Z',
      );
      assert.equal(
        annotations['org.opencontainers.image.source'],
        `confighub://space/6f1c2a3e-0d4b-4c55-9a71-2b8e5d7c9f10/unit/${UNITS.frontend}`,
      );
      assert.equal(
        annotations['org.opencontainers.image.revision'],
        `rev3@sha256:${sha256(YAML_REV(3))}`,
      );
    });

    void it('uses the unit page in ConfigHub as source when CONFIGHUB_URL is configured', async () => {
      const { store, run } = setup({
        confighubUrl: 'https://hub.example.com/',
      });

      await run([sqsRecord(queuedEvent({ revision: 1 }))]);

      const digest = store.tagsOf('confighub/frontend').rev1!;
      assert.equal(
        store.manifests.get(digest)!.annotations[
          'org.opencontainers.image.source'
        ],
        `https://hub.example.com/space/6f1c2a3e-0d4b-4c55-9a71-2b8e5d7c9f10/unit/${UNITS.frontend}`,
      );
    });
  });

  void describe('when the target has no Tag', () => {
    void it('pushes rev<N> only and reports one output', async () => {
      const { store, reporter, run } = setup();

      await run([sqsRecord(queuedEvent({ revision: 4, tag: null }))]);

      const tags = store.tagsOf('confighub/frontend');
      assert.deepEqual(Object.keys(tags), ['rev4']);
      assert.deepEqual(outputsOf(reporter, 1), [
        { Digest: `${REPO}@${tags.rev4}`, URL: `${REPO}:rev4` },
      ]);
    });
  });

  void describe('when an older revision arrives after a newer one', () => {
    void it('pushes rev<N> but keeps Tag on the newer revision and says so', async () => {
      const { store, reporter, run } = setup();
      await run([sqsRecord(queuedEvent({ revision: 2 }))]);
      const rev2 = store.tagsOf('confighub/frontend').rev2;

      await run([sqsRecord(queuedEvent({ revision: 1 }))]);

      const tags = store.tagsOf('confighub/frontend');
      assert.equal(tags.latest, rev2);
      assert.ok(tags.rev1);
      assert.notEqual(tags.rev1, rev2);
      const final = reporter.results[3]!;
      assert.equal(final.Result, 'ApplyCompleted');
      assert.match(
        final.Message,
        /kept latest on revision 2 .* never moves backwards/,
      );
      assert.deepEqual(outputsOf(reporter, 3), [
        { Digest: `${REPO}@${tags.rev1}`, URL: `${REPO}:rev1` },
      ]);
    });
  });

  void describe('when the same message is delivered twice', () => {
    void it('yields the same digest, uploads nothing the second time and moves Tag idempotently', async () => {
      const { store, reporter, run, metrics } = setup();
      const record = sqsRecord(queuedEvent({ revision: 5 }));

      await run([record]);
      const first = store.tagsOf('confighub/frontend');
      await run([
        {
          ...record,
          attributes: { ...record.attributes, ApproximateReceiveCount: '2' },
        },
      ]);

      assert.deepEqual(store.tagsOf('confighub/frontend'), first);
      assert.match(
        reporter.results[3]!.Message,
        /every blob was already in the registry/,
      );
      const bytes = metrics.named('BytesPushed').map((m) => m.value);
      assert.ok(bytes[0]! > 0);
      assert.equal(bytes[1], 0);
    });
  });

  void describe('when a Destroy arrives on a target that allows deletion', () => {
    void it('deletes rev<N> and the Tag pointing at the same manifest', async () => {
      const { store, reporter, run } = setup();
      await run([sqsRecord(queuedEvent({ revision: 2, allowDeletion: true }))]);
      const digest = store.tagsOf('confighub/frontend').rev2;

      await run([
        sqsRecord(
          queuedEvent({ action: 'Destroy', revision: 2, allowDeletion: true }),
        ),
      ]);

      assert.deepEqual(store.tagsOf('confighub/frontend'), {});
      assert.deepEqual(reporter.sequence.slice(2), [
        'Progressing/None',
        'Completed/DestroyCompleted',
      ]);
      assert.equal(
        reporter.results[3]!.Message,
        `deleted ${digest} from ${REPO} (tags rev2, latest)`,
      );
    });

    void it('keeps a Tag that points at another revision and says so', async () => {
      const { store, reporter, run } = setup();
      await run([
        sqsRecord(queuedEvent({ revision: 1, allowDeletion: true })),
        sqsRecord(queuedEvent({ revision: 2, allowDeletion: true })),
      ]);
      const rev2 = store.tagsOf('confighub/frontend').rev2;

      await run([
        sqsRecord(
          queuedEvent({ action: 'Destroy', revision: 1, allowDeletion: true }),
        ),
      ]);

      assert.deepEqual(store.tagsOf('confighub/frontend'), {
        rev2,
        latest: rev2,
      });
      assert.match(
        reporter.results.at(-1)!.Message,
        /latest was left in place: it points at revision 2/,
      );
    });

    void it('completes with "nothing to delete" when rev<N> is absent', async () => {
      const { reporter, run, dlqSends } = setup();

      const response = await run([
        sqsRecord(
          queuedEvent({ action: 'Destroy', revision: 9, allowDeletion: true }),
        ),
      ]);

      assert.deepEqual(response.batchItemFailures, []);
      assert.equal(reporter.results[1]!.Result, 'DestroyCompleted');
      assert.match(
        reporter.results[1]!.Message,
        /nothing to delete: .*:rev9 does not exist/,
      );
      assert.equal(dlqSends().length, 0);
    });
  });

  void describe('when a Destroy arrives on a target with AllowDeletion false', () => {
    void it('reports DestroyFailed once, parks the message in the DLQ with its reason and lets it succeed', async () => {
      const { store, reporter, run, dlqSends } = setup();
      const event = queuedEvent({ action: 'Destroy', revision: 2 });
      const record = sqsRecord(event, { messageId: 'm-destroy' });

      const response = await run([record]);

      assert.deepEqual(response.batchItemFailures, []);
      assert.deepEqual(store.calls, []);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Failed/DestroyFailed',
      ]);
      assert.match(
        reporter.results[1]!.Message,
        /^deletion is not allowed on this target \(AllowDeletion is false\)/,
      );
      const [sent] = dlqSends();
      assert.ok(sent);
      assert.equal(sent.QueueUrl, DLQ_URL);
      assert.equal(sent.MessageBody, record.body);
      assert.equal(sent.MessageGroupId, UNITS.frontend);
      assert.equal(sent.MessageDeduplicationId, 'm-destroy');
      const attributes = sent.MessageAttributes!;
      assert.equal(attributes.FailureClass?.StringValue, 'permanent');
      assert.match(
        attributes.FailureReason?.StringValue ?? '',
        /^PushError:DELETION_NOT_ALLOWED: deletion is not allowed/,
      );
      assert.equal(
        attributes.FailedAt?.StringValue,
        '2026-12-03T10:00:05.000Z',
      );
      assert.deepEqual(attributes.ReceiveCount, {
        DataType: 'Number',
        StringValue: '1',
      });
      assert.equal(attributes.Action?.StringValue, 'Destroy');
      assert.equal(attributes.UnitSlug?.StringValue, 'frontend');
      assert.deepEqual(attributes.RevisionNum, {
        DataType: 'Number',
        StringValue: '2',
      });
      assert.equal(
        attributes.QueuedOperationID?.StringValue,
        event.Payload.QueuedOperationID,
      );
    });
  });

  void describe('when a Refresh arrives', () => {
    void it('reports RefreshAndNoDrift with the live content when Tag holds the same data', async () => {
      const { reporter, run } = setup();
      await run([sqsRecord(queuedEvent({ revision: 2 }))]);

      await run([sqsRecord(queuedEvent({ action: 'Refresh', revision: 2 }))]);

      const final = reporter.results.at(-1)!;
      assert.equal(final.Result, 'RefreshAndNoDrift');
      assert.equal(
        Buffer.from(final.LiveState!, 'base64').toString(),
        YAML_REV(2),
      );
    });

    void it('reports RefreshAndDrifted with the live content when the data differs', async () => {
      const { reporter, run } = setup();
      await run([sqsRecord(queuedEvent({ revision: 2 }))]);

      await run([
        sqsRecord(
          queuedEvent({
            action: 'Refresh',
            revision: 2,
            data: 'kind: Other\n',
          }),
        ),
      ]);

      const final = reporter.results.at(-1)!;
      assert.equal(final.Status, 'Completed');
      assert.equal(final.Result, 'RefreshAndDrifted');
      assert.equal(
        Buffer.from(final.LiveState!, 'base64').toString(),
        YAML_REV(2),
      );
    });

    void it('pulls rev<N> when the target has no Tag', async () => {
      const { store, reporter, run } = setup();
      await run([sqsRecord(queuedEvent({ revision: 3, tag: null }))]);

      await run([
        sqsRecord(queuedEvent({ action: 'Refresh', revision: 3, tag: null })),
      ]);

      assert.deepEqual(store.calls.at(-1), {
        method: 'pull',
        repo: 'confighub/frontend',
        tag: 'rev3',
      });
      assert.equal(reporter.results.at(-1)!.Result, 'RefreshAndNoDrift');
    });

    void it('reports drift without live state when no artifact exists', async () => {
      const { reporter, run, dlqSends } = setup();

      const response = await run([
        sqsRecord(queuedEvent({ action: 'Refresh', revision: 2 })),
      ]);

      assert.deepEqual(response.batchItemFailures, []);
      const final = reporter.results.at(-1)!;
      assert.equal(final.Result, 'RefreshAndDrifted');
      assert.equal(final.LiveState, undefined);
      assert.match(final.Message, /no artifact at .*:latest/);
      assert.equal(dlqSends().length, 0);
    });
  });

  void describe('when an Import arrives', () => {
    void it('reports the pulled content as both Data and LiveState', async () => {
      const { reporter, run } = setup();
      await run([sqsRecord(queuedEvent({ revision: 2 }))]);

      await run([
        sqsRecord(queuedEvent({ action: 'Import', revision: 2, data: '' })),
      ]);

      const final = reporter.results.at(-1)!;
      assert.equal(final.Result, 'ImportCompleted');
      assert.equal(Buffer.from(final.Data!, 'base64').toString(), YAML_REV(2));
      assert.equal(final.LiveState, final.Data);
    });

    void it('reports ImportFailed when there is nothing to import, without parking the message', async () => {
      const { reporter, run, dlqSends } = setup();

      const response = await run([
        sqsRecord(queuedEvent({ action: 'Import', revision: 2, data: '' })),
      ]);

      assert.deepEqual(response.batchItemFailures, []);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Failed/ImportFailed',
      ]);
      assert.equal(dlqSends().length, 0);
    });
  });

  void describe('when a Finalize arrives', () => {
    void it('completes with Result None and no registry work', async () => {
      const { store, reporter, run } = setup();

      await run([sqsRecord(queuedEvent({ action: 'Finalize', revision: 2 }))]);

      assert.deepEqual(store.calls, []);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Completed/None',
      ]);
    });
  });

  void describe('when the registry fails transiently before the last receive', () => {
    void it('fails the message for SQS to retry, reports progress with the reason and parks nothing', async () => {
      const { store, reporter, run, dlqSends, metrics } = setup();
      store.failNext(
        'push',
        new OciError('REGISTRY_ERROR', 'PUT manifest: 503 UNAVAILABLE', {
          retryable: true,
          status: 503,
        }),
      );
      const record = sqsRecord(queuedEvent({ revision: 1 }), {
        receiveCount: 2,
      });

      const response = await run([record]);

      assert.deepEqual(response.batchItemFailures, [
        { itemIdentifier: record.messageId },
      ]);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Progressing/None',
      ]);
      assert.match(
        reporter.results[1]!.Message,
        /^attempt 2 of 5 failed \(transient\): PUT manifest: 503 UNAVAILABLE; it will be retried$/,
      );
      assert.equal(dlqSends().length, 0);
      assert.deepEqual(
        metrics.named('Failures').map((m) => m.dimensions),
        [{ FailureClass: 'transient' }],
      );
    });
  });

  void describe('when the registry fails transiently on the last allowed receive', () => {
    void it('reports ApplyFailed, parks the message with FailureClass transient and lets it succeed', async () => {
      const { store, reporter, run, dlqSends } = setup();
      store.failNext(
        'push',
        new OciError('NETWORK', 'connect ECONNREFUSED 127.0.0.1:5000', {
          retryable: true,
        }),
      );
      const record = sqsRecord(queuedEvent({ revision: 1 }), {
        receiveCount: 5,
      });

      const response = await run([record]);

      assert.deepEqual(response.batchItemFailures, []);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Failed/ApplyFailed',
      ]);
      assert.match(reporter.results[1]!.Message, /failed on all 5 attempts/);
      const [sent] = dlqSends();
      assert.equal(
        sent?.MessageAttributes?.FailureClass?.StringValue,
        'transient',
      );
      assert.equal(sent?.MessageAttributes?.ReceiveCount?.StringValue, '5');
      assert.match(
        sent?.MessageAttributes?.FailureReason?.StringValue ?? '',
        /^OciError:NETWORK: connect ECONNREFUSED/,
      );
    });
  });

  void describe('when the failure is permanent', () => {
    const permanent: [string, Error][] = [
      [
        'an immutable tag',
        new OciError(
          'IMMUTABLE_TAG',
          'tag latest is immutable in ECR repository confighub/frontend',
        ),
      ],
      [
        'an unsupported media type',
        new OciError(
          'UNSUPPORTED_MEDIA_TYPE',
          'registry refuses application/vnd.cncf.flux.config.v1+json',
          { status: 415 },
        ),
      ],
      [
        'credentials refused after a refresh',
        new CredentialsError(
          'NO_CREDENTIALS',
          'registry.test',
          'no usable credentials for registry.test/confighub/frontend; tried 1. worker-default: denied (401)',
        ),
      ],
      [
        'a registry refusing the credential',
        new OciError(
          'AUTH_FAILED',
          'registry.test answered 401 after a credential refresh',
          { status: 401 },
        ),
      ],
    ];
    for (const [name, error] of permanent) {
      void it(`reports Failed once and parks the message at once for ${name}`, async () => {
        const { store, reporter, run, dlqSends } = setup();
        store.failNext('push', error);
        const record = sqsRecord(queuedEvent({ revision: 1 }), {
          receiveCount: 1,
        });

        const response = await run([record]);

        assert.deepEqual(response.batchItemFailures, []);
        assert.deepEqual(reporter.sequence, [
          'Progressing/None',
          'Failed/ApplyFailed',
        ]);
        assert.ok(reporter.results[1]!.Message.startsWith(error.message));
        const sends = dlqSends();
        assert.equal(sends.length, 1);
        assert.equal(
          sends[0]!.MessageAttributes?.FailureClass?.StringValue,
          'permanent',
        );
      });
    }
  });

  void describe('when other services fail', () => {
    const transient: [string, Error][] = [
      [
        'a throttled secret read',
        new SecretSourceError(
          'THROTTLED',
          'registry/x',
          'Secrets Manager throttled GetSecretValue for registry/x',
        ),
      ],
      [
        'a retryable credentials failure',
        new CredentialsError(
          'NO_CREDENTIALS',
          'registry.test',
          'no usable credentials; tried 1. secret: throttled',
          { retryable: true },
        ),
      ],
      [
        'AWS throttling',
        Object.assign(new Error('Rate exceeded'), {
          name: 'ThrottlingException',
          $metadata: { httpStatusCode: 400 },
          $fault: 'client',
        }),
      ],
      [
        'a refused connection',
        Object.assign(new Error('connect ECONNREFUSED'), {
          code: 'ECONNREFUSED',
        }),
      ],
    ];
    for (const [name, error] of transient) {
      void it(`treats ${name} as transient`, async () => {
        const { store, run, dlqSends } = setup();
        store.failNext('push', error);
        const record = sqsRecord(queuedEvent({ revision: 1 }));

        const response = await run([record]);

        assert.deepEqual(response.batchItemFailures, [
          { itemIdentifier: record.messageId },
        ]);
        assert.equal(dlqSends().length, 0);
      });
    }
  });

  void describe('when the body is not a queued event', () => {
    void it('parks it in the DLQ as permanent without reporting, and lets it succeed', async () => {
      const { reporter, run, dlqSends } = setup();
      const record = sqsRecord('{"schemaVersion":2}');

      const response = await run([record]);

      assert.deepEqual(response.batchItemFailures, []);
      assert.deepEqual(reporter.results, []);
      const [sent] = dlqSends();
      assert.equal(sent?.MessageBody, '{"schemaVersion":2}');
      assert.equal(
        sent?.MessageAttributes?.FailureClass?.StringValue,
        'permanent',
      );
      assert.match(
        sent?.MessageAttributes?.FailureReason?.StringValue ?? '',
        /^PushError:BAD_MESSAGE: /,
      );
    });
  });

  void describe('when the DLQ send fails', () => {
    void it('fails the message so SQS keeps it', async () => {
      const { sqsMock, run } = setup();
      sqsMock.on(SendMessageCommand).rejects(new Error('SQS unavailable'));
      const record = sqsRecord(queuedEvent({ action: 'Destroy', revision: 2 }));

      const response = await run([record]);

      assert.deepEqual(response.batchItemFailures, [
        { itemIdentifier: record.messageId },
      ]);
    });
  });

  void describe('when ConfigHub cannot be reached', () => {
    void it('still succeeds after one push, logging and counting the undelivered reports', async () => {
      const { store, reporter, run, log, metrics } = setup();
      reporter.failWith = new Error('ConfigHub unavailable');

      const response = await run([sqsRecord(queuedEvent({ revision: 1 }))]);

      assert.deepEqual(response.batchItemFailures, []);
      assert.equal(store.calls.filter((c) => c.method === 'push').length, 1);
      assert.equal(metrics.named('ReportFailures').length, 2);
      assert.equal(
        log.lines.filter(
          (l) =>
            l.message === 'could not deliver the action result to ConfigHub',
        ).length,
        2,
      );
    });
  });

  void describe('when one unit fails in a batch of two units', () => {
    void it("skips and fails that unit's later messages and processes the other unit", async () => {
      const { store, reporter, run } = setup();
      store.failNext(
        'push',
        new OciError('REGISTRY_ERROR', '503', { retryable: true, status: 503 }),
      );
      const front1 = sqsRecord(queuedEvent({ unit: 'frontend', revision: 1 }));
      const back1 = sqsRecord(queuedEvent({ unit: 'backend', revision: 1 }));
      const front2 = sqsRecord(queuedEvent({ unit: 'frontend', revision: 2 }));
      const back2 = sqsRecord(queuedEvent({ unit: 'backend', revision: 2 }));

      const response = await run([front1, back1, front2, back2]);

      assert.deepEqual(
        response.batchItemFailures.map((f) => f.itemIdentifier).sort(),
        [front1.messageId, front2.messageId].sort(),
      );
      assert.deepEqual(store.tagsOf('confighub/frontend'), {});
      assert.deepEqual(Object.keys(store.tagsOf('confighub/backend')).sort(), [
        'latest',
        'rev1',
        'rev2',
      ]);
      // frontend rev2 was never started: no report for it.
      assert.equal(
        reporter.results.filter(
          (r) => r.UnitID === UNITS.frontend && r.RevisionNum === 2,
        ).length,
        0,
      );
    });

    void it("goes on with the unit's next message after a permanent failure parked the first", async () => {
      const { store, run, dlqSends } = setup();
      store.failNext(
        'push',
        new OciError('IMMUTABLE_TAG', 'tag latest is immutable'),
      );

      const response = await run([
        sqsRecord(queuedEvent({ revision: 1 })),
        sqsRecord(queuedEvent({ revision: 2 })),
      ]);

      assert.deepEqual(response.batchItemFailures, []);
      assert.equal(dlqSends().length, 1);
      assert.deepEqual(Object.keys(store.tagsOf('confighub/frontend')).sort(), [
        'latest',
        'rev2',
      ]);
    });
  });

  void describe('when the deadline approaches mid-batch', () => {
    void it('aborts the push in flight and fails it and every remaining message as transient', async () => {
      const { store, reporter, run, dlqSends, metrics } = setup({
        deadlineMarginMs: 5_000,
        finalMarginMs: 1_000,
      });
      store.hangOnPush = true;
      const records = [
        sqsRecord(queuedEvent({ unit: 'frontend', revision: 1 })),
        sqsRecord(queuedEvent({ unit: 'backend', revision: 1 })),
        sqsRecord(queuedEvent({ unit: 'backend', revision: 2 })),
      ];

      const response = await run(records, 5_200);

      assert.deepEqual(
        response.batchItemFailures.map((f) => f.itemIdentifier),
        records.map((r) => r.messageId),
      );
      assert.equal(store.calls.filter((c) => c.method === 'push').length, 1);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Progressing/None',
      ]);
      assert.match(
        reporter.results[1]!.Message,
        /stopped 5000 ms before the Lambda deadline/,
      );
      assert.equal(dlqSends().length, 0);
      assert.ok(
        metrics
          .named('Failures')
          .every((m) => m.dimensions.FailureClass === 'transient'),
      );
    });

    void it('parks the aborted message when it was on its last receive', async () => {
      const { store, reporter, run, dlqSends } = setup();
      store.hangOnPush = true;
      const record = sqsRecord(queuedEvent({ revision: 1 }), {
        receiveCount: 5,
      });

      const response = await run([record], 5_200);

      assert.deepEqual(response.batchItemFailures, []);
      assert.deepEqual(reporter.sequence, [
        'Progressing/None',
        'Failed/ApplyFailed',
      ]);
      assert.equal(
        dlqSends()[0]?.MessageAttributes?.FailureClass?.StringValue,
        'transient',
      );
    });
  });

  void describe('when it logs', () => {
    let setupResult: ReturnType<typeof setup>;
    beforeEach(async () => {
      setupResult = setup();
      await setupResult.run([sqsRecord(queuedEvent({ revision: 1 }))]);
    });

    void it('stamps unit, revision, operation and registry on every line of the action, and digest and duration at the end', () => {
      const lines = setupResult.log.lines;
      assert.ok(lines.length >= 2);
      for (const line of lines) {
        assert.equal(line.fields.unit, 'frontend');
        assert.equal(line.fields.revision, 1);
        assert.ok(line.fields.operationId);
      }
      const finished = lines.find((l) => l.message === 'action finished');
      assert.equal(finished?.fields.registry, 'registry.test');
      assert.match(String(finished?.fields.digest), /^sha256:[0-9a-f]{64}$/);
      assert.equal(typeof finished?.fields.durationMs, 'number');
    });

    void it('never logs the unit data', () => {
      const text = JSON.stringify(setupResult.log.lines);
      assert.ok(!text.includes('ConfigMap'));
      assert.ok(!text.includes(Buffer.from(YAML_REV(1)).toString('base64')));
    });

    void it('counts the push, its duration and bytes', () => {
      const { metrics } = setupResult;
      assert.deepEqual(
        metrics.named('Pushes').map((m) => m.value),
        [1],
      );
      assert.equal(metrics.named('PushDuration').length, 1);
      assert.ok(metrics.named('BytesPushed')[0]!.value > 0);
    });
  });
});
