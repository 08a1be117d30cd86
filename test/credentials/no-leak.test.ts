import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';

import {
  createCredentialResolver,
  type CredentialsConfig,
} from '../../shared/credentials/index.js';
import type { TargetParams } from '../../shared/event/types.js';
import { SecretSourceError } from '../../shared/secrets/source.js';
import { b64, memorySecrets, noSleep, recordingLog } from './support.js';

/** Distinctive values that must never show up in a log line or an error. */
const CANARY = 'Zq7CANARYx9';
const canaries = [CANARY, b64(`leak-user:${CANARY}`), b64(CANARY)];

/** One secret per failure path, each holding the canary somewhere. */
const SECRETS: Record<string, string | SecretSourceError> = {
  'truncated-json': `{"auths": {"ghcr.io": {"password": "${CANARY}"`,
  'bad-yaml': `auths:\n  ghcr.io: [${CANARY}\n  other: {`,
  'one-line': `${CANARY}: ${CANARY}`,
  'bare-token': `${CANARY}-token`,
  'base64-garbage': b64(`\u0001\u0002${CANARY}`),
  'password-only': JSON.stringify({ password: CANARY }),
  'auth-no-colon': JSON.stringify({
    auths: { 'ghcr.io': { auth: b64(CANARY) } },
  }),
  'auth-empty-password': JSON.stringify({
    auths: { 'ghcr.io': { auth: b64(`${CANARY}:`) } },
  }),
  'wrong-type': JSON.stringify({
    auths: { 'ghcr.io': { username: 'u', password: { value: CANARY } } },
  }),
  'other-registry': JSON.stringify({
    auths: { 'quay.io': { auth: b64(`leak-user:${CANARY}`) } },
  }),
  'creds-store': JSON.stringify({
    auths: { 'ghcr.io': {}, 'quay.io': { auth: b64(`leak-user:${CANARY}`) } },
    credsStore: 'desktop',
  }),
  'opaque-secret': `apiVersion: v1\nkind: Secret\ntype: Opaque\ndata:\n  token: ${b64(CANARY)}\n`,
  'registry-scoped': JSON.stringify({
    username: 'leak-user',
    password: CANARY,
    registry: 'quay.io',
  }),
  denied: new SecretSourceError(
    'ACCESS_DENIED',
    'denied',
    'secret denied was denied',
  ),
  throttled: new SecretSourceError(
    'THROTTLED',
    'throttled',
    'secret throttled was throttled',
  ),
};

const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

void describe('credentials resolver', () => {
  void describe('when every failure path runs', () => {
    const log = recordingLog();
    const output: string[] = [];
    let dir: string;
    const ecr = new ECRClient({ region: 'eu-west-1' });
    const ecrMock = mockClient(ecr);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'no-leak-test-'));
      await writeFile(
        join(dir, 'config.json'),
        SECRETS['truncated-json'] as string,
      );
      ecrMock.on(GetAuthorizationTokenCommand).resolves({
        authorizationData: [{ authorizationToken: b64(`AWS${CANARY}`) }],
      });
    });
    after(async () => {
      ecrMock.restore();
      await rm(dir, { recursive: true, force: true });
    });

    async function run(
      config: CredentialsConfig,
      target: TargetParams,
      registry = 'ghcr.io',
    ): Promise<void> {
      const resolver = createCredentialResolver({
        secrets: memorySecrets(SECRETS),
        config,
        ecrClient: () => ecr,
        log,
        sleep: noSleep,
      });
      for (const refresh of [false, true]) {
        try {
          const resolved = await resolver.resolve(target, {
            registry,
            repository: 'acme/app',
            refresh,
          });
          output.push(JSON.stringify(resolved.attempts));
        } catch (error) {
          output.push(
            inspect(error, { depth: 20, showHidden: true }),
            String(error),
            JSON.stringify(error),
          );
          if (error instanceof Error && error.stack !== undefined) {
            output.push(error.stack);
          }
        }
      }
    }

    it('runs each secret failure through the target and worker sources', async () => {
      for (const id of Object.keys(SECRETS)) {
        await run(
          { authMethod: 'secret', defaultRegistrySecretId: id },
          {
            Repository: 'ghcr.io/acme',
            Provider: 'Generic',
            AllowDeletion: false,
            SecretId: id,
          },
        );
        await run(
          { authMethod: 'anonymous', registrySecretPrefix: '' },
          {
            Repository: 'ghcr.io/acme',
            Provider: 'None',
            AllowDeletion: false,
            KubernetesSecretName: 'x',
            KubernetesSecretNamespace: id,
          },
        );
      }
      await run(
        { authMethod: 'docker-config', dockerConfig: dir },
        { Repository: 'ghcr.io/acme', Provider: 'GCP', AllowDeletion: false },
      );
      await run(
        { authMethod: 'secret' },
        {
          Repository: `${ECR_HOST}/org`,
          Provider: 'AWS',
          AllowDeletion: false,
        },
        ECR_HOST,
      );

      assert.ok(output.length > 60, `only ${output.length} outputs captured`);
      assert.ok(log.lines.length > 60, `only ${log.lines.length} log lines`);
    });

    it('put no secret value in any log line or error', () => {
      const everything = [...output, ...log.lines].join('\n');

      for (const canary of canaries) {
        assert.equal(
          everything.includes(canary),
          false,
          `found ${canary} in:\n${[...output, ...log.lines].find((s) => s.includes(canary))}`,
        );
      }
      // The failures are described, so the scan looked at real messages.
      assert.match(everything, /not valid JSON/);
      assert.match(everything, /has no entry for ghcr\.io\/acme\/app/);
      assert.match(everything, /credsStore/);
      assert.match(everything, /AWS:password/);
    });
  });
});
