import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { createFileSecretSource } from '../../shared/secrets/file.js';
import { SecretSourceError } from '../../shared/secrets/source.js';

void describe('createFileSecretSource', () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'secrets-file-test-'));
    path = join(dir, 'secrets.json');
    await writeFile(
      path,
      JSON.stringify({
        text: 'FAKE-text',
        bin: { binary: Buffer.from('FAKE-bytes').toString('base64') },
        staged: { AWSCURRENT: 'FAKE-new', AWSPREVIOUS: { binary: 'AAE=' } },
        bad: 42,
      }),
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void describe('when the id is in the file', () => {
    it('reads text, binary and staged values', async () => {
      const source = createFileSecretSource(path);

      assert.deepEqual(await source.get('text'), { text: 'FAKE-text' });
      assert.deepEqual(await source.get('bin'), {
        binary: new Uint8Array(Buffer.from('FAKE-bytes')),
      });
      assert.deepEqual(await source.get('staged'), { text: 'FAKE-new' });
      assert.deepEqual(await source.get('staged', { stage: 'AWSPREVIOUS' }), {
        binary: new Uint8Array([0, 1]),
      });
    });

    it('sees an edit at once, like a rotation', async () => {
      const source = createFileSecretSource(path);
      await source.get('text');

      await writeFile(path, JSON.stringify({ text: 'FAKE-rotated' }));

      assert.deepEqual(await source.get('text', { forceFetch: true }), {
        text: 'FAKE-rotated',
      });
    });
  });

  void describe('when the id or file is wrong', () => {
    const cases: Array<{
      name: string;
      act: (p: string) => Promise<unknown>;
      code: SecretSourceError['code'];
      message: RegExp;
    }> = [
      {
        name: 'an absent id',
        act: (p) => createFileSecretSource(p).get('absent'),
        code: 'NOT_FOUND',
        message: /absent is not in/,
      },
      {
        name: 'a missing stage',
        act: (p) =>
          createFileSecretSource(p).get('text', { stage: 'AWSPREVIOUS' }),
        code: 'NOT_FOUND',
        message: /only one version/,
      },
      {
        name: 'a value of the wrong type',
        act: (p) => createFileSecretSource(p).get('bad'),
        code: 'UNAVAILABLE',
        message: /must be a string/,
      },
      {
        name: 'a missing file',
        act: (p) => createFileSecretSource(`${p}.absent`).get('text'),
        code: 'UNAVAILABLE',
        message: /ENOENT/,
      },
    ];
    for (const c of cases) {
      it(`reports ${c.name} as ${c.code}`, async () => {
        await assert.rejects(c.act(path), (error) => {
          assert.ok(error instanceof SecretSourceError);
          assert.equal(error.code, c.code);
          assert.match(error.message, c.message);
          return true;
        });
      });
    }

    it('does not quote the file when it is not JSON', async () => {
      await writeFile(path, '{"text": "FAKE-broken');

      await assert.rejects(
        createFileSecretSource(path).get('text'),
        (error) => {
          assert.ok(error instanceof SecretSourceError);
          assert.match(error.message, /not valid JSON/);
          assert.doesNotMatch(error.message, /FAKE/);
          return true;
        },
      );
    });
  });
});
