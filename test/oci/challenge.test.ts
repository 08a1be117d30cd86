import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseChallenges } from '../../shared/oci/challenge.js';

describe('parseChallenges', () => {
  const cases: [string, string, ReturnType<typeof parseChallenges>][] = [
    [
      'Bearer with quoted commas in scope',
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.example/token',
            service: 'registry.example',
            scope: 'repository:a/b:pull,push',
          },
        },
      ],
    ],
    [
      'Basic with a realm',
      'Basic realm="Registry Realm"',
      [{ scheme: 'basic', params: { realm: 'Registry Realm' } }],
    ],
    [
      'two challenges, spaces around "=" and commas',
      'Basic realm = "a, b" , Bearer realm="https://t/x", service=svc',
      [
        { scheme: 'basic', params: { realm: 'a, b' } },
        { scheme: 'bearer', params: { realm: 'https://t/x', service: 'svc' } },
      ],
    ],
    [
      'escaped quotes and mixed-case names',
      'BEARER Realm="https://t/\\"x\\"",Error="insufficient_scope"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://t/"x"', error: 'insufficient_scope' },
        },
      ],
    ],
    [
      'a token68 challenge before a parameter one',
      'Negotiate abc+/==, Basic realm=x',
      [
        { scheme: 'negotiate', params: {}, token68: 'abc+/==' },
        { scheme: 'basic', params: { realm: 'x' } },
      ],
    ],
    ['a scheme alone', 'Basic', [{ scheme: 'basic', params: {} }]],
    ['an empty header', '', []],
    [
      'an unterminated quote keeps what it read',
      'Bearer realm="https://t',
      [{ scheme: 'bearer', params: { realm: 'https://t' } }],
    ],
  ];
  for (const [title, header, expected] of cases) {
    it(`parses ${title}`, () => {
      assert.deepEqual(parseChallenges(header), expected);
    });
  }

  it('returns nothing for a missing header', () => {
    assert.deepEqual(parseChallenges(null), []);
  });
});
