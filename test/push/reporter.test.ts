import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';

import {
  createConfigHubReporter,
  createLogReporter,
  ReportError,
  type ActionResult,
} from '../../shared/confighub/index.js';
import type { SecretSource } from '../../shared/secrets/source.js';
import { RecordingLog } from './recorders.js';

interface Received {
  method: string | undefined;
  url: string | undefined;
  authorization: string | undefined;
  body: ActionResult;
}

const RESULT: ActionResult = {
  UnitID: '0b7a1c52-4a8e-4d0f-8f4e-1c2d3e4f5a61',
  SpaceID: '6f1c2a3e-0d4b-4c55-9a71-2b8e5d7c9f10',
  QueuedOperationID: '3f0a9b7c-1d2e-4f50-8a6b-9c0d1e2f3a41',
  RevisionNum: 1,
  Action: 'Apply',
  Result: 'ApplyCompleted',
  Status: 'Completed',
  Message: 'pushed',
  StartedAt: '2026-12-03T10:00:00.000Z',
  TerminatedAt: '2026-12-03T10:00:01.000Z',
  LiveState: Buffer.from('kind: ConfigMap\n').toString('base64'),
};

/** A secret source whose value changes after `rotateAfter` reads. */
function secrets(values: string[]): SecretSource & { reads: boolean[] } {
  const reads: boolean[] = [];
  return {
    reads,
    get(_id, options) {
      reads.push(options?.forceFetch === true);
      const value = options?.forceFetch ? values.at(-1) : values[0];
      return Promise.resolve({ text: `${value}\n` });
    },
  };
}

void describe('createConfigHubReporter', () => {
  let server: Server;
  let url: string;
  let received: Received[];
  let answers: number[];

  before(async () => {
    server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({
          method: request.method,
          url: request.url,
          authorization: request.headers.authorization,
          body: JSON.parse(
            Buffer.concat(chunks).toString('utf8'),
          ) as ActionResult,
        });
        const status = answers.shift() ?? 200;
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received = [];
    answers = [];
  });

  const reporter = (source: SecretSource, attempts = 3) =>
    createConfigHubReporter({
      url: `${url}/`,
      workerId: 'worker-1',
      secrets: source,
      workerSecretId: 'confighub/worker',
      attempts,
      minDelayMs: 1,
      maxDelayMs: 2,
    });

  void describe('when ConfigHub accepts the result', () => {
    void it('POSTs the ActionResult to the worker endpoint with the bearer secret', async () => {
      await reporter(secrets(['s3cret'])).report(RESULT);

      assert.equal(received.length, 1);
      assert.equal(received[0]!.method, 'POST');
      assert.equal(
        received[0]!.url,
        '/api/bridge_worker/worker-1/action_result',
      );
      assert.equal(received[0]!.authorization, 'Bearer s3cret');
      assert.deepEqual(received[0]!.body, RESULT);
    });
  });

  void describe('when ConfigHub answers 503 then 200', () => {
    void it('retries and delivers', async () => {
      answers = [503, 200];

      await reporter(secrets(['s3cret'])).report(RESULT);

      assert.equal(received.length, 2);
    });
  });

  void describe('when ConfigHub answers 500 every time', () => {
    void it('gives up after the configured attempts with UNAVAILABLE', async () => {
      answers = [500, 500, 500, 500];

      await assert.rejects(
        reporter(secrets(['s3cret'])).report(RESULT),
        (error) => {
          assert.ok(error instanceof ReportError);
          assert.equal(error.code, 'UNAVAILABLE');
          assert.equal(error.attempts, 3);
          assert.equal(error.status, 500);
          return true;
        },
      );
      assert.equal(received.length, 3);
    });

    void it('tries once when asked for a single attempt', async () => {
      answers = [500];

      await assert.rejects(
        reporter(secrets(['s3cret'])).report(RESULT, { attempts: 1 }),
      );

      assert.equal(received.length, 1);
    });
  });

  void describe('when ConfigHub answers 400', () => {
    void it('does not resend and rejects with REJECTED', async () => {
      answers = [400];

      await assert.rejects(reporter(secrets(['s3cret'])).report(RESULT), {
        name: 'ReportError',
        code: 'REJECTED',
        status: 400,
      });
      assert.equal(received.length, 1);
    });
  });

  void describe('when ConfigHub answers 401 because the secret was rotated', () => {
    void it('reads the secret afresh once and delivers with the new value', async () => {
      answers = [401, 200];
      const source = secrets(['old-secret', 'new-secret']);

      await reporter(source).report(RESULT);

      assert.deepEqual(
        received.map((r) => r.authorization),
        ['Bearer old-secret', 'Bearer new-secret'],
      );
      assert.deepEqual(source.reads, [false, true]);
    });

    void it('rejects with UNAUTHORIZED, without the secret, when the fresh value is refused too', async () => {
      answers = [401, 401];

      await assert.rejects(
        reporter(secrets(['old-secret', 'new-secret'])).report(RESULT),
        (error) => {
          assert.ok(error instanceof ReportError);
          assert.equal(error.code, 'UNAUTHORIZED');
          assert.ok(!error.message.includes('old-secret'));
          assert.ok(!error.message.includes('new-secret'));
          return true;
        },
      );
      assert.equal(received.length, 2);
    });
  });

  void describe('when the message is longer than ConfigHub accepts', () => {
    void it('cuts it to 1024 UTF-8 bytes', async () => {
      await reporter(secrets(['s3cret'])).report({
        ...RESULT,
        Message: 'é'.repeat(2000),
      });

      const message = received[0]!.body.Message;
      assert.ok(Buffer.byteLength(message) <= 1024);
      assert.ok(message.endsWith('…'));
    });
  });

  void describe('when ConfigHub is unreachable', () => {
    void it('rejects with UNAVAILABLE after the attempts', async () => {
      const closed = createConfigHubReporter({
        url: 'http://127.0.0.1:1',
        workerId: 'worker-1',
        secrets: secrets(['s3cret']),
        workerSecretId: 'confighub/worker',
        attempts: 2,
        minDelayMs: 1,
      });

      await assert.rejects(closed.report(RESULT), {
        code: 'UNAVAILABLE',
        attempts: 2,
      });
    });
  });
});

void describe('createLogReporter', () => {
  void describe('when no ConfigHub is configured', () => {
    void it('logs the result with sizes instead of data', async () => {
      const log = new RecordingLog();

      await createLogReporter(log).report({
        ...RESULT,
        Outputs: Buffer.from(
          JSON.stringify([{ Digest: 'r/x@sha256:1', URL: 'r/x:rev1' }]),
        ).toString('base64'),
      });

      assert.equal(log.lines.length, 1);
      const fields = log.lines[0]!.fields;
      assert.equal(fields.result, 'ApplyCompleted');
      assert.equal(fields.liveStateBytes, 16);
      assert.deepEqual(fields.outputs, [
        { Digest: 'r/x@sha256:1', URL: 'r/x:rev1' },
      ]);
      assert.ok(!JSON.stringify(log.lines).includes(RESULT.LiveState!));
    });
  });
});
