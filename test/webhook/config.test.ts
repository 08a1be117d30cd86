import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { loadWebhookConfig } from '../../functions/webhook/config.js';

const QUEUE_URL =
  'https://sqs.eu-west-1.amazonaws.com/123456789012/bridge.fifo';

describe('loadWebhookConfig', () => {
  describe('when only the required variables are set', () => {
    it('applies the defaults', () => {
      const config = loadWebhookConfig({
        QUEUE_URL,
        SIGNING_SECRET_ID: 'webhook-signing',
        PATH: '/usr/bin',
      });

      assert.deepEqual(config, {
        queueUrl: QUEUE_URL,
        signingSecretId: 'webhook-signing',
        toleranceSeconds: 300,
        maxBodyBytes: 262144,
        maxMessageBytes: 262144,
      });
    });
  });

  describe('when variables are set', () => {
    it('reads the numbers', () => {
      const config = loadWebhookConfig({
        QUEUE_URL,
        SIGNING_SECRET_ID: 's',
        SIGNATURE_TOLERANCE_SECONDS: '60',
        MAX_BODY_BYTES: '1048576',
        MAX_MESSAGE_BYTES: '1048576',
      });

      assert.equal(config.toleranceSeconds, 60);
      assert.equal(config.maxBodyBytes, 1048576);
      assert.equal(config.maxMessageBytes, 1048576);
    });
  });

  describe('when variables are wrong', () => {
    it('throws naming each bad variable and the allowed range', () => {
      assert.throws(
        () =>
          loadWebhookConfig({
            QUEUE_URL: 'not a url',
            SIGNATURE_TOLERANCE_SECONDS: '0',
            MAX_MESSAGE_BYTES: '2000000',
          }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, /QUEUE_URL must be the FIFO queue URL/);
          assert.match(error.message, /SIGNING_SECRET_ID must name/);
          assert.match(
            error.message,
            /SIGNATURE_TOLERANCE_SECONDS must be a whole number from 1 to 3600, got "0"/,
          );
          assert.match(
            error.message,
            /MAX_MESSAGE_BYTES must be a whole number from 1024 to 1048576/,
          );
          return true;
        },
      );
    });
  });
});
