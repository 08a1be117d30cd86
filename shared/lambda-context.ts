/**
 * A Lambda context for handlers run outside Lambda (the local stack, the
 * HTTP adapter): what Powertools reads, and a deadline the push handler
 * stops before.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export interface LocalContextOptions {
  functionName: string;
  /** The function timeout the handler sees through getRemainingTimeInMillis. */
  timeoutMs: number;
  memoryLimitInMB?: number;
  /** A fresh UUID by default. */
  requestId?: string;
}

/** Builds a context whose deadline starts now. */
export function localLambdaContext(options: LocalContextOptions): Context {
  const { functionName } = options;
  const deadline = Date.now() + options.timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 512),
    awsRequestId: options.requestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
