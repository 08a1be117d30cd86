/**
 * Where the command-line tools find the stack they talk to: explicit flags,
 * a deployed stack's CloudFormation outputs, or the running local stack's
 * `.local/stack.json`, in that order.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';

/** The file the local stack writes while it runs (`npm start`). */
export const LOCAL_STACK_FILE = fileURLToPath(
  new URL('../.local/stack.json', import.meta.url),
);

/**
 * CloudFormation output keys of a deployed stack (infra/lib/bridge-stack.ts),
 * first match wins.
 */
export const STACK_OUTPUT_KEYS = {
  webhookUrl: ['WebhookUrl'],
  signingSecretArn: ['SigningSecretArn'],
  queueUrl: ['QueueUrl'],
  dlqUrl: ['DeadLetterQueueUrl', 'DlqUrl'],
} as const;

const localStackSchema = z.object({
  webhookUrl: z.url(),
  sqsEndpoint: z.url(),
  region: z.string().min(1),
  queueUrl: z.url(),
  dlqUrl: z.url(),
  signingSecret: z.string().min(1),
});

/** What the running local stack publishes about itself. */
export type LocalStack = z.infer<typeof localStackSchema>;

export type StackConfigErrorCode =
  | 'local-stack-missing'
  | 'local-stack-invalid'
  | 'region-missing'
  | 'stack-not-found'
  | 'stack-output-missing';

/** The stack to talk to cannot be determined; the message says how to fix it. */
export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';

  constructor(
    readonly code: StackConfigErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Reads `.local/stack.json`. Throws `local-stack-missing` when the local stack
 * is not running (the file is absent) and `local-stack-invalid` when the file
 * does not have the expected shape.
 */
export async function readLocalStack(
  file: string = LOCAL_STACK_FILE,
): Promise<LocalStack> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StackConfigError(
        'local-stack-missing',
        `no local stack running (${file} not found): start it with npm start, or pass --queue-url/--dlq-url`,
        { cause: error },
      );
    }
    throw error;
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StackConfigError(
      'local-stack-invalid',
      `${file} is not valid JSON: restart the local stack with npm start`,
      { cause: error },
    );
  }
  const parsed = localStackSchema.safeParse(json);
  if (!parsed.success) {
    // Issue messages name the field and the rule, never the value (the file
    // holds the signing secret).
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new StackConfigError(
      'local-stack-invalid',
      `${file} does not describe a local stack (${problems}): restart it with npm start`,
    );
  }

  return parsed.data;
}

export interface StackOutputsOptions {
  region: string;
  /** Injected for tests; one is built for `region` otherwise. */
  client?: CloudFormationClient;
}

/** The outputs of a deployed CloudFormation stack, by output key. */
export async function readStackOutputs(
  stackName: string,
  options: StackOutputsOptions,
): Promise<Record<string, string>> {
  const client =
    options.client ?? new CloudFormationClient({ region: options.region });
  try {
    const answer = await client.send(
      new DescribeStacksCommand({ StackName: stackName }),
    );
    const stack = answer.Stacks?.[0];
    if (stack === undefined) {
      throw notFound(stackName, options.region);
    }
    const outputs: Record<string, string> = {};
    for (const output of stack.Outputs ?? []) {
      if (output.OutputKey !== undefined && output.OutputValue !== undefined) {
        outputs[output.OutputKey] = output.OutputValue;
      }
    }
    return outputs;
  } catch (error) {
    // CloudFormation answers a missing stack with a ValidationError.
    if (
      error instanceof CloudFormationServiceException &&
      error.name === 'ValidationError' &&
      /does not exist/.test(error.message)
    ) {
      throw notFound(stackName, options.region, error);
    }
    throw error;
  } finally {
    if (options.client === undefined) {
      client.destroy();
    }
  }
}

function notFound(
  stackName: string,
  region: string,
  cause?: unknown,
): StackConfigError {
  return new StackConfigError(
    'stack-not-found',
    `stack ${stackName} not found in ${region}: check --stack and --region (or AWS_REGION)`,
    { cause },
  );
}

