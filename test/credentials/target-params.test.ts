import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  parseTargetParams,
  targetParamsSchema,
} from '../../shared/credentials/target-params.js';

void describe('targetParamsSchema', () => {
  void describe('when the parameters are valid', () => {
    const cases: Array<{ name: string; raw: unknown; expected: unknown }> = [
      {
        name: 'normalises AllowDeletion "false" and keeps Tag',
        raw: {
          Repository: 'localhost:5000/confighub',
          Tag: 'latest',
          Provider: 'Generic',
          AllowDeletion: 'false',
        },
        expected: {
          Repository: 'localhost:5000/confighub',
          Tag: 'latest',
          Provider: 'Generic',
          AllowDeletion: false,
        },
      },
      {
        name: 'drops an empty Tag and accepts an ECR https URL',
        raw: {
          Repository:
            'https://123456789012.dkr.ecr.us-east-1.amazonaws.com/org-2',
          Tag: '',
          Provider: 'AWS',
          AllowDeletion: 'true',
        },
        expected: {
          Repository:
            'https://123456789012.dkr.ecr.us-east-1.amazonaws.com/org-2',
          Provider: 'AWS',
          AllowDeletion: true,
        },
      },
      {
        name: 'defaults a missing AllowDeletion to false and Provider to None',
        raw: { Repository: 'localhost:5000/platform/team-a' },
        expected: {
          Repository: 'localhost:5000/platform/team-a',
          Provider: 'None',
          AllowDeletion: false,
        },
      },
      {
        name: 'accepts a boolean AllowDeletion and a lowercase provider',
        raw: {
          Repository: 'ghcr.io/acme',
          Provider: 'gcp',
          AllowDeletion: true,
        },
        expected: {
          Repository: 'ghcr.io/acme',
          Provider: 'GCP',
          AllowDeletion: true,
        },
      },
      {
        name: 'keeps the Kubernetes secret pair and a secret ARN, drops unknown keys',
        raw: {
          Repository: 'ghcr.io/acme',
          Provider: 'Generic',
          KubernetesSecretName: 'regcred',
          KubernetesSecretNamespace: 'confighub',
          SecretId:
            'arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry/ghcr-AbCdEf',
          Extra: 'ignored',
        },
        expected: {
          Repository: 'ghcr.io/acme',
          Provider: 'Generic',
          AllowDeletion: false,
          KubernetesSecretName: 'regcred',
          KubernetesSecretNamespace: 'confighub',
          SecretId:
            'arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry/ghcr-AbCdEf',
        },
      },
      {
        name: 'reads keys that differ from the parameters only in case, as Go does',
        raw: {
          repository: 'ghcr.io/acme',
          TAG: 'latest',
          provider: 'aws',
          allowDeletion: 'true',
          secretid: 'registry/ghcr',
        },
        expected: {
          Repository: 'ghcr.io/acme',
          Tag: 'latest',
          Provider: 'AWS',
          AllowDeletion: true,
          SecretId: 'registry/ghcr',
        },
      },
      {
        name: 'accepts a secret name',
        raw: { Repository: 'ghcr.io/acme', SecretId: 'registry/ghcr' },
        expected: {
          Repository: 'ghcr.io/acme',
          Provider: 'None',
          AllowDeletion: false,
          SecretId: 'registry/ghcr',
        },
      },
    ];
    for (const { name, raw, expected } of cases) {
      void it(name, () => {
        assert.deepEqual(targetParamsSchema.parse(raw), expected);
      });
    }
  });

  void describe('when the parameters are invalid', () => {
    const cases: Array<{
      name: string;
      raw: unknown;
      path: string;
      message: RegExp;
    }> = [
      {
        name: 'names the supported providers',
        raw: { Repository: 'ghcr.io/acme', Provider: 'DigitalOcean' },
        path: 'Provider',
        message: /"DigitalOcean".*Generic, AWS, GCP, Azure, None/,
      },
      {
        name: 'refuses a missing Repository',
        raw: { Tag: 'latest' },
        path: 'Repository',
        message: /is required/,
      },
      {
        name: 'refuses a Repository without a host',
        raw: { Repository: 'acme' },
        path: 'Repository',
        message: /registry host/,
      },
      {
        name: 'refuses a bad Tag',
        raw: { Repository: 'ghcr.io/acme', Tag: '-bad' },
        path: 'Tag',
        message: /"-bad"/,
      },
      {
        name: 'refuses AllowDeletion "yes"',
        raw: { Repository: 'ghcr.io/acme', AllowDeletion: 'yes' },
        path: 'AllowDeletion',
        message: /"true" or "false", got "yes"/,
      },
      {
        name: 'refuses a name without a namespace',
        raw: { Repository: 'ghcr.io/acme', KubernetesSecretName: 'regcred' },
        path: 'KubernetesSecretNamespace',
        message: /both or neither/,
      },
      {
        name: 'refuses a namespace without a name',
        raw: { Repository: 'ghcr.io/acme', KubernetesSecretNamespace: 'ns' },
        path: 'KubernetesSecretName',
        message: /both or neither/,
      },
      {
        name: 'refuses an uppercase Secret name',
        raw: {
          Repository: 'ghcr.io/acme',
          KubernetesSecretName: 'RegCred',
          KubernetesSecretNamespace: 'ns',
        },
        path: 'KubernetesSecretName',
        message: /not a Kubernetes Secret name/,
      },
      {
        name: 'refuses a namespace with a dot',
        raw: {
          Repository: 'ghcr.io/acme',
          KubernetesSecretName: 'regcred',
          KubernetesSecretNamespace: 'a.b',
        },
        path: 'KubernetesSecretNamespace',
        message: /not a Kubernetes namespace/,
      },
      {
        name: 'refuses an ARN of another service',
        raw: {
          Repository: 'ghcr.io/acme',
          SecretId: 'arn:aws:ssm:eu-west-1:123456789012:parameter/x',
        },
        path: 'SecretId',
        message: /not a Secrets Manager secret ARN/,
      },
      {
        name: 'refuses a secret name with a space',
        raw: { Repository: 'ghcr.io/acme', SecretId: 'my secret' },
        path: 'SecretId',
        message: /not a Secrets Manager secret name/,
      },
      {
        name: 'refuses two keys naming one parameter, naming both',
        raw: { Repository: 'ghcr.io/acme', repository: 'evil.io/b' },
        path: 'Repository',
        message: /"Repository" and "repository".*ignoring case/,
      },
      {
        name: 'refuses a Kelvin-sign spelling beside the plain one',
        raw: {
          Repository: 'ghcr.io/acme',
          KubernetesSecretName: 'a',
          '\u212aubernetesSecretName': 'b',
          KubernetesSecretNamespace: 'ns',
        },
        path: 'KubernetesSecretName',
        message: /"KubernetesSecretName" and "\u212aubernetesSecretName"/,
      },
      {
        name: 'refuses a non-object',
        raw: 'Repository=localhost:5000/x',
        path: '',
        message: /must be a JSON object/,
      },
    ];
    for (const { name, raw, path, message } of cases) {
      void it(name, () => {
        const result = parseTargetParams(raw);

        assert.equal(result.ok, false);
        if (result.ok) return;
        const issue = result.issues.find((i) => i.path === path);
        assert.ok(
          issue,
          `no issue at ${JSON.stringify(path)}: ${JSON.stringify(result.issues)}`,
        );
        assert.match(issue.message, message);
      });
    }
  });
});
