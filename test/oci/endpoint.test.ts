import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  allowsPlainHttp,
  endpointPolicy,
  isMetadataOrLinkLocal,
  redactUrl,
  registryBaseUrl,
} from '../../shared/oci/endpoint.js';
import { OciError } from '../../shared/oci/errors.js';
import { parseRetryAfter } from '../../shared/oci/transport.js';

const hostOf = (url: string) => new URL(url).hostname;

describe('isMetadataOrLinkLocal', () => {
  const cases: [string, boolean][] = [
    ['http://169.254.169.254/', true],
    ['http://169.254.170.2/', true],
    ['http://2852039166/', true],
    ['http://[fd00:ec2::254]/', true],
    ['http://[fe80::1]/', true],
    ['http://[::ffff:169.254.169.254]/', true],
    ['http://metadata.google.internal/', true],
    ['http://METADATA.google.internal./', true],
    ['http://100.100.100.200/', true],
    ['https://ghcr.io/', false],
    ['http://127.0.0.1/', false],
    ['http://10.0.0.1/', false],
  ];
  for (const [url, expected] of cases) {
    it(`${expected ? 'flags' : 'allows'} ${url}`, () => {
      assert.equal(isMetadataOrLinkLocal(hostOf(url)), expected);
    });
  }
});

describe('allowsPlainHttp', () => {
  const policy = endpointPolicy(['registry.internal:5000']);
  const cases: [string, boolean][] = [
    ['localhost:5000', true],
    ['127.0.0.1:5000', true],
    ['127.8.9.10', true],
    ['[::1]:5000', true],
    ['registry.internal:5000', true],
    ['registry.internal:5001', false],
    ['ghcr.io', false],
    ['localhost.evil.com', false],
  ];
  for (const [host, expected] of cases) {
    it(`${expected ? 'allows' : 'refuses'} ${host}`, () => {
      assert.equal(allowsPlainHttp(host, policy), expected);
    });
  }
});

describe('registryBaseUrl', () => {
  it('uses https for remote hosts and http for loopback', () => {
    const policy = endpointPolicy();
    assert.equal(registryBaseUrl('ghcr.io', policy).href, 'https://ghcr.io/');
    assert.equal(
      registryBaseUrl('localhost:5000', policy).href,
      'http://localhost:5000/',
    );
  });

  it('refuses a metadata host with UNSAFE_ENDPOINT', () => {
    assert.throws(
      () => registryBaseUrl('169.254.169.254', endpointPolicy()),
      (e: unknown) => e instanceof OciError && e.code === 'UNSAFE_ENDPOINT',
    );
  });
});

describe('redactUrl', () => {
  it('keeps only allowlisted query keys and drops user info', () => {
    assert.equal(
      redactUrl(
        'https://u:p@s3.example/b/k?X-Amz-Signature=abc&digest=sha256:1',
      ),
      'https://s3.example/b/k?digest=sha256%3A1&…',
    );
    assert.equal(
      redactUrl('http://r/v2/a/blobs/uploads/x?_state=secret'),
      'http://r/v2/a/blobs/uploads/x?…',
    );
    assert.equal(
      redactUrl('https://auth/token?scope=repository:a:pull&service=s'),
      'https://auth/token?scope=repository%3Aa%3Apull&service=s',
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});
