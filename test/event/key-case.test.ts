import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import {
  canonicalKeys,
  foldKey,
  knownFields,
} from '../../shared/event/keys.js';
import {
  parseWireEvent,
  type ParsedWireEvent,
} from '../../shared/event/schema.js';

const FIXTURES = new URL('../fixtures/events/', import.meta.url);
const REV1 = readFileSync(
  new URL('apply-frontend-rev1.json', FIXTURES),
  'utf8',
);

interface Wire {
  Action: string;
  Payload: Record<string, unknown>;
}
const template = (): Wire => JSON.parse(REV1) as Wire;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** The template's payload with `rename` keys respelled and `extra` added. */
function payloadWith(
  rename: Record<string, string>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template().Payload)) {
    payload[rename[key] ?? key] = value;
  }
  return { ...payload, ...extra };
}

function bodyWith(
  rename: Record<string, string>,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    Action: 'Apply',
    Payload: payloadWith(rename, extra),
  });
}

function operationOf(result: ParsedWireEvent) {
  assert.equal(result.kind, 'operation', JSON.stringify(result));
  if (result.kind !== 'operation') throw new Error('unreachable');
  return result.event;
}

function issuesOf(result: ParsedWireEvent) {
  assert.equal(result.kind, 'invalid', JSON.stringify(result));
  return result.kind === 'invalid' ? result.issues : [];
}

/** The canonical fixture, parsed: what every respelling must come to. */
const CANONICAL = operationOf(parseWireEvent(REV1));

const PAYLOAD_FIELDS = [
  'QueuedOperationID',
  'UnitID',
  'SpaceID',
  'UnitSlug',
  'ToolchainType',
  'ProviderType',
  'RevisionNum',
  'Data',
  'LiveState',
  'TargetParams',
  'ExtraParams',
];

describe('foldKey', () => {
  describe('when a key differs from a field only as Go folds it', () => {
    const cases: [string, string][] = [
      ['unitslug', 'UnitSlug'],
      ['REVISIONNUM', 'RevisionNum'],
      ['Unit\u017flug', 'UnitSlug'],
      ['\u212aubernetesSecretName', 'KubernetesSecretName'],
    ];
    for (const [key, field] of cases) {
      it(`folds ${JSON.stringify(key)} like ${field}`, () => {
        assert.equal(foldKey(key), foldKey(field));
      });
    }
  });

  describe('when a key only looks like a field', () => {
    const cases: [string, string][] = [
      ['Unit_Slug', 'UnitSlug'],
      ['Unit-Slug', 'UnitSlug'],
      ['\uff35nitSlug', 'UnitSlug'],
      ['Unit\u0405lug', 'UnitSlug'],
      ['\u0130d', 'id'],
    ];
    for (const [key, field] of cases) {
      it(`keeps ${JSON.stringify(key)} apart from ${field}`, () => {
        assert.notEqual(foldKey(key), foldKey(field));
      });
    }
  });
});

describe('knownFields', () => {
  describe('when two field names differ only in case', () => {
    it('throws, since Go could not tell them apart', () => {
      assert.throws(() => knownFields(['Tag', 'TAG']), /differ only in case/);
    });
  });
});

