import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { parseQueuedEvent } from '../../shared/event/schema.js';
import type { Log } from '../../shared/log.js';
import {
  SecretSourceError,
  type SecretSource,
} from '../../shared/secrets/source.js';
import { signBody } from '../../shared/signing/signature.js';
import { freeLoopbackPort } from '../support/ports.js';
import { startTestQueue, type TestQueue } from '../support/queue.js';
import {
  CURRENT_SECRET,
  NOW,
  PREVIOUS_SECRET,
  fixture,
  fixtureNames,
  parseBody,
  request,
  unreachableSqs,
  webhook,
} from './support.js';

const REV1 = 'apply-frontend-rev1.json';
const REV1_OPERATION_ID = '3f0a9b7c-1d2e-4f50-8a6b-9c0d1e2f3a41';
const FRONTEND_UNIT_ID = '0b7a1c52-4a8e-4d0f-8f4e-1c2d3e4f5a61';

/** The field each bad fixture gets wrong, found by reading the fixture. */
const BAD_FIXTURES: Record<string, string> = {
  'bad/data-not-base64.json': 'Payload.Data',
  'bad/repository-missing.json': 'Payload.TargetParams.Repository',
  'bad/revision-zero.json': 'Payload.RevisionNum',
  'bad/slug-uppercase.json': 'Payload.UnitSlug',
  'bad/target-params-not-json.json': 'Payload.TargetParams',
  'bad/unknown-action.json': 'Action',
};

