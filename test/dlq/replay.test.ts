import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { runDlqCli } from '../../cli/dlq/main.js';
import { replayMessages, replaySucceeded } from '../../cli/dlq/replay.js';
import { startEmbeddedQueue, type EmbeddedQueue } from '../support/queue.js';
import {
  Capture,
  counts,
  drain,
  failPermanently,
  failUntilRedriven,
  label,
  localStackFile,
  queuedEvent,
  type TestEvent,
} from './support.js';

const A = { unitId: 'unit-a', slug: 'frontend' };
const B = { unitId: 'unit-b', slug: 'backend' };

const A1: TestEvent = { ...A, revision: 1, operationId: 'op-a1' };
const A2: TestEvent = { ...A, revision: 2, operationId: 'op-a2' };
const A3: TestEvent = { ...A, revision: 3, operationId: 'op-a3' };
const B1: TestEvent = { ...B, revision: 1, operationId: 'op-b1' };
const B2: TestEvent = { ...B, revision: 2, operationId: 'op-b2' };

describe('replayMessages', () => {
  let queue: EmbeddedQueue;

  beforeEach(async () => {
    queue = await startEmbeddedQueue({ maxReceiveCount: 2 });
    // The DLQ as failures fill it: interleaved units, each in its order.
    for (const event of [A1, B1, A2, B2, A3]) {
      await failPermanently(queue, event);
    }
  });

  afterEach(async () => {
    await queue.stop();
  });

  const replay = (options: Partial<Parameters<typeof replayMessages>[1]>) =>
    replayMessages(queue.sqs, {
      queueUrl: queue.queueUrl,
      dlqUrl: queue.dlqUrl,
      waitTimeSeconds: 0,
      ...options,
    });

  describe('when selecting by unit', () => {
    it("moves exactly that unit's messages, in order", async () => {
      const report = await replay({ selection: { unit: 'frontend' } });

      assert.equal(replaySucceeded(report), true);
      assert.deepEqual((await drain(queue.sqs, queue.queueUrl)).map(label), [
        'frontend@1',
        'frontend@2',
        'frontend@3',
      ]);
      assert.deepEqual(
        (await drain(queue.sqs, queue.dlqUrl)).map(label).sort(),
        ['backend@1', 'backend@2'],
      );
    });

    it('sends the same body and group, fresh dedup ids and no failure record', async () => {
      const replayedAt = new Date('2025-02-03T04:05:06Z');

      await replay({ selection: { unit: 'backend' }, now: () => replayedAt });

      const [first] = await drain(queue.sqs, queue.queueUrl);
      assert.equal(first?.Body, JSON.stringify(queuedEvent(B1)));
      assert.equal(first?.Attributes?.MessageGroupId, 'unit-b');
      assert.match(
        first?.Attributes?.MessageDeduplicationId ?? '',
        /^op-b1-replay-[0-9a-f-]{36}$/,
      );
      assert.deepEqual(Object.keys(first?.MessageAttributes ?? {}).sort(), [
        'Action',
        'QueuedOperationID',
        'ReplayedAt',
        'RevisionNum',
        'UnitSlug',
      ]);
      assert.equal(
        first?.MessageAttributes?.ReplayedAt?.StringValue,
        '2025-02-03T04:05:06.000Z',
      );
    });
  });

  describe('when selecting by operation', () => {
    it('moves only that message', async () => {
      const report = await replay({ selection: { operation: 'op-b1' } });

      assert.deepEqual(
        report.moved.map((entry) => entry.operationId),
        ['op-b1'],
      );
      assert.deepEqual((await drain(queue.sqs, queue.queueUrl)).map(label), [
        'backend@1',
      ]);
      assert.deepEqual(await counts(queue.sqs, queue.dlqUrl), {
        visible: 4,
        inFlight: 0,
      });
    });
  });

  describe('when limited by --max', () => {
    it('moves that many and leaves the rest visible in the DLQ', async () => {
      const report = await replay({ selection: { max: 2 } });

      assert.equal(report.moved.length, 2);
      assert.equal((await drain(queue.sqs, queue.queueUrl)).length, 2);
      assert.deepEqual(await counts(queue.sqs, queue.dlqUrl), {
        visible: 3,
        inFlight: 0,
      });
    });
  });

  describe('when every replayed message fails again at once', () => {
    // Without the cutoff this replay never ends: bound it.
    it(
      'moves each message once and leaves the re-parked ones for the next replay',
      { timeout: 30_000 },
      async () => {
        const reparked: Promise<unknown>[] = [];

        // A permanent failure: the push function parks the event again as
        // soon as the replay has sent it back, with the SQS message id as
        // deduplication id (so SQS does not drop it as a duplicate).
        const report = await replay({
          onEvent: (event) => {
            if (event.type !== 'moved') return;
            reparked.push(
              queue.sqs.send(
                new SendMessageCommand({
                  QueueUrl: queue.dlqUrl,
                  MessageBody: event.entry.body,
                  MessageGroupId: event.entry.unitId,
                  MessageDeduplicationId: randomUUID(),
                }),
              ),
            );
          },
        });
        await Promise.all(reparked);

        assert.equal(report.moved.length, 5);
        assert.ok(
          report.arrivedDuringReplay <= 5,
          `${report.arrivedDuringReplay} arrivals for 5 moves`,
        );
        assert.equal((await drain(queue.sqs, queue.dlqUrl)).length, 5);
      },
    );
  });

  describe('when it is a dry run', () => {
    it('reports what would move and changes nothing', async () => {
      const report = await replay({
        selection: { unit: 'backend' },
        dryRun: true,
      });

      assert.deepEqual(
        report.wouldMove.map((entry) => entry.operationId),
        ['op-b1'],
      );
      assert.equal(report.moved.length, 0);
      assert.deepEqual(await counts(queue.sqs, queue.queueUrl), {
        visible: 0,
        inFlight: 0,
      });
      assert.deepEqual(await counts(queue.sqs, queue.dlqUrl), {
        visible: 5,
        inFlight: 0,
      });
    });
  });
});

