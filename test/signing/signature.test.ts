import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';

import {
  computeSignature,
  signBody,
  verifySignature,
} from '../../shared/signing/signature.js';

const SECRET = 'whsec-test';
const BODY = '{"Action":"Apply"}';
const NOW = new Date('2025-12-03T18:00:00Z');
const T = 1764784800;

/** The expected digest, computed with node:crypto directly. */
function hmac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

describe('signBody', () => {
  it('signs <unix seconds>.<body> and writes t= and v1=', () => {
    const header = signBody(SECRET, BODY, NOW);

    assert.equal(header, `t=${T},v1=${hmac(SECRET, `${T}.${BODY}`)}`);
  });

  it('signs bytes and text alike', () => {
    assert.equal(
      computeSignature(SECRET, T, Buffer.from(BODY)),
      computeSignature(SECRET, T, BODY),
    );
  });
});

describe('verifySignature', () => {
  const verify = (
    header: string | undefined,
    overrides: Partial<Parameters<typeof verifySignature>[0]> = {},
  ) =>
    verifySignature({
      header,
      body: BODY,
      secrets: [SECRET],
      now: NOW,
      toleranceSeconds: 300,
      ...overrides,
    });

  describe('when the signature is good', () => {
    it('accepts it and returns the signed time', () => {
      assert.deepEqual(verify(signBody(SECRET, BODY, NOW)), {
        ok: true,
        timestamp: T,
      });
    });

    it('accepts it with the previous secret listed second', () => {
      const header = signBody('previous', BODY, NOW);

      assert.equal(verify(header, { secrets: [SECRET, 'previous'] }).ok, true);
    });

    it('accepts any of several v1 values, in any order, with spaces', () => {
      const good = hmac(SECRET, `${T}.${BODY}`);
      const header = ` t=${T} , v1=${'0'.repeat(64)}, v0=legacy , v1=${good.toUpperCase()}`;

      assert.equal(verify(header).ok, true);
    });

    it('accepts timestamps exactly at the tolerance either way', () => {
      for (const offset of [-300, 300]) {
        const header = `t=${T + offset},v1=${hmac(SECRET, `${T + offset}.${BODY}`)}`;

        assert.equal(verify(header).ok, true, `offset ${offset}`);
      }
    });
  });

  describe('when the signature is bad', () => {
    const good = hmac(SECRET, `${T}.${BODY}`);
    const cases: [string, string | undefined, object, string][] = [
      ['the header is missing', undefined, {}, 'missing'],
      ['the header is blank', '  ', {}, 'missing'],
      ['t= is missing', `v1=${good}`, {}, 'malformed'],
      ['v1= is missing', `t=${T}`, {}, 'malformed'],
      ['t= is not a number', `t=now,v1=${good}`, {}, 'malformed'],
      ['t= appears twice', `t=${T},t=${T},v1=${good}`, {}, 'malformed'],
      [
        'v1= is not 64 hex digits',
        `t=${T},v1=${good.slice(2)}`,
        {},
        'malformed',
      ],
      ['a part has no =', `t=${T},v1=${good},junk`, {}, 'malformed'],
      [
        'it carries too many signatures',
        `t=${T}${`,v1=${good}`.repeat(9)}`,
        {},
        'malformed',
      ],
      [
        'the header is huge',
        `t=${T},v1=${good},x=${'a'.repeat(2000)}`,
        {},
        'malformed',
      ],
      [
        'the timestamp is one second too old',
        `t=${T - 301},v1=${hmac(SECRET, `${T - 301}.${BODY}`)}`,
        {},
        'stale',
      ],
      [
        'the timestamp is one second too far ahead',
        `t=${T + 301},v1=${hmac(SECRET, `${T + 301}.${BODY}`)}`,
        {},
        'future',
      ],
      [
        'the body was tampered with',
        `t=${T},v1=${good}`,
        { body: `${BODY} ` },
        'mismatch',
      ],
      [
        'the secret is another',
        `t=${T},v1=${good}`,
        { secrets: ['other'] },
        'mismatch',
      ],
      ['there is no secret', `t=${T},v1=${good}`, { secrets: [] }, 'mismatch'],
      [
        'the only secret is empty, and the body was signed with an empty key',
        `t=${T},v1=${hmac('', `${T}.${BODY}`)}`,
        { secrets: [''] },
        'mismatch',
      ],
      [
        'the timestamp was changed after signing',
        `t=${T + 1},v1=${good}`,
        {},
        'mismatch',
      ],
    ];

    for (const [when, header, overrides, reason] of cases) {
      it(`refuses it as ${reason} when ${when}`, () => {
        assert.deepEqual(verify(header, overrides), { ok: false, reason });
      });
    }
  });
});
