import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import {
  entryCredential,
  findEntry,
  normaliseRegistryKey,
  parseRegistrySecret,
  type RegistryAuthConfig,
} from '../../shared/credentials/docker-config.js';
import { SecretFormatError } from '../../shared/credentials/errors.js';
import type { RegistryCredential } from '../../shared/oci/credential.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/secrets/${name}`, import.meta.url), 'utf8');

function lookup(
  config: RegistryAuthConfig,
  registry: string,
  repository: string,
): RegistryCredential | undefined {
  const match = findEntry(config, registry, repository);
  return match === undefined ? undefined : entryCredential(match.entry);
}

const basic = (username: string, password: string): RegistryCredential => ({
  kind: 'basic',
  username,
  password,
});

const GCP_KEY_START = '{\n  "type": "service_account"';

void describe('parseRegistrySecret', () => {
  void describe('when reading the corpus of real-world shapes', () => {
    const cases: Array<{
      file: string;
      format: RegistryAuthConfig['format'];
      wrapping?: RegistryAuthConfig['wrapping'];
      registry: string;
      repository: string;
      expected: RegistryCredential | ((c: RegistryCredential) => void);
    }> = [
      {
        file: 'kubectl-dockerconfigjson.json',
        format: 'dockerconfigjson',
        registry: 'ghcr.io',
        repository: 'acme/app',
        expected: basic('fake-user', 'FAKE-ghcr-pass-01'),
      },
      {
        file: 'seed-auth-trailing-newline.json',
        format: 'dockerconfigjson',
        registry: 'ghcr.io',
        repository: 'acme/app',
        expected: basic('user', 'FAKE-seed-password'),
      },
      {
        file: 'auth-only-trailing-newline.json',
        format: 'dockerconfigjson',
        registry: 'registry.example.com',
        repository: 'app',
        expected: basic('ci-bot', 'FAKE-auth-only-02'),
      },
      {
        file: 'dockerconfigjson.base64.txt',
        format: 'dockerconfigjson',
        wrapping: ['base64'],
        registry: 'quay.io',
        repository: 'acme/app',
        expected: basic('fake+robot', 'FAKE-quay-token-03'),
      },
      {
        file: 'k8s-secret-data.yaml',
        format: 'dockerconfigjson',
        wrapping: ['kubernetes-secret'],
        registry: 'registry.gitlab.com',
        repository: 'group/project',
        expected: basic('gitlab-ci-token', 'FAKE-gitlab-04'),
      },
      {
        file: 'k8s-secret-stringdata.yaml',
        format: 'dockerconfigjson',
        wrapping: ['kubernetes-secret'],
        registry: 'harbor.example.com',
        repository: 'library/app',
        expected: basic('robot$ci', 'FAKE-harbor-05'),
      },
      {
        file: 'k8s-secret.json',
        format: 'dockerconfigjson',
        wrapping: ['kubernetes-secret'],
        registry: 'europe-docker.pkg.dev',
        repository: 'fake-project/repo/app',
        expected: basic('oauth2accesstoken', 'FAKE-ya29-token-06'),
      },
      {
        file: 'k8s-secret-basic-auth.yaml',
        format: 'username-password',
        wrapping: ['kubernetes-secret'],
        registry: 'anything.example.com',
        repository: 'app',
        expected: basic('basic-user', 'FAKE-basic-07'),
      },
      {
        file: 'k8s-data-map.json',
        format: 'dockerconfigjson',
        wrapping: ['base64'],
        registry: 'ghcr.io',
        repository: 'org-a/app',
        expected: basic('org-a-bot', 'FAKE-data-map-08'),
      },
      {
        file: 'legacy-dockercfg.json',
        format: 'dockercfg',
        registry: 'docker.io',
        repository: 'hubuser/app',
        expected: basic('hubuser', 'FAKE-hub-legacy-09'),
      },
      {
        file: 'username-password.json',
        format: 'username-password',
        registry: 'localhost:5000',
        repository: 'confighub/frontend',
        expected: basic('plain-user', 'FAKE-plain-10'),
      },
      {
        file: 'username-password-registry.json',
        format: 'username-password',
        registry: 'registry.example.com',
        repository: 'app',
        expected: basic('scoped-user', 'FAKE-scoped-11'),
      },
      {
        file: 'docker-hub-v1-key.json',
        format: 'dockerconfigjson',
        registry: 'docker.io',
        repository: 'library/app',
        expected: basic('hubuser', 'FAKE-hub-12'),
      },
      {
        file: 'docker-hub-v1-key.json',
        format: 'dockerconfigjson',
        registry: 'index.docker.io',
        repository: 'hubuser/app',
        expected: basic('hubuser', 'FAKE-hub-12'),
      },
      {
        file: 'docker-hub-alias.json',
        format: 'dockerconfigjson',
        registry: 'docker.io',
        repository: 'aliasuser/app',
        expected: basic('aliasuser', 'FAKE-alias-29'),
      },
      {
        file: 'path-scoped.json',
        format: 'dockerconfigjson',
        registry: 'ghcr.io',
        repository: 'org-a/app',
        expected: basic('org-a', 'FAKE-ghcr-a-14'),
      },
      {
        file: 'path-scoped.json',
        format: 'dockerconfigjson',
        registry: 'ghcr.io',
        repository: 'org-a/team-1/app',
        expected: basic('team-1', 'FAKE-ghcr-a1-15'),
      },
      {
        file: 'path-scoped.json',
        format: 'dockerconfigjson',
        registry: 'ghcr.io',
        repository: 'org-b/app',
        expected: basic('org-b', 'FAKE-ghcr-b-16'),
      },
      {
        file: 'path-scoped.json',
        format: 'dockerconfigjson',
        registry: 'ghcr.io',
        repository: 'org-ab/app',
        expected: basic('any-org', 'FAKE-ghcr-any-13'),
      },
      {
        file: 'host-port.json',
        format: 'dockerconfigjson',
        registry: 'localhost:5000',
        repository: 'x/app',
        expected: basic('five-thousand', 'FAKE-5000-17'),
      },
      {
        file: 'host-port.json',
        format: 'dockerconfigjson',
        registry: 'localhost:5001',
        repository: 'x/app',
        expected: basic('five-thousand-one', 'FAKE-5001-18'),
      },
      {
        file: 'password-with-colons.json',
        format: 'dockerconfigjson',
        registry: 'harbor.example.com',
        repository: 'acme/app',
        expected: basic('robot$acme+ci', 'FAKE:pass:with:colons-19'),
      },
      {
        file: 'azure-identitytoken.json',
        format: 'dockerconfigjson',
        registry: 'fakeacr.azurecr.io',
        repository: 'app',
        expected: {
          kind: 'identityToken',
          identityToken: 'FAKE-azure-refresh-20',
        },
      },
      {
        file: 'azure-service-principal.json',
        format: 'dockerconfigjson',
        registry: 'fakeacr.azurecr.io',
        repository: 'app',
        expected: basic(
          '11111111-2222-3333-4444-555555555555',
          'FAKE-azure-sp-21',
        ),
      },
      {
        file: 'gcp-json-key.json',
        format: 'dockerconfigjson',
        registry: 'europe-west1-docker.pkg.dev',
        repository: 'fake-project/repo/app',
        expected: (c) => {
          assert.equal(c.kind, 'basic');
          if (c.kind !== 'basic') return;
          assert.equal(c.username, '_json_key');
          assert.ok(c.password.startsWith(GCP_KEY_START));
          assert.match(c.password, /FAKE-gcp-key-22/);
        },
      },
      {
        file: 'gcp-oauth2accesstoken.json',
        format: 'dockerconfigjson',
        registry: 'gcr.io',
        repository: 'fake-project/app',
        expected: basic('oauth2accesstoken', 'FAKE-ya29-23'),
      },
      {
        file: 'registrytoken.json',
        format: 'dockerconfigjson',
        registry: 'registry.example.com',
        repository: 'app',
        expected: { kind: 'registryToken', token: 'FAKE-bearer-24' },
      },
      {
        file: 'credhelpers-mixed.json',
        format: 'dockerconfigjson',
        registry: 'quay.io',
        repository: 'acme/app',
        expected: basic('quay-user', 'FAKE-quay-25'),
      },
      {
        file: 'auth-wrapped-76.json',
        format: 'dockerconfigjson',
        registry: 'registry.example.com',
        repository: 'app',
        expected: basic('long-user', `FAKE-long-${'x'.repeat(80)}-26`),
      },
      {
        file: 'auth-crlf.json',
        format: 'dockerconfigjson',
        registry: 'registry.example.com',
        repository: 'app',
        expected: basic('win-user', 'FAKE-crlf-27'),
      },
      {
        file: 'auth-no-padding.json',
        format: 'dockerconfigjson',
        registry: 'registry.example.com',
        repository: 'app',
        expected: basic('nopad', 'FAKE-nopad-28x'),
      },
      {
        file: 'auth-and-fields.json',
        format: 'dockerconfigjson',
        registry: 'registry.example.com',
        repository: 'app',
        expected: basic('field-user', 'FAKE-field-30'),
      },
    ];

    for (const c of cases) {
      it(`reads ${c.file} for ${c.registry}/${c.repository}`, () => {
        const config = parseRegistrySecret(fixture(c.file));

        assert.equal(config.format, c.format);
        assert.deepEqual(config.wrapping, c.wrapping ?? []);
        const credential = lookup(config, c.registry, c.repository);
        assert.ok(credential, 'no entry matched');
        if (typeof c.expected === 'function') c.expected(credential);
        else assert.deepEqual(credential, c.expected);
      });
    }
  });

  void describe('when the value is SecretBinary', () => {
    it('reads the bytes as the same document', () => {
      const bytes = new TextEncoder().encode(
        fixture('kubectl-dockerconfigjson.json'),
      );

      const config = parseRegistrySecret({ binary: bytes });

      assert.deepEqual(
        lookup(config, 'ghcr.io', 'acme/app'),
        basic('fake-user', 'FAKE-ghcr-pass-01'),
      );
    });
  });

  void describe('when the config names credential helpers', () => {
    it('lists credsStore as ignored and leaves its empty entries unusable', () => {
      const config = parseRegistrySecret(
        fixture('docker-desktop-credsstore.json'),
      );

      assert.deepEqual(config.ignored, ['credsStore']);
      const match = findEntry(config, 'ghcr.io', 'acme/app');
      assert.ok(match);
      assert.throws(
        () => entryCredential(match.entry),
        (error: unknown) =>
          error instanceof SecretFormatError && error.code === 'UNUSABLE',
      );
    });

    it('lists credHelpers as ignored and finds no entry for their hosts', () => {
      const config = parseRegistrySecret(fixture('credhelpers-mixed.json'));

      assert.deepEqual(config.ignored, ['credHelpers']);
      assert.equal(
        findEntry(config, '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'x'),
        undefined,
      );
    });
  });

  void describe('when a key is more specific than the repository', () => {
    it('finds no entry for a registry only path-scoped keys cover', () => {
      const config = parseRegistrySecret(fixture('k8s-data-map.json'));

      assert.equal(findEntry(config, 'ghcr.io', 'org-b/app'), undefined);
    });

    it('does not match a different port of the same host', () => {
      const config = parseRegistrySecret(fixture('host-port.json'));

      assert.equal(findEntry(config, 'localhost:5002', 'x/app'), undefined);
      assert.equal(findEntry(config, 'localhost', 'x/app'), undefined);
    });

    it('does not apply a registry-scoped username/password elsewhere', () => {
      const config = parseRegistrySecret(
        fixture('username-password-registry.json'),
      );

      assert.equal(findEntry(config, 'ghcr.io', 'app'), undefined);
    });
  });

  void describe('when the secret is malformed', () => {
    const cases: Array<{ name: string; text: string; message: RegExp }> = [
      {
        name: 'truncated JSON',
        text: fixture('bad-truncated.json'),
        message: /not valid JSON/,
      },
      {
        name: 'an unknown shape',
        text: fixture('bad-unknown-shape.json'),
        message: /found keys "token", "url"/,
      },
      {
        name: 'an Opaque Secret without docker config',
        text: fixture('bad-k8s-opaque.yaml'),
        message: /Kubernetes Secret has no ".dockerconfigjson".*"token"/,
      },
      {
        name: 'auths as an array',
        text: fixture('bad-auths-array.json'),
        message: /"auths" must be an object/,
      },
      { name: 'empty text', text: '  \n', message: /empty/ },
      { name: 'a bare word', text: 'FAKE-bare-word', message: /base64/ },
      {
        name: 'a one-line "key: value"',
        text: 'FAKE-pass: FAKE-word',
        message: /one-line text/,
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.name}`, () => {
        assert.throws(
          () => parseRegistrySecret(c.text),
          (error: unknown) => {
            assert.ok(error instanceof SecretFormatError);
            assert.equal(error.code, 'MALFORMED');
            assert.match(error.message, c.message);
            assert.doesNotMatch(error.message, /FAKE-/);
            return true;
          },
        );
      });
    }
  });

  void describe('when an entry is unusable', () => {
    const cases: Array<{ file: string; message: RegExp }> = [
      { file: 'bad-username-only.json', message: /username but no password/ },
      { file: 'bad-auth-no-colon.json', message: /user:password/ },
    ];
    for (const c of cases) {
      it(`names the problem in ${c.file}`, () => {
        const match = findEntry(
          parseRegistrySecret(fixture(c.file)),
          'ghcr.io',
          'acme/app',
        );
        assert.ok(match);

        assert.throws(
          () => entryCredential(match.entry),
          (error: unknown) => {
            assert.ok(error instanceof SecretFormatError);
            assert.equal(error.code, 'UNUSABLE');
            assert.match(error.message, c.message);
            assert.doesNotMatch(error.message, /FAKE-/);
            return true;
          },
        );
      });
    }
  });
});

void describe('normaliseRegistryKey', () => {
  const cases: Array<[string, { host: string; path: string }]> = [
    ['https://index.docker.io/v1/', { host: 'docker.io', path: '' }],
    ['registry-1.docker.io', { host: 'docker.io', path: '' }],
    ['http://localhost:5000/', { host: 'localhost:5000', path: '' }],
    ['Registry.Example.com/v2/', { host: 'registry.example.com', path: '' }],
    ['ghcr.io/org-a/', { host: 'ghcr.io', path: 'org-a' }],
    ['oci://ghcr.io/org-a/team', { host: 'ghcr.io', path: 'org-a/team' }],
  ];
  for (const [key, expected] of cases) {
    it(`normalises ${key}`, () => {
      assert.deepEqual(normaliseRegistryKey(key), expected);
    });
  }
});