describe('replayMessages with a failing send', () => {
  let queue: EmbeddedQueue;

  beforeEach(async () => {
    queue = await startEmbeddedQueue({ maxReceiveCount: 2 });
    for (const event of [A1, B1, A2, B2, A3]) {
      await failPermanently(queue, event);
    }
  });

  afterEach(async () => {
    await queue.stop();
  });

  describe('when the send of one message fails', () => {
    it('keeps it and its later revisions in the DLQ and moves the rest', async () => {
      const report = await replayMessages(failSendsOf(queue.sqs, 'op-a2'), {
        queueUrl: queue.queueUrl,
        dlqUrl: queue.dlqUrl,
        waitTimeSeconds: 0,
      });

      assert.equal(replaySucceeded(report), false);
      assert.deepEqual(
        report.failed.map(({ entry }) => entry.operationId),
        ['op-a2'],
      );
      assert.deepEqual(
        (await drain(queue.sqs, queue.queueUrl)).map(label).sort(),
        ['backend@1', 'backend@2', 'frontend@1'],
      );
      assert.deepEqual((await drain(queue.sqs, queue.dlqUrl)).map(label), [
        'frontend@2',
        'frontend@3',
      ]);
    });
  });
});

describe('replayMessages twice', () => {
  let queue: EmbeddedQueue;

  beforeEach(async () => {
    queue = await startEmbeddedQueue({ maxReceiveCount: 2 });
  });

  afterEach(async () => {
    await queue.stop();
  });

  describe('when the same operation fails again within the dedup window', () => {
    it('arrives in the source queue each time', async () => {
      // Queued by the webhook with dedup id = operation id, then redriven.
      await failUntilRedriven(queue, B1);
      const first = await replayMessages(queue.sqs, {
        queueUrl: queue.queueUrl,
        dlqUrl: queue.dlqUrl,
        waitTimeSeconds: 0,
      });
      const arrivedFirst = await drain(queue.sqs, queue.queueUrl);
      // It fails once more and reaches the DLQ again.
      await failPermanently(queue, { ...B1, operationId: 'op-b1' }, 'again');
      const second = await replayMessages(queue.sqs, {
        queueUrl: queue.queueUrl,
        dlqUrl: queue.dlqUrl,
        waitTimeSeconds: 0,
      });
      const arrivedSecond = await drain(queue.sqs, queue.queueUrl);

      assert.equal(first.moved.length, 1);
      assert.equal(second.moved.length, 1);
      assert.deepEqual([...arrivedFirst, ...arrivedSecond].map(label), [
        'backend@1',
        'backend@1',
      ]);
    });
  });
});

