import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';

import { EventValidationError } from '../../shared/event/errors.js';
import {
  parseQueuedEvent,
  parseWireEvent,
  type ParsedWireEvent,
} from '../../shared/event/schema.js';

const FIXTURES = new URL('../fixtures/events/', import.meta.url);
const fixture = (name: string): string =>
  readFileSync(new URL(name, FIXTURES), 'utf8');

interface Wire {
  Action: unknown;
  Payload: Record<string, unknown>;
}
const template = (): Wire =>
  JSON.parse(fixture('apply-frontend-rev1.json')) as Wire;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

function withPayload(
  changes: Record<string, unknown>,
  action?: unknown,
): string {
  const wire = template();
  return JSON.stringify({
    Action: action ?? wire.Action,
    Payload: { ...wire.Payload, ...changes },
  });
}

function issuesOf(
  result: ParsedWireEvent,
): { path: string; message: string }[] {
  assert.equal(result.kind, 'invalid', JSON.stringify(result));
  return result.kind === 'invalid' ? result.issues : [];
}

function operationOf(result: ParsedWireEvent) {
  assert.equal(result.kind, 'operation', JSON.stringify(result));
  if (result.kind !== 'operation') throw new Error('unreachable');
  return result.event;
}

describe('parseWireEvent', () => {
  describe('when the body is a good fixture', () => {
    const names = readdirSync(FIXTURES).filter((name) =>
      name.endsWith('.json'),
    );

    for (const name of names) {
      it(`accepts ${name}`, () => {
        const result = parseWireEvent(fixture(name));

        assert.equal(
          result.kind,
          name === 'heartbeat.json' ? 'worker-event' : 'operation',
          JSON.stringify(result),
        );
      });
    }

    it('reads the stream envelope like the bare event', () => {
      const wire = JSON.parse(
        fixture('sse-envelope-apply-frontend-rev3.json'),
      ) as {
        Data: Wire;
      };

      const enveloped = operationOf(parseWireEvent(JSON.stringify(wire)));
      const bare = operationOf(parseWireEvent(JSON.stringify(wire.Data)));

      assert.deepEqual(enveloped, bare);
      assert.equal(enveloped.Payload.RevisionNum, 3);
    });

    it('keeps Data byte for byte and normalises the rest', () => {
      const wire = template();

      const { Payload: payload } = operationOf(
        parseWireEvent(
          withPayload({
            QueuedOperationID: '3F0A9B7C-1D2E-4F50-8A6B-9C0D1E2F3A41',
            Unknown: 'dropped',
            LiveState: undefined,
            ExtraParams: undefined,
          }),
        ),
      );

      assert.equal(payload.Data, wire.Payload.Data);
      assert.equal(
        payload.QueuedOperationID,
        '3f0a9b7c-1d2e-4f50-8a6b-9c0d1e2f3a41',
      );
      assert.equal(payload.LiveState, null);
      assert.equal(payload.ExtraParams, null);
      assert.ok(!('Unknown' in payload));
      assert.deepEqual(payload.TargetParams, {
        Repository: 'localhost:5000/confighub',
        Tag: 'latest',
        Provider: 'Generic',
        AllowDeletion: false,
      });
    });

    it('accepts TargetParams as a plain JSON object', () => {
      const { Payload: payload } = operationOf(
        parseWireEvent(
          withPayload({
            TargetParams: { Repository: 'ghcr.io/acme', AllowDeletion: 'true' },
          }),
        ),
      );

      assert.deepEqual(payload.TargetParams, {
        Repository: 'ghcr.io/acme',
        Provider: 'None',
        AllowDeletion: true,
      });
    });

    it('accepts empty Data for actions other than Apply', () => {
      for (const action of ['Destroy', 'Refresh', 'Import', 'Finalize']) {
        const event = operationOf(
          parseWireEvent(withPayload({ Data: '' }, action)),
        );

        assert.equal(event.Payload.Data, '');
      }
    });
  });

  describe('when fields are wrong', () => {
    it('names every bad field at once', () => {
      const issues = issuesOf(
        parseWireEvent(
          withPayload(
            {
              UnitID: 'not-a-uuid',
              UnitSlug: '../etc',
              RevisionNum: -1,
              ToolchainType: 'Helm',
              TargetParams: { Repository: 'ghcr.io/acme', Tag: '-bad' },
            },
            'Deploy',
          ),
        ),
      );

      assert.deepEqual(
        issues.map((issue) => issue.path),
        [
          'Action',
          'Payload.UnitID',
          'Payload.UnitSlug',
          'Payload.ToolchainType',
          'Payload.RevisionNum',
          'Payload.TargetParams.Tag',
        ],
      );
    });

    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [
        'Data has a space',
        { Data: 'YWJj ZGVm' },
        'Payload.Data',
        /character " " at position 4/,
      ],
      [
        'Data lacks padding',
        { Data: 'YWJjZA' },
        'Payload.Data',
        /length 6 is not a multiple of 4/,
      ],
      [
        'Data pads in the middle',
        { Data: 'YQ==YWJj' },
        'Payload.Data',
        /padding may only end/,
      ],
      [
        'Data is not UTF-8',
        { Data: Buffer.from([0xff, 0xfe]).toString('base64') },
        'Payload.Data',
        /UTF-8/,
      ],
      [
        'Data repeats a YAML key',
        { Data: b64('a: 1\nb: 2\na: 3\n') },
        'Payload.Data',
        /line 3, column 1: Map keys must be unique/,
      ],
      [
        'Data indents with a tab',
        { Data: b64('a: 1\n\tb: 2\n') },
        'Payload.Data',
        /line 2, column 1/,
      ],
      [
        'Apply has empty Data',
        { Data: '' },
        'Payload.Data',
        /must not be empty for Apply/,
      ],
      [
        'Apply has only comments',
        { Data: b64('# nothing\n---\n# here\n') },
        'Payload.Data',
        /only comments or empty documents/,
      ],
      [
        'Apply has null Data',
        { Data: null },
        'Payload.Data',
        /must not be empty for Apply/,
      ],
      [
        'RevisionNum is a string',
        { RevisionNum: '5' },
        'Payload.RevisionNum',
        /positive integer/,
      ],
      [
        'RevisionNum is past 2^53',
        { RevisionNum: 2 ** 53 },
        'Payload.RevisionNum',
        /no larger than 9007199254740991 \(2\^53 - 1\)/,
      ],
      [
        'UnitSlug is 300 characters',
        { UnitSlug: 'a'.repeat(300) },
        'Payload.UnitSlug',
        /300 characters/,
      ],
      [
        'LiveState is not base64',
        { LiveState: 'not base64!' },
        'Payload.LiveState',
        /not base64/,
      ],
      [
        'TargetParams is missing',
        { TargetParams: undefined },
        'Payload.TargetParams',
        /is required/,
      ],
      [
        'TargetParams is a number',
        { TargetParams: 7 },
        'Payload.TargetParams',
        /JSON object/,
      ],
      [
        'TargetParams decodes to an array',
        { TargetParams: b64('[1]') },
        'Payload.TargetParams',
        /JSON object/,
      ],
      [
        'TargetParams repeats a key',
        {
          TargetParams: b64(
            '{"Repository":"ghcr.io/a","Repository":"evil.io/b"}',
          ),
        },
        'Payload.TargetParams.Repository',
        /more than once/,
      ],
      [
        'Repository has a tag',
        { TargetParams: { Repository: 'ghcr.io/acme:v1' } },
        'Payload.TargetParams.Repository',
        /must not contain a tag/,
      ],
    ];

    for (const [when, changes, path, message] of cases) {
      it(`reports ${path} when ${when}`, () => {
        const issues = issuesOf(parseWireEvent(withPayload(changes)));

        assert.deepEqual(
          issues.map((issue) => issue.path),
          [path],
        );
        assert.match(issues[0]?.message ?? '', message);
      });
    }
  });

  describe('when the body is not an event', () => {
    const cases: [string, string, string, RegExp][] = [
      ['it is not JSON', '{"Action":', '', /not valid JSON/],
      ['it is an array', '[]', '', /must be a JSON object, got an array/],
      [
        'a key repeats at the top',
        '{"Action":"Apply","Action":"Destroy"}',
        'Action',
        /more than once/,
      ],
      [
        'a key repeats through an escape',
        '{"Payload":{"\\u0041":1,"A":2}}',
        'Payload.A',
        /more than once/,
      ],
      [
        'it nests too deep',
        `{"Payload":{"ExtraParams":${'['.repeat(70)}${']'.repeat(70)}}}`,
        `Payload.ExtraParams${'[0]'.repeat(62)}`,
        /deeper than 64/,
      ],
      [
        'Event is unknown',
        '{"Event":"Other","Data":{}}',
        'Event',
        /BridgeWorkerEvent/,
      ],
      [
        'the envelope has no Data',
        '{"Event":"BridgeWorkerEvent"}',
        'Data',
        /Action and Payload/,
      ],
      [
        'a worker event has no Action',
        '{"Event":"WorkerEvent","Data":{}}',
        'Data.Action',
        /worker event/,
      ],
      [
        'a worker event carries an operation',
        '{"Event":"WorkerEvent","Data":{"Action":"Apply"}}',
        'Data.Action',
        /is an operation/,
      ],
    ];

    for (const [when, body, path, message] of cases) {
      it(`reports ${path === '' ? 'the body' : path} when ${when}`, () => {
        const issues = issuesOf(parseWireEvent(body));

        assert.equal(issues[0]?.path, path);
        assert.match(issues[0]?.message ?? '', message);
      });
    }

    it('reports paths inside the envelope under Data', () => {
      const issues = issuesOf(
        parseWireEvent(
          JSON.stringify({
            Event: 'BridgeWorkerEvent',
            Data: { ...template(), Action: 'Deploy' },
          }),
        ),
      );

      assert.deepEqual(
        issues.map((issue) => issue.path),
        ['Data.Action'],
      );
    });
  });
});

