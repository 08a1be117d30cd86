/**
 * `npm run send -- FILE [--url URL]`: signs a ConfigHub event file and posts
 * it to a webhook, printing the HTTP status and body. By default it targets
 * the running local stack with its signing secret; against a deployed stack
 * it reads the signing secret from Secrets Manager.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

import { createSecretsManagerSource } from '../shared/secrets/secrets-manager.js';
import { SIGNATURE_HEADER, signBody } from '../shared/signing/signature.js';
import {
  LOCAL_STACK_FILE,
  readLocalStack,
  StackConfigError,
  readStackOutputs,
  stackOutput,
  STACK_OUTPUT_KEYS,
} from './stack-config.js';

const USAGE = `usage: npm run send -- FILE [options]

  FILE                 a ConfigHub event as JSON (see examples/)
  --url URL            the webhook URL (default: the running local stack's)
  --secret-id ID       Secrets Manager secret (ARN or name) holding the signing
                       secret; needed with --url unless --stack gives it
  --stack NAME         a deployed stack: webhook URL and signing secret from
                       its CloudFormation outputs
  --region REGION      AWS region for --stack and --secret-id (AWS_REGION)
  --state-dir DIR      the local stack's state directory, if started with
                       one (default .local)
  -h, --help           this text`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      url: { type: 'string' },
      'secret-id': { type: 'string' },
      stack: { type: 'string' },
      region: { type: 'string' },
      'state-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const file = positionals[0];
  if (file === undefined || positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }

  const body = await readFile(file);
  const { url, secret } = await target(values);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signBody(secret, body),
      },
      body,
    });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    throw new Error(
      `${url} did not answer (${String(cause ?? error)}); if it is the local stack, is npm start still running?`,
    );
  }
  const text = await response.text();
  console.log(`${response.status} ${response.statusText}`);
  console.log(text);
  return response.ok ? 0 : 1;
}

async function target(values: {
  url?: string | undefined;
  'secret-id'?: string | undefined;
  stack?: string | undefined;
  region?: string | undefined;
  'state-dir'?: string | undefined;
}): Promise<{ url: string; secret: string }> {
  const region =
    values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  let url = values.url;
  let secretId = values['secret-id'];
  if (values.stack !== undefined) {
    if (region === undefined) {
      throw new Error(
        '--stack needs a region: pass --region or set AWS_REGION',
      );
    }
    const outputs = await readStackOutputs(values.stack, { region });
    url ??= stackOutput(outputs, STACK_OUTPUT_KEYS.webhookUrl, values.stack);
    secretId ??= stackOutput(
      outputs,
      STACK_OUTPUT_KEYS.signingSecretArn,
      values.stack,
    );
  }
  if (url === undefined && secretId === undefined) {
    const file =
      values['state-dir'] === undefined
        ? LOCAL_STACK_FILE
        : join(values['state-dir'], 'stack.json');
    const local = await readLocalStack(file).catch((error: unknown) => {
      if (
        error instanceof StackConfigError &&
        error.code === 'local-stack-missing'
      ) {
        throw new Error(
          `no local stack running (${file} not found): start it with npm start, or send to a deployed webhook with --stack NAME, or --url URL --secret-id ID`,
        );
      }
      throw error;
    });
    return { url: local.webhookUrl, secret: local.signingSecret };
  }
  if (url === undefined || secretId === undefined) {
    throw new Error(
      'against a deployed webhook pass both --url and --secret-id, or --stack NAME',
    );
  }
  const secrets = createSecretsManagerSource({
    client: new SecretsManagerClient(region === undefined ? {} : { region }),
  });
  const value = await secrets.get(secretId);
  const secret =
    value.text ??
    (value.binary === undefined
      ? undefined
      : Buffer.from(value.binary).toString('utf8'));
  if (secret === undefined || secret === '') {
    throw new Error(
      `secret ${secretId} is empty: set the signing secret first`,
    );
  }
  return { url: new URL(url).href, secret };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `send: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  },
);
