import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';

import { startTestQueue, type TestQueue } from '../support/queue.js';
import { fixture, request, webhook } from './support.js';

/** Runs per property: about 700 bodies in all, a few seconds. */
const RUNS = 60;

/** A valid event to corrupt one field at a time. */
const TEMPLATE = JSON.parse(fixture('apply-frontend-rev1.json')) as {
  Action: string;
  Payload: Record<string, unknown>;
};

/** The slug rule, written out here independently of the code under test. */
const SLUG = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ACTIONS = ['Apply', 'Destroy', 'Refresh', 'Import', 'Finalize'];

function withPayload(field: string, value: unknown): string {
  return JSON.stringify({
    ...TEMPLATE,
    Payload: { ...TEMPLATE.Payload, [field]: value },
  });
}

const unicode = fc.string({ unit: 'grapheme', maxLength: 40 });
const huge = fc
  .integer({ min: 1_000, max: 300_000 })
  .chain((length) =>
    fc
      .constantFrom('a', '/', '.', 'é', '\u0000', '=')
      .map((c) => c.repeat(length)),
  );

const badUuid = fc
  .oneof(
    fc.anything(),
    unicode,
    huge,
    fc.uuid().map((id) => `${id}x`),
  )
  .filter((value) => typeof value !== 'string' || !UUID.test(value));

const badSlug = fc
  .oneof(
    fc.constantFrom(
      '..',
      '../etc',
      'a/../b',
      '%2e%2e',
      'a\\b',
      '',
      '-a',
      'a-',
      'a..b',
      'Frontend',
      'front end',
      'ｆｒｏｎｔ',
      'a\u0000b',
      'a/b',
    ),
    unicode,
    huge,
    fc.anything(),
  )
  .filter(
    (value) =>
      typeof value !== 'string' || value.length > 255 || !SLUG.test(value),
  );

const badRevision = fc
  .oneof(
    fc.integer({ max: 0 }),
    fc.double().filter((n) => !Number.isInteger(n)),
    fc.constantFrom(2 ** 53, 1e300, '1', null, true),
    fc.anything(),
  )
  .filter(
    (value) =>
      typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1,
  );

/** Text that breaks base64: a character outside the alphabet, or bad length. */
const badBase64 = fc.oneof(
  fc
    .tuple(
      fc.base64String(),
      fc.constantFrom(' ', '\n', '-', '_', '.', '*', 'é', '%', '=A'),
      fc.base64String(),
    )
    .map(([a, bad, b]) => `${a}${bad}${b}`),
  fc
    .base64String({ minLength: 4 })
    .filter((s) => s.length % 4 === 0)
    .map((s) => s.slice(0, -1)),
  huge.map((s) => `${s}!`),
);

const badAction = fc
  .oneof(unicode, fc.anything(), huge)
  .filter((value) => typeof value !== 'string' || !ACTIONS.includes(value));