describe('parseQueuedEvent', () => {
  const queued = () => ({
    schemaVersion: 1,
    acceptedAt: '2025-12-03T18:00:00.000Z',
    ...operationOf(parseWireEvent(fixture('apply-frontend-rev1.json'))),
  });

  describe('when the body is what the webhook queued', () => {
    it('returns the same event', () => {
      const event = queued();

      assert.deepEqual(parseQueuedEvent(JSON.stringify(event)), event);
    });
  });

  describe('when the body is not a queued event', () => {
    it('throws EventValidationError listing every issue', () => {
      const event = { ...queued(), schemaVersion: 2, acceptedAt: 'yesterday' };
      event.Payload = { ...event.Payload, UnitSlug: 'UP' };

      assert.throws(
        () => parseQueuedEvent(JSON.stringify(event)),
        (error: unknown) => {
          assert.ok(error instanceof EventValidationError);
          assert.equal(error.code, 'INVALID_EVENT');
          assert.deepEqual(
            error.issues.map((issue) => issue.path),
            ['schemaVersion', 'acceptedAt', 'Payload.UnitSlug'],
          );
          return true;
        },
      );
    });

    it('throws on text that is not JSON', () => {
      assert.throws(() => parseQueuedEvent('nope'), EventValidationError);
    });
  });
});