/** Picks the first of `keys` present in `outputs`, or says which were there. */
export function stackOutput(
  outputs: Record<string, string>,
  keys: readonly string[],
  stackName: string,
): string {
  for (const key of keys) {
    const value = outputs[key];
    if (value !== undefined) {
      return value;
    }
  }
  const present = Object.keys(outputs).join(', ') || 'none';
  throw new StackConfigError(
    'stack-output-missing',
    `stack ${stackName} has no output ${keys.join(' or ')} (outputs: ${present}): pass the URL with a flag instead`,
  );
}

/** Flags that name the queues directly or through a deployed stack. */
export interface QueueTargetOptions {
  queueUrl?: string;
  dlqUrl?: string;
  /** CloudFormation stack whose outputs hold the queue URLs. */
  stack?: string;
  region?: string;
  /** Read for AWS_REGION / AWS_DEFAULT_REGION; process.env by default. */
  env?: NodeJS.ProcessEnv;
  localStackFile?: string;
  cloudFormation?: CloudFormationClient;
}

/**
 * The queue pair to work on. `queueUrl` or `dlqUrl` may be absent when only
 * the other was given by flag; the caller derives it from the queue service.
 */
export interface QueueTarget {
  origin: 'flags' | 'stack' | 'local';
  region: string;
  queueUrl?: string;
  dlqUrl?: string;
  /** The SQS endpoint of the local stack; AWS's own when absent. */
  endpoint?: string;
  /** How the target was found, for messages: "the local stack at …". */
  description: string;
}

/**
 * Resolves the queue pair from flags first, then `--stack`, then the running
 * local stack.
 */
export async function resolveQueueTarget(
  options: QueueTargetOptions = {},
): Promise<QueueTarget> {
  const env = options.env ?? process.env;

  if (options.queueUrl !== undefined || options.dlqUrl !== undefined) {
    const region = resolveRegion(
      options.region,
      env,
      options.dlqUrl ?? options.queueUrl,
    );
    return {
      origin: 'flags',
      region,
      queueUrl: options.queueUrl,
      dlqUrl: options.dlqUrl,
      description: `AWS SQS in ${region}`,
    };
  }

  if (options.stack !== undefined) {
    const region = resolveRegion(options.region, env, undefined);
    const outputs = await readStackOutputs(options.stack, {
      region,
      client: options.cloudFormation,
    });
    return {
      origin: 'stack',
      region,
      queueUrl: stackOutput(outputs, STACK_OUTPUT_KEYS.queueUrl, options.stack),
      dlqUrl: stackOutput(outputs, STACK_OUTPUT_KEYS.dlqUrl, options.stack),
      description: `stack ${options.stack} in ${region}`,
    };
  }

  const local = await readLocalStack(options.localStackFile);
  return {
    origin: 'local',
    region: local.region,
    queueUrl: local.queueUrl,
    dlqUrl: local.dlqUrl,
    endpoint: local.sqsEndpoint,
    description: `the local stack at ${local.sqsEndpoint}`,
  };
}

/** `--region`, then the environment, then the region in an SQS URL. */
function resolveRegion(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  queueUrl: string | undefined,
): string {
  const region =
    flag ??
    nonEmpty(env.AWS_REGION) ??
    nonEmpty(env.AWS_DEFAULT_REGION) ??
    regionOfQueueUrl(queueUrl);
  if (region === undefined) {
    throw new StackConfigError(
      'region-missing',
      'no AWS region: pass --region or set AWS_REGION',
    );
  }

  return region;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** `https://sqs.eu-west-1.amazonaws.com/123/q.fifo` → `eu-west-1`. */
function regionOfQueueUrl(queueUrl: string | undefined): string | undefined {
  if (queueUrl === undefined) {
    return undefined;
  }
  const host = URL.parse(queueUrl)?.hostname ?? '';

  return /^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1];
}

/**
 * An SQS client for the target: AWS's default credential chain, or the
 * local stack's endpoint with placeholder credentials (fauxqs checks none).
 */
export function createSqsClient(target: QueueTarget): SQSClient {
  if (target.endpoint === undefined) {
    return new SQSClient({ region: target.region });
  }

  return new SQSClient({
    region: target.region,
    endpoint: target.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // fauxqs names its queues http://sqs.REGION.localhost:PORT/…, a host
    // that does not resolve everywhere: always talk to the endpoint.
    useQueueUrlAsEndpoint: false,
  });
}
