import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { createHttpListener } from '../../functions/webhook/http.js';
import { signBody } from '../../shared/signing/signature.js';
import { startTestQueue, type TestQueue } from '../support/queue.js';
import { CURRENT_SECRET, NOW, fixture, webhook } from './support.js';

describe('createHttpListener', () => {
  let queue: TestQueue;
  let server: Server;
  let url: string;

  before(async () => {
    queue = await startTestQueue();
    server = createServer(
      createHttpListener(webhook(queue.sqs, queue.queueUrl), {
        maxRequestBytes: 64 * 1024,
      }),
    );
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await queue.stop();
  });

  describe('when a signed event is posted over HTTP', () => {
    it('serves the same handler: 202 and the message in the queue', async () => {
      const body = fixture('apply-frontend-rev2.json');

      const response = await fetch(`${url}/webhook`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-confighub-signature': signBody(CURRENT_SECRET, body, NOW),
        },
        body,
      });

      assert.equal(response.status, 202);
      assert.equal(response.headers.get('content-type'), 'application/json');
      const answer = (await response.json()) as { messageId: string };
      const messages = await queue.receiveAll();
      assert.deepEqual(
        messages.map((message) => message.MessageId),
        [answer.messageId],
      );
    });
  });

  describe('when the request is refused', () => {
    it('passes status and headers through', async () => {
      const response = await fetch(`${url}/webhook`, { method: 'GET' });

      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'POST');
    });

    it('answers 413 itself for a body over its own limit', async () => {
      const response = await fetch(`${url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'x'.repeat(65 * 1024),
      });

      assert.equal(response.status, 413);
      assert.equal(
        ((await response.json()) as { limitBytes: number }).limitBytes,
        65536,
      );
    });
  });
});