describe('createWebhookHandler', () => {
  let queue: TestQueue;

  // A fresh queue per test: FIFO deduplication remembers an operation id
  // for five minutes, even after its message is deleted.
  beforeEach(async () => {
    queue = await startTestQueue();
  });
  afterEach(async () => {
    await queue.stop();
  });

  describe('when a valid Apply event arrives', () => {
    it('queues it grouped by unit, deduplicated by operation, with attributes', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      const wire = JSON.parse(fixture(REV1)) as {
        Payload: { Data: string };
      };

      const result = await handle(request(fixture(REV1)));

      assert.equal(result.statusCode, 202);
      const answer = parseBody(result.body);
      const messages = await queue.receiveAll();
      assert.equal(messages.length, 1);
      const [message] = messages;
      assert.equal(answer.messageId, message?.MessageId);
      assert.equal(answer.queuedOperationId, REV1_OPERATION_ID);
      assert.equal(message?.Attributes?.MessageGroupId, FRONTEND_UNIT_ID);
      assert.equal(
        message?.Attributes?.MessageDeduplicationId,
        REV1_OPERATION_ID,
      );
      assert.deepEqual(message?.MessageAttributes, {
        Action: { DataType: 'String', StringValue: 'Apply' },
        UnitSlug: { DataType: 'String', StringValue: 'frontend' },
        RevisionNum: { DataType: 'Number', StringValue: '1' },
        QueuedOperationID: {
          DataType: 'String',
          StringValue: REV1_OPERATION_ID,
        },
      });
      const queued = parseQueuedEvent(message?.Body ?? '');
      assert.equal(queued.acceptedAt, '2025-12-03T18:00:00.000Z');
      assert.equal(queued.Action, 'Apply');
      assert.equal(queued.Payload.RevisionNum, 1);
      assert.equal(queued.Payload.Data, wire.Payload.Data);
      assert.deepEqual(queued.Payload.TargetParams, {
        Repository: 'localhost:5000/confighub',
        Tag: 'latest',
        Provider: 'Generic',
        AllowDeletion: false,
      });
    });

    it('queues one message when the same event arrives twice', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const first = await handle(request(fixture(REV1)));
      const second = await handle(request(fixture(REV1)));

      assert.equal(first.statusCode, 202);
      assert.equal(second.statusCode, 202);
      assert.equal(
        parseBody(second.body).messageId,
        parseBody(first.body).messageId,
      );
      assert.equal((await queue.receiveAll()).length, 1);
    });

    it('reads a body API Gateway passed as text rather than base64', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const result = await handle(request(fixture(REV1), { base64: false }));

      assert.equal(result.statusCode, 202);
      assert.equal((await queue.receiveAll()).length, 1);
    });

    it('tags the log with the operation id and logs neither data nor secrets', async () => {
      const lines: unknown[] = [];
      const correlation: string[] = [];
      const record =
        (level: string): Log['info'] =>
        (message, fields) =>
          lines.push({ level, message, fields });
      const handle = webhook(queue.sqs, queue.queueUrl, {
        log: {
          debug: record('debug'),
          info: record('info'),
          warn: record('warn'),
          error: record('error'),
          setCorrelationId: (id) => correlation.push(id),
        },
      });
      const wire = JSON.parse(fixture(REV1)) as {
        Payload: { Data: string; TargetParams: string };
      };

      await handle(request(fixture(REV1)));

      assert.deepEqual(correlation, [REV1_OPERATION_ID]);
      const logged = JSON.stringify(lines);
      assert.ok(logged.includes('event queued'));
      assert.ok(!logged.includes(wire.Payload.Data.slice(0, 40)));
      assert.ok(!logged.includes(wire.Payload.TargetParams));
      assert.ok(!logged.includes(CURRENT_SECRET));
    });
  });

  describe('when a valid event carries text SQS refuses raw', () => {
    it('escapes U+FFFE, U+FFFF and astral characters so the message is accepted unchanged', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      const wire = JSON.parse(fixture(REV1)) as Record<string, unknown>;
      const note = 'odd \uFFFE\uFFFF \u{1F680} end';
      const body = JSON.stringify({
        ...wire,
        Payload: { ...(wire.Payload as object), ExtraParams: { note } },
      });

      const result = await handle(request(body));

      assert.equal(result.statusCode, 202, result.body);
      const [message] = await queue.receiveAll();
      const queued = parseQueuedEvent(message?.Body ?? '');
      assert.deepEqual(queued.Payload.ExtraParams, { note });
    });
  });

  describe('when keys differ from the fields only in case', () => {
    /** The rev1 fixture's text with each named key respelled. */
    function respelled(renames: [string, string][]): string {
      let text = fixture(REV1);
      for (const [from, to] of renames) {
        assert.ok(text.includes(`"${from}":`), from);
        text = text.replace(`"${from}":`, `"${to}":`);
      }
      return text;
    }

    it('queues the event under the canonical names, as Go reads it', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      const body = respelled([
        ['Action', 'action'],
        ['UnitSlug', 'unitslug'],
        ['RevisionNum', 'REVISIONNUM'],
      ]);

      const result = await handle(request(body));

      assert.equal(result.statusCode, 202, result.body);
      const [message] = await queue.receiveAll();
      const raw = JSON.parse(message?.Body ?? '') as {
        Action: unknown;
        Payload: Record<string, unknown>;
      };
      assert.equal(raw.Action, 'Apply');
      assert.equal(raw.Payload.UnitSlug, 'frontend');
      assert.equal(raw.Payload.RevisionNum, 1);
      assert.ok(!('unitslug' in raw.Payload) && !('action' in raw));
      assert.equal(
        message?.MessageAttributes?.UnitSlug?.StringValue,
        'frontend',
      );
    });

    it('refuses a second key for the same field with 400 naming both, queueing nothing', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      const body = fixture(REV1).replace(
        '"UnitSlug":',
        '"unitslug": "evilcase", "UnitSlug":',
      );

      const result = await handle(request(body));

      assert.equal(result.statusCode, 400);
      const { errors } = parseBody(result.body) as {
        errors: { path: string; message: string }[];
      };
      assert.deepEqual(
        errors.map((error) => error.path),
        ['Payload.UnitSlug'],
      );
      assert.match(errors[0]?.message ?? '', /"unitslug" and "UnitSlug"/);
      assert.equal((await queue.receiveAll()).length, 0);
    });
  });

  describe('when the body is not UTF-8', () => {
    it('answers 400 and queues nothing', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const result = await handle(request(Buffer.from([0x7b, 0xff, 0x7d])));

      assert.equal(result.statusCode, 400);
      assert.match(result.body ?? '', /not UTF-8/);
      assert.equal((await queue.receiveAll()).length, 0);
    });
  });

  describe('when each good fixture arrives', () => {
    it('queues every operation and answers the heartbeat with 200 without queueing it', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      const names = fixtureNames();
      assert.ok(names.includes('heartbeat.json'));

      for (const name of names) {
        const result = await handle(request(fixture(name)));

        if (name === 'heartbeat.json') {
          assert.equal(result.statusCode, 200, name);
          assert.deepEqual(parseBody(result.body), {
            workerEvent: 'Heartbeat',
            queued: false,
          });
        } else {
          assert.equal(result.statusCode, 202, `${name}: ${result.body}`);
        }
      }
      const messages = await queue.receiveAll();
      assert.equal(messages.length, names.length - 1);
    });
  });

  describe('when a bad fixture arrives', () => {
    it('covers every file in bad/', () => {
      assert.deepEqual(fixtureNames('bad/'), Object.keys(BAD_FIXTURES).sort());
    });

    for (const [name, path] of Object.entries(BAD_FIXTURES)) {
      it(`refuses ${name} with 400 naming ${path}, queueing nothing`, async () => {
        const handle = webhook(queue.sqs, queue.queueUrl);

        const result = await handle(request(fixture(name)));

        assert.equal(result.statusCode, 400);
        const { errors } = parseBody(result.body) as {
          errors: { path: string; message: string }[];
        };
        assert.deepEqual(
          errors.map((error) => error.path),
          [path],
        );
        assert.ok((errors[0]?.message.length ?? 0) > 10);
        assert.equal((await queue.receiveAll()).length, 0);
      });
    }
  });

  describe('when the signature does not verify', () => {
    const body = fixture(REV1);
    const cases: [string, () => ReturnType<typeof request>][] = [
      [
        'the body was changed after signing',
        () =>
          request(body.replace('"RevisionNum": 1', '"RevisionNum": 9'), {
            signature: signBody(CURRENT_SECRET, body, NOW),
          }),
      ],
      [
        'it was made with another secret',
        () => request(body, { secret: 'not-the-secret' }),
      ],
      [
        'it is older than the tolerance',
        () => request(body, { signedAt: new Date(NOW.getTime() - 301_000) }),
      ],
      [
        'it is dated further ahead than the tolerance',
        () => request(body, { signedAt: new Date(NOW.getTime() + 301_000) }),
      ],
      ['the header is missing', () => request(body, { signature: null })],
      [
        'the header is malformed',
        () => request(body, { signature: 't=soon,v1=abc' }),
      ],
      [
        'the header has no v1 signature',
        () => request(body, { signature: `t=${NOW.getTime() / 1000}` }),
      ],
    ];

    for (const [when, build] of cases) {
      it(`answers 401 without detail when ${when}`, async () => {
        const handle = webhook(queue.sqs, queue.queueUrl);

        const result = await handle(build());

        assert.equal(result.statusCode, 401);
        assert.deepEqual(parseBody(result.body), { message: 'Unauthorized.' });
        assert.equal((await queue.receiveAll()).length, 0);
      });
    }
  });

  describe('when the signature verifies', () => {
    it('accepts the previous version of the secret', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const result = await handle(
        request(fixture(REV1), { secret: PREVIOUS_SECRET }),
      );

      assert.equal(result.statusCode, 202);
    });

    it('accepts a timestamp just inside the tolerance', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const result = await handle(
        request(fixture(REV1), {
          signedAt: new Date(NOW.getTime() - 299_000),
        }),
      );

      assert.equal(result.statusCode, 202);
    });

    it('accepts a header with a wrong and a right v1 signature', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      const good = signBody(CURRENT_SECRET, fixture(REV1), NOW);
      const wrong = signBody('other', fixture(REV1), NOW).split(',')[1];

      const result = await handle(
        request(fixture(REV1), { signature: `${good},${wrong}` }),
      );

      assert.equal(result.statusCode, 202);
    });

    it('picks up a rotated secret once, then stops re-reading it for a minute', async () => {
      const calls: boolean[] = [];
      const rotating: SecretSource = {
        get(_id, options = {}) {
          if (options.stage === 'AWSPREVIOUS') {
            return Promise.reject(
              new SecretSourceError('NOT_FOUND', _id, 'none'),
            );
          }
          calls.push(options.forceFetch === true);
          // The cache still holds the old value until a forced fetch.
          return Promise.resolve({
            text: options.forceFetch === true ? 'rotated' : 'cached-old',
          });
        },
      };
      const handle = webhook(queue.sqs, queue.queueUrl, { secrets: rotating });

      const rotated = await handle(
        request(fixture(REV1), { secret: 'rotated' }),
      );
      const forged = await handle(request(fixture(REV1), { secret: 'forged' }));

      assert.equal(rotated.statusCode, 202);
      assert.equal(forged.statusCode, 401);
      assert.deepEqual(calls, [false, true, false]);
    });
  });

  describe('when the request is not a webhook call', () => {
    it('answers 404 for another path', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const result = await handle(request(fixture(REV1), { path: '/hook' }));

      assert.equal(result.statusCode, 404);
    });

    it('serves the route under a named stage', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      const event = request(fixture(REV1), { path: '/prod/webhook' });
      event.requestContext.stage = 'prod';

      const result = await handle(event);

      assert.equal(result.statusCode, 202);
    });

    it('answers 405 with Allow: POST for another method', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const result = await handle(request('', { method: 'GET' }));

      assert.equal(result.statusCode, 405);
      assert.equal(result.headers?.allow, 'POST');
    });

    for (const contentType of [
      'text/plain',
      'application/json; charset=latin1',
      null,
    ]) {
      it(`answers 415 for Content-Type ${String(contentType)}`, async () => {
        const handle = webhook(queue.sqs, queue.queueUrl);

        const result = await handle(request(fixture(REV1), { contentType }));

        assert.equal(result.statusCode, 415);
        assert.equal((await queue.receiveAll()).length, 0);
      });
    }

    it('accepts application/json with charset=utf-8', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);

      const result = await handle(
        request(fixture(REV1), {
          contentType: 'Application/JSON; charset="UTF-8"',
        }),
      );

      assert.equal(result.statusCode, 202);
    });
  });

  describe('when the event is too large', () => {
    it('answers 413 naming the body limit, queueing nothing', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl, { maxBodyBytes: 2048 });

      const result = await handle(
        request(fixture('apply-boutique-rev7-trunk.json')),
      );

      assert.equal(result.statusCode, 413);
      const answer = parseBody(result.body);
      assert.equal(answer.limitBytes, 2048);
      assert.match(String(answer.message), /limit is 2048 bytes/);
      assert.equal((await queue.receiveAll()).length, 0);
    });

    it('answers 413 naming the queue message limit when the queued event cannot fit', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl, {
        maxMessageBytes: 4096,
      });

      const result = await handle(
        request(fixture('apply-boutique-rev7-trunk.json')),
      );

      assert.equal(result.statusCode, 413);
      const answer = parseBody(result.body);
      assert.equal(answer.limitBytes, 4096);
      assert.match(
        String(answer.message),
        /queue message of \d+ bytes; the limit is 4096 bytes/,
      );
      assert.equal((await queue.receiveAll()).length, 0);
    });
  });

  describe('when the queue cannot be reached', () => {
    it('answers 503 with Retry-After', async () => {
      const sqs = unreachableSqs(await freeLoopbackPort());
      const handle = webhook(sqs, queue.queueUrl);

      const result = await handle(request(fixture(REV1)));

      assert.equal(result.statusCode, 503);
      assert.equal(result.headers?.['retry-after'], '5');
      sqs.destroy();
    });
  });

  describe('when the signing secret cannot be read', () => {
    it('answers 503, not 401, so ConfigHub retries', async () => {
      const broken: SecretSource = {
        get: (id) =>
          Promise.reject(new SecretSourceError('UNAVAILABLE', id, 'down')),
      };
      const handle = webhook(queue.sqs, queue.queueUrl, { secrets: broken });

      const result = await handle(request(fixture(REV1)));

      assert.equal(result.statusCode, 503);
      assert.equal((await queue.receiveAll()).length, 0);
    });
  });
});
