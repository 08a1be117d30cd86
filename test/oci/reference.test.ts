import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidReferenceError } from '../../shared/oci/errors.js';
import {
  parseRepositoryPrefix,
  revisionTag,
  unitRepository,
  validateTag,
} from '../../shared/oci/reference.js';

describe('unitRepository', () => {
  describe('when the Repository is something users paste', () => {
    const cases: [
      string,
      string,
      { registry: string; apiHost: string; name: string },
    ][] = [
      [
        'ghcr.io/org',
        'frontend',
        { registry: 'ghcr.io', apiHost: 'ghcr.io', name: 'org/frontend' },
      ],
      [
        'localhost:5000/x',
        'app',
        {
          registry: 'localhost:5000',
          apiHost: 'localhost:5000',
          name: 'x/app',
        },
      ],
      [
        'https://123456789012.dkr.ecr.us-east-1.amazonaws.com/org-2',
        'app',
        {
          registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
          apiHost: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
          name: 'org-2/app',
        },
      ],
      [
        'oci://ghcr.io/a/b/',
        'c',
        { registry: 'ghcr.io', apiHost: 'ghcr.io', name: 'a/b/c' },
      ],
      [
        'docker.io/org',
        'app',
        {
          registry: 'docker.io',
          apiHost: 'registry-1.docker.io',
          name: 'org/app',
        },
      ],
      [
        'docker.io',
        'app',
        {
          registry: 'docker.io',
          apiHost: 'registry-1.docker.io',
          name: 'library/app',
        },
      ],
      [
        '127.0.0.1:5000',
        'a__b',
        { registry: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', name: 'a__b' },
      ],
    ];
    for (const [prefix, slug, expected] of cases) {
      it(`parses ${prefix} + ${slug}`, () => {
        assert.deepEqual(unitRepository(prefix, slug), expected);
      });
    }
  });

  describe('when a part breaks the distribution grammar', () => {
    const cases: [string, string, 'Repository' | 'UnitSlug', RegExp][] = [
      ['ghcr.io/org:latest', 'app', 'Repository', /must not contain a tag/],
      ['ghcr.io/Org', 'app', 'Repository', /must be lowercase/],
      ['ghcr.io/a/../b', 'app', 'Repository', /"\.\." is not allowed/],
      ['ghcr.io/a//b', 'app', 'Repository', /empty path component/],
      ['', 'app', 'Repository', /must not be empty/],
      ['org/app', 'x', 'Repository', /must start with a registry host/],
      ['ftp://ghcr.io/org', 'app', 'Repository', /scheme "ftp:\/\/"/],
      ['ghcr.io/org@sha256:abc', 'app', 'Repository', /digest/],
      ['ghcr.io/org', 'App', 'UnitSlug', /must be lowercase/],
      ['ghcr.io/org', '-app', 'UnitSlug', /separated by/],
      ['ghcr.io/org', '', 'UnitSlug', /empty path component/],
    ];
    for (const [prefix, slug, field, rule] of cases) {
      it(`refuses ${JSON.stringify(prefix)} + ${JSON.stringify(slug)} naming ${field}`, () => {
        assert.throws(
          () => unitRepository(prefix, slug),
          (error: unknown) =>
            error instanceof InvalidReferenceError &&
            error.name === 'InvalidReferenceError' &&
            error.code === 'INVALID_REFERENCE' &&
            error.field === field &&
            rule.test(error.message),
        );
      });
    }
  });
});

describe('validateTag', () => {
  describe('when the tag is valid', () => {
    for (const tag of ['rev7', 'latest', 'v1.2.3', '_x', 'a'.repeat(128)]) {
      it(`accepts ${tag.slice(0, 20)}`, () => {
        assert.doesNotThrow(() => validateTag(tag));
      });
    }
  });
  describe('when the tag is not', () => {
    for (const tag of ['', '-x', '.x', 'a:b', 'a/b', 'a'.repeat(129)]) {
      it(`refuses ${JSON.stringify(tag.slice(0, 20))} naming Tag`, () => {
        assert.throws(
          () => validateTag(tag),
          (e: unknown) =>
            e instanceof InvalidReferenceError && e.field === 'Tag',
        );
      });
    }
  });
});

describe('revisionTag', () => {
  it('prefixes rev', () => {
    assert.equal(revisionTag(42), 'rev42');
  });
  it('refuses zero, negatives and fractions', () => {
    for (const n of [0, -1, 1.5]) {
      assert.throws(() => revisionTag(n), InvalidReferenceError);
    }
  });
});

describe('parseRepositoryPrefix', () => {
  it('keeps an empty path for a bare host', () => {
    assert.deepEqual(parseRepositoryPrefix('ghcr.io'), {
      registry: 'ghcr.io',
      apiHost: 'ghcr.io',
      path: '',
    });
  });
});