describe('canonicalKeys', () => {
  describe('when a key is __proto__', () => {
    it('drops it without touching the prototype', () => {
      const input = JSON.parse('{"__proto__":{"polluted":1},"a":2}') as Record<
        string,
        unknown
      >;

      const result = canonicalKeys(input, knownFields(['A']));

      assert.deepEqual(result, { ok: true, value: { A: 2 } });
      assert.equal(
        Object.getPrototypeOf(result.ok && result.value),
        Object.prototype,
      );
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });
});

describe('parseWireEvent', () => {
  describe('when keys differ from the fields only in case', () => {
    it('reads every Payload field under any case and queues canonical names', () => {
      const rename = Object.fromEntries(
        PAYLOAD_FIELDS.map((field, i) => [
          field,
          i % 2 === 0 ? field.toLowerCase() : field.toUpperCase(),
        ]),
      );

      const event = operationOf(parseWireEvent(bodyWith(rename)));

      assert.deepEqual(event, CANONICAL);
      assert.deepEqual(
        Object.keys(event.Payload).sort(),
        [...PAYLOAD_FIELDS].sort(),
      );
      assert.equal(event.Payload.UnitSlug, 'frontend');
    });

    it('reads a body with only "unitslug", which Go accepts', () => {
      const event = operationOf(
        parseWireEvent(bodyWith({ UnitSlug: 'unitslug' })),
      );

      assert.equal(event.Payload.UnitSlug, 'frontend');
    });

    it('reads the envelope and its Data under any case', () => {
      const body = JSON.stringify({
        EVENT: 'BridgeWorkerEvent',
        data: { action: 'Apply', PayLoad: template().Payload },
      });

      assert.deepEqual(operationOf(parseWireEvent(body)), CANONICAL);
    });

    it('reads a bare event with lowercase Action and Payload', () => {
      const body = JSON.stringify({
        action: 'Apply',
        payload: template().Payload,
      });

      assert.deepEqual(operationOf(parseWireEvent(body)), CANONICAL);
    });

    it('reads a worker event whose keys are lowercase', () => {
      const result = parseWireEvent(
        '{"event":"WorkerEvent","data":{"action":"Heartbeat"}}',
      );

      assert.deepEqual(result, { kind: 'worker-event', action: 'Heartbeat' });
    });

    it('reads TargetParams keys under any case, as an object or base64', () => {
      const params = {
        repository: 'localhost:5000/confighub',
        TAG: 'latest',
        provider: 'Generic',
        allowdeletion: 'false',
      };

      for (const value of [params, b64(JSON.stringify(params))]) {
        const event = operationOf(
          parseWireEvent(bodyWith({}, { TargetParams: value })),
        );

        assert.deepEqual(event.Payload.TargetParams, {
          Repository: 'localhost:5000/confighub',
          Tag: 'latest',
          Provider: 'Generic',
          AllowDeletion: false,
        });
      }
    });

    it('folds the Kelvin sign and the long s as Go does', () => {
      const body = bodyWith(
        { UnitSlug: 'Unit\u017flug' },
        {
          TargetParams: {
            Repository: 'ghcr.io/acme',
            '\u212aubernetesSecretName': 'regcred',
            KubernetesSecretNamespace: 'confighub',
          },
        },
      );

      const event = operationOf(parseWireEvent(body));

      assert.equal(event.Payload.UnitSlug, 'frontend');
      assert.equal(event.Payload.TargetParams.KubernetesSecretName, 'regcred');
    });
  });

  describe('when keys only look like a field', () => {
    it('drops them as unknown, so the field is missing', () => {
      for (const key of ['Unit_Slug', '\uff35nitSlug', 'Unit\u0405lug']) {
        const issues = issuesOf(parseWireEvent(bodyWith({ UnitSlug: key })));

        assert.deepEqual(
          issues.map((issue) => issue.path),
          ['Payload.UnitSlug'],
        );
        assert.match(issues[0]?.message ?? '', /is required/);
      }
    });

    it('drops unknown keys that differ only in case from each other', () => {
      const event = operationOf(
        parseWireEvent(bodyWith({}, { Foo: 1, foo: 2, FOO: 3 })),
      );

      assert.ok(!('Foo' in event.Payload) && !('foo' in event.Payload));
    });

    it('passes ExtraParams through with its keys as sent', () => {
      const event = operationOf(
        parseWireEvent(bodyWith({}, { ExtraParams: { a: 1, A: 2 } })),
      );

      assert.deepEqual(event.Payload.ExtraParams, { a: 1, A: 2 });
    });
  });

  describe('when two keys name one field', () => {
    const cases: [string, string, string, string[]][] = [
      [
        'a Payload field, exact key first',
        '{"Action":"Apply","Payload":{"UnitSlug":"frontend","unitslug":"evilcase"}}',
        'Payload.UnitSlug',
        ['UnitSlug', 'unitslug'],
      ],
      [
        'a Payload field, exact key last',
        '{"Action":"Apply","Payload":{"unitslug":"evilcase","UnitSlug":"frontend"}}',
        'Payload.UnitSlug',
        ['unitslug', 'UnitSlug'],
      ],
      [
        'a Payload field, three spellings',
        '{"Action":"Apply","Payload":{"RevisionNum":1,"revisionnum":2,"REVISIONNUM":3}}',
        'Payload.RevisionNum',
        ['RevisionNum', 'revisionnum', 'REVISIONNUM'],
      ],
      [
        'a Payload field through the long s',
        '{"Action":"Apply","Payload":{"UnitSlug":"frontend","Unit\\u017flug":"x"}}',
        'Payload.UnitSlug',
        ['UnitSlug', 'Unit\u017flug'],
      ],
      [
        'Action at the top',
        '{"Action":"Apply","action":"Destroy","Payload":{}}',
        'Action',
        ['Action', 'action'],
      ],
      [
        'Payload at the top',
        '{"Action":"Apply","Payload":{},"PAYLOAD":{}}',
        'Payload',
        ['Payload', 'PAYLOAD'],
      ],
      [
        'Event in the envelope',
        '{"Event":"WorkerEvent","event":"BridgeWorkerEvent","Data":{}}',
        'Event',
        ['Event', 'event'],
      ],
      [
        'Data in the envelope',
        '{"Event":"BridgeWorkerEvent","Data":{},"data":{}}',
        'Data',
        ['Data', 'data'],
      ],
      [
        "Action inside the envelope's Data",
        '{"Event":"BridgeWorkerEvent","Data":{"Action":"Apply","ACTION":"Destroy","Payload":{}}}',
        'Data.Action',
        ['Action', 'ACTION'],
      ],
      [
        "a worker event's Action",
        '{"Event":"WorkerEvent","Data":{"Action":"Heartbeat","action":"Apply"}}',
        'Data.Action',
        ['Action', 'action'],
      ],
    ];

    for (const [what, body, path, keys] of cases) {
      it(`refuses ${what}, naming both keys`, () => {
        const issues = issuesOf(parseWireEvent(body));

        assert.deepEqual(
          issues.map((issue) => issue.path),
          [path],
        );
        const message = issues[0]?.message ?? '';
        for (const key of keys)
          assert.ok(message.includes(JSON.stringify(key)), message);
        assert.match(message, /ignoring case/);
      });
    }

    const params: [string, unknown, string, string[]][] = [
      [
        'an object',
        { Repository: 'ghcr.io/acme', repository: 'evil.io/b' },
        'Payload.TargetParams.Repository',
        ['Repository', 'repository'],
      ],
      [
        'base64',
        b64('{"Repository":"ghcr.io/acme","Tag":"v1","TAG":"v2"}'),
        'Payload.TargetParams.Tag',
        ['Tag', 'TAG'],
      ],
      [
        'base64 with the Kelvin sign',
        b64(
          '{"Repository":"ghcr.io/acme","KubernetesSecretName":"a","\\u212aubernetesSecretName":"b","KubernetesSecretNamespace":"ns"}',
        ),
        'Payload.TargetParams.KubernetesSecretName',
        ['KubernetesSecretName', '\u212aubernetesSecretName'],
      ],
    ];

    for (const [what, value, path, keys] of params) {
      it(`refuses TargetParams as ${what}, naming both keys`, () => {
        const issues = issuesOf(
          parseWireEvent(bodyWith({}, { TargetParams: value })),
        );

        assert.deepEqual(
          issues.map((issue) => issue.path),
          [path],
        );
        const message = issues[0]?.message ?? '';
        for (const key of keys)
          assert.ok(message.includes(JSON.stringify(key)), message);
      });
    }
  });
});