/** An object nested deeper than the 64 levels the parser allows. */
const deep = fc
  .integer({ min: 70, max: 20_000 })
  .chain((depth) =>
    fc.constantFrom(
      `${'['.repeat(depth)}${']'.repeat(depth)}`,
      `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
    ),
  );

/** The template's text with one Payload key sent twice. */
const duplicateKey = fc
  .tuple(fc.constantFrom(...Object.keys(TEMPLATE.Payload)), fc.anything())
  .map(([key, value]) => {
    const text = JSON.stringify(TEMPLATE);
    const second = `${JSON.stringify(key)}:${JSON.stringify(value ?? null)},`;
    return text.replace('"Payload":{', `"Payload":{${second}`);
  });

/**
 * A spelling of `field` that Go's decoder folds to it but that is not
 * `field`: letters in either case, and for k and s also the Kelvin sign and
 * the long s, which Go folds to them.
 */
function caseVariant(field: string): fc.Arbitrary<string> {
  const spellings = [...field].map((c) => {
    const lower = c.toLowerCase();
    if (lower === 'k') return fc.constantFrom('k', 'K', '\u212a');
    if (lower === 's') return fc.constantFrom('s', 'S', '\u017f');
    return fc.constantFrom(lower, c.toUpperCase());
  });
  return fc
    .tuple(...spellings)
    .map((chars) => chars.join(''))
    .filter((variant) => variant !== field);
}

/**
 * `object` with a second key for `field`, spelled differently, before or
 * after the original, holding the same value or any other.
 */
function withCaseDuplicate(
  object: Record<string, unknown>,
): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .constantFrom(...Object.keys(object))
    .chain((field) =>
      fc.tuple(
        caseVariant(field),
        fc.oneof(fc.constant(object[field]), fc.anything()),
        fc.boolean(),
      ),
    )
    .map(([variant, value, first]) => {
      // JSON.stringify would drop an undefined value, and with it the key.
      const extra = { [variant]: value ?? null };
      return first ? { ...extra, ...object } : { ...object, ...extra };
    });
}

/** The template's TargetParams, decoded from base64. */
const TARGET_PARAMS = JSON.parse(
  Buffer.from(String(TEMPLATE.Payload.TargetParams), 'base64').toString(),
) as Record<string, unknown>;

/**
 * The template with two keys that Go reads as one field, in the envelope,
 * at the top, in Payload or in TargetParams (as an object or base64).
 */
const caseDuplicate = fc
  .oneof(
    withCaseDuplicate(TEMPLATE),
    withCaseDuplicate({ Event: 'BridgeWorkerEvent', Data: TEMPLATE }),
    withCaseDuplicate(TEMPLATE).map((data) => ({
      Event: 'BridgeWorkerEvent',
      Data: data,
    })),
    withCaseDuplicate(TEMPLATE.Payload).map((payload) => ({
      ...TEMPLATE,
      Payload: payload,
    })),
    fc
      .tuple(withCaseDuplicate(TARGET_PARAMS), fc.boolean())
      .map(([params, encoded]) => ({
        ...TEMPLATE,
        Payload: {
          ...TEMPLATE.Payload,
          TargetParams: encoded
            ? Buffer.from(JSON.stringify(params)).toString('base64')
            : params,
        },
      })),
  )
  .map((body) => JSON.stringify(body));

const hostileBodies: fc.Arbitrary<string | Buffer>[] = [
  fc.anything().map((value) => JSON.stringify(value) ?? 'undefined'),
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
  badAction.map((value) => JSON.stringify({ ...TEMPLATE, Action: value })),
  fc
    .tuple(fc.constantFrom('QueuedOperationID', 'UnitID', 'SpaceID'), badUuid)
    .map(([field, value]) => withPayload(field, value)),
  badSlug.map((value) => withPayload('UnitSlug', value)),
  badRevision.map((value) => withPayload('RevisionNum', value)),
  badBase64.map((value) => withPayload('Data', value)),
  badBase64.map((value) => withPayload('TargetParams', value)),
  deep.map((nested) =>
    JSON.stringify(TEMPLATE).replace(
      '"ExtraParams":null',
      `"ExtraParams":${nested}`,
    ),
  ),
  duplicateKey,
  caseDuplicate,
];

describe('createWebhookHandler', () => {
  describe('when validly signed hostile bodies arrive', () => {
    let queue: TestQueue;

    before(async () => {
      queue = await startTestQueue();
    });
    after(async () => {
      await queue.stop();
    });

    it('answers every one with a 4xx, queues nothing and never throws', async () => {
      const handle = webhook(queue.sqs, queue.queueUrl);
      let seen = 0;

      for (const bodies of hostileBodies) {
        await fc.assert(
          fc.asyncProperty(bodies, async (body) => {
            const result = await handle(request(body));
            seen += 1;

            assert.ok(
              (result.statusCode ?? 0) >= 400 && (result.statusCode ?? 0) < 500,
              `expected a 4xx, got ${result.statusCode}: ${result.body?.slice(0, 300)}`,
            );
            assert.notEqual(result.statusCode, 401);
          }),
          { numRuns: RUNS },
        );
      }

      assert.ok(seen >= RUNS * hostileBodies.length);
      assert.deepEqual(await queue.receiveAll(), []);
    });
  });
});