describe('dlq replay (command) on fauxqs', () => {
  let queue: EmbeddedQueue;
  let stack: Awaited<ReturnType<typeof localStackFile>>;

  beforeEach(async () => {
    queue = await startEmbeddedQueue({ maxReceiveCount: 2 });
    stack = await localStackFile(queue);
    for (const event of [A1, B1, A2]) {
      await failPermanently(queue, event);
    }
    await failUntilRedriven(queue, B2);
  });

  afterEach(async () => {
    await queue.stop();
    await stack.remove();
  });

  describe('when replaying everything', () => {
    it('falls back to receive-and-send, says so and reports the count', async () => {
      const stdout = new Capture();
      const stderr = new Capture();

      const code = await runDlqCli(
        ['replay'],
        { stdout, stderr, env: {} },
        { localStackFile: stack.file, waitTimeSeconds: 0 },
      );

      assert.equal(code, 0, stderr.text);
      assert.match(
        stderr.text,
        /does not run redrive tasks \(InvalidAction\); moving the messages by receive-and-send instead/,
      );
      assert.match(stdout.text, /^moved 4 message\(s\) back to /);
      assert.deepEqual(await counts(queue.sqs, queue.dlqUrl), {
        visible: 0,
        inFlight: 0,
      });
      assert.equal((await drain(queue.sqs, queue.queueUrl)).length, 4);
    });
  });

  describe('when asked for the task status', () => {
    it('explains that there is no task to show and exits 1', async () => {
      const stderr = new Capture();

      const code = await runDlqCli(
        ['replay', '--status'],
        { stdout: new Capture(), stderr, env: {} },
        { localStackFile: stack.file, waitTimeSeconds: 0 },
      );

      assert.equal(code, 1);
      assert.match(stderr.text, /runs no redrive tasks \(InvalidAction\)/);
    });
  });

  describe('when a dry run selects a unit', () => {
    it('prints the messages that would move and exits 0', async () => {
      const stdout = new Capture();
      const stderr = new Capture();

      const code = await runDlqCli(
        ['replay', '--unit', 'frontend', '--dry-run'],
        { stdout, stderr, env: {} },
        { localStackFile: stack.file, waitTimeSeconds: 0 },
      );

      assert.equal(code, 0);
      assert.match(stdout.text, /frontend\s+1\s+Apply\s+op-a1/);
      assert.match(stdout.text, /dry run: would move 1 message\(s\)/);
      // fauxqs hands out one message per unit while it is in flight.
      assert.match(
        stderr.text,
        /^2 more message\(s\) in the DLQ could not be looked at/,
      );
      assert.deepEqual(await counts(queue.sqs, queue.dlqUrl), {
        visible: 4,
        inFlight: 0,
      });
    });
  });

  describe('when --status is combined with --unit', () => {
    it('refuses with exit code 2', async () => {
      const stderr = new Capture();

      const code = await runDlqCli(
        ['replay', '--status', '--unit', 'frontend'],
        { stdout: new Capture(), stderr, env: {} },
        { localStackFile: stack.file },
      );

      assert.equal(code, 2);
      assert.match(stderr.text, /--status and --cancel concern/);
    });
  });

  describe('when --max is not a positive number', () => {
    it('refuses with exit code 2', async () => {
      const stderr = new Capture();

      const code = await runDlqCli(
        ['replay', '--max', '0'],
        { stdout: new Capture(), stderr, env: {} },
        { localStackFile: stack.file },
      );

      assert.equal(code, 2);
      assert.match(stderr.text, /expected a whole number ≥ 1, got 0/);
    });
  });

  describe('when one send fails', () => {
    it('names the message left in the DLQ and exits 1', async () => {
      const stdout = new Capture();
      const stderr = new Capture();

      const code = await runDlqCli(
        ['replay', '--unit', 'frontend'],
        { stdout, stderr, env: {} },
        {
          localStackFile: stack.file,
          waitTimeSeconds: 0,
          createSqs: () => failSendsOf(queue.client(), 'op-a1'),
        },
      );

      assert.equal(code, 1);
      assert.match(stdout.text, /^moved 0 message\(s\)/);
      assert.match(
        stderr.text,
        /send failed, still in the DLQ: frontend rev 1 \(Apply, operation op-a1\): injected send failure/,
      );
    });
  });
});

/**
 * A client whose SendMessage of one operation fails; everything else goes
 * to the real queue.
 */
function failSendsOf(client: SQSClient, operationId: string): SQSClient {
  const send = client.send.bind(client) as (...args: unknown[]) => unknown;
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') {
        return Reflect.get(target, property, receiver) as unknown;
      }
      return (command: unknown, ...rest: unknown[]) => {
        if (
          command instanceof SendMessageCommand &&
          command.input.MessageAttributes?.QueuedOperationID?.StringValue ===
            operationId
        ) {
          return Promise.reject(new Error('injected send failure'));
        }
        return send(command, ...rest);
      };
    },
  });
}
