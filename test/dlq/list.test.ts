import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { listDlq } from '../../cli/dlq/list.js';
import { runDlqCli } from '../../cli/dlq/main.js';
import { startEmbeddedQueue, type EmbeddedQueue } from '../support/queue.js';
import {
  Capture,
  counts,
  failPermanently,
  failUntilRedriven,
  localStackFile,
} from './support.js';

const UNIT_A = { unitId: 'unit-a', slug: 'frontend' };
const UNIT_B = { unitId: 'unit-b', slug: 'backend' };
const UNIT_C = { unitId: 'unit-c', slug: 'database' };

describe('listDlq', () => {
  let queue: EmbeddedQueue;

  before(async () => {
    queue = await startEmbeddedQueue({ maxReceiveCount: 2 });
    await failPermanently(queue, {
      ...UNIT_A,
      revision: 3,
      operationId: 'op-a3',
    });
    await failUntilRedriven(queue, {
      ...UNIT_B,
      revision: 7,
      operationId: 'op-b7',
      action: 'Destroy',
    });
    await failPermanently(
      queue,
      { ...UNIT_C, revision: 1, operationId: 'op-c1' },
      'deletion is not allowed on this target',
    );
  });

  after(async () => {
    await queue.stop();
  });

  describe('when the DLQ holds failures of both kinds', () => {
    it('shows unit, revision, action and the recorded failure', async () => {
      const listing = await listDlq(queue.sqs, {
        dlqUrl: queue.dlqUrl,
        queueUrl: queue.queueUrl,
        waitTimeSeconds: 0,
      });

      const a = listing.entries.find((entry) => entry.unitSlug === 'frontend');
      assert.deepEqual(
        {
          revision: a?.revision,
          action: a?.action,
          operationId: a?.operationId,
          failureClass: a?.failureClass,
          failureReason: a?.failureReason,
          redriven: a?.redriven,
          failedAt: a?.failedAt,
          receiveCount: a?.receiveCount,
        },
        {
          revision: 3,
          action: 'Apply',
          operationId: 'op-a3',
          failureClass: 'permanent',
          failureReason: 'credentials refused',
          redriven: false,
          failedAt: '2025-01-02T03:05:00Z',
          receiveCount: 1,
        },
      );
      assert.equal(listing.approximateTotal, 3);
      assert.equal(listing.entries.length, 3);
    });

    it('reports a redriven message as transient after maxReceiveCount receives', async () => {
      const listing = await listDlq(queue.sqs, {
        dlqUrl: queue.dlqUrl,
        queueUrl: queue.queueUrl,
        waitTimeSeconds: 0,
      });

      const b = listing.entries.find((entry) => entry.unitSlug === 'backend');
      assert.equal(b?.redriven, true);
      assert.equal(b?.failureClass, 'transient');
      assert.equal(b?.receiveCount, 2);
      assert.equal(b?.action, 'Destroy');
      assert.match(b?.failedAt ?? '', /^\d{4}-\d\d-\d\dT/);
    });

    it('leaves every message in the DLQ, visible again', async () => {
      await listDlq(queue.sqs, { dlqUrl: queue.dlqUrl, waitTimeSeconds: 0 });

      assert.deepEqual(await counts(queue.sqs, queue.dlqUrl), {
        visible: 3,
        inFlight: 0,
      });
    });
  });

  describe('when --max is smaller than the DLQ', () => {
    it('lists that many and releases all it received', async () => {
      const listing = await listDlq(queue.sqs, {
        dlqUrl: queue.dlqUrl,
        max: 1,
        waitTimeSeconds: 0,
      });

      assert.equal(listing.entries.length, 1);
      assert.deepEqual(await counts(queue.sqs, queue.dlqUrl), {
        visible: 3,
        inFlight: 0,
      });
    });
  });
});

describe('dlq list (command)', () => {
  let queue: EmbeddedQueue;
  let stack: Awaited<ReturnType<typeof localStackFile>>;

  before(async () => {
    queue = await startEmbeddedQueue({ maxReceiveCount: 2 });
    stack = await localStackFile(queue);
    await failPermanently(queue, {
      ...UNIT_A,
      revision: 3,
      operationId: 'op-a3',
    });
    await failUntilRedriven(queue, {
      ...UNIT_B,
      revision: 7,
      operationId: 'op-b7',
    });
  });

  after(async () => {
    await queue.stop();
    await stack.remove();
  });

  describe('when run against the local stack with --json', () => {
    it('prints every message as JSON and exits 0', async () => {
      const stdout = new Capture();
      const stderr = new Capture();

      const code = await runDlqCli(
        ['list', '--json'],
        { stdout, stderr, env: {} },
        { localStackFile: stack.file, waitTimeSeconds: 0 },
      );

      assert.equal(code, 0, stderr.text);
      const printed = JSON.parse(stdout.text) as {
        dlqUrl: string;
        messages: {
          unitSlug: string;
          revision: number;
          failureClass: string;
        }[];
      };
      assert.equal(printed.dlqUrl, queue.dlqUrl);
      assert.deepEqual(
        printed.messages
          .map((m) => `${m.unitSlug}@${m.revision}:${m.failureClass}`)
          .sort(),
        ['backend@7:transient', 'frontend@3:permanent'],
      );
    });
  });

  describe('when run without --json', () => {
    it('prints a table with the redrive explained', async () => {
      const stdout = new Capture();

      const code = await runDlqCli(
        [],
        { stdout, stderr: new Capture(), env: {} },
        { localStackFile: stack.file, waitTimeSeconds: 0 },
      );

      assert.equal(code, 0);
      assert.match(stdout.text, /^UNIT\s+REV\s+ACTION/);
      assert.match(stdout.text, /transient \(redriven after 2 receives\)/);
      assert.match(stdout.text, /credentials refused/);
    });
  });

  describe('when no local stack runs and no queue is given', () => {
    it('says how to start one and exits 1', async () => {
      const stderr = new Capture();

      const code = await runDlqCli(
        ['list'],
        { stdout: new Capture(), stderr, env: {} },
        { localStackFile: '/nonexistent/stack.json' },
      );

      assert.equal(code, 1);
      assert.match(
        stderr.text,
        /no local stack running .*start it with npm start, or pass --queue-url\/--dlq-url/,
      );
    });
  });

  describe('when stack.json names a stack that is not running', () => {
    it('says the local stack is not running and exits 1', async () => {
      const stopped = await startEmbeddedQueue();
      const stale = await localStackFile(stopped);
      await stopped.stop();
      const stderr = new Capture();

      const code = await runDlqCli(
        ['list'],
        { stdout: new Capture(), stderr, env: {} },
        { localStackFile: stale.file, waitTimeSeconds: 0 },
      );
      await stale.remove();

      assert.equal(code, 1);
      assert.match(
        stderr.text,
        /no local stack running at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/,
      );
    });
  });
});
