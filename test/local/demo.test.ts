import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { runDemo, type DemoOutcome } from '../../local/demo-run.js';

/**
 * The local stack end to end, as `npm run demo` runs it: every example event
 * signed and posted over HTTP, queued, pushed by the push handler, reported,
 * then read back and compared byte for byte (and digest for digest through
 * skopeo).
 */
describe('the local stack', () => {
  let stateDir: string;
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'local-stack-test-'));
  });
  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  const run = async (
    options: Parameters<typeof runDemo>[0],
  ): Promise<{ outcome: DemoOutcome; lines: string[] }> => {
    const lines: string[] = [];
    const outcome = await runDemo({
      stateDir,
      logLevel: 'error',
      print: (line) => lines.push(line),
      ...options,
    });
    return { outcome, lines };
  };

  describe('when it pushes to docker-registry', () => {
    it('turns every example event into the expected result and a readable artifact', async () => {
      const { outcome, lines } = await run({});

      assert.deepEqual(outcome.failures, [], lines.join('\n'));
      assert.ok(
        lines.some((line) => line.includes('skopeo reads')),
        'skopeo checked the artifacts',
      );
      assert.ok(
        lines.some((line) =>
          /frontend:latest points at the newest revision, rev3/.test(line),
        ),
      );
      assert.ok(outcome.checks >= 25, `only ${outcome.checks} checks ran`);
    });
  });

  describe('when it writes OCI image layouts', () => {
    it('gives the same results, read back from the layouts', async () => {
      const { outcome, lines } = await run({
        layoutDir: join(stateDir, 'layouts'),
      });

      assert.deepEqual(outcome.failures, [], lines.join('\n'));
      assert.ok(
        lines.some((line) => line.includes('artifacts to OCI layouts')),
      );
      assert.ok(outcome.checks >= 25, `only ${outcome.checks} checks ran`);
    });
  });
});
