/**
 * A short retry for throttled AWS calls made while resolving credentials.
 * The SDK retries too; this covers throttling that outlasts its attempts
 * without holding a push for long.
 */
import { awsErrorKind } from '../secrets/aws-errors.js';
import { SecretSourceError } from '../secrets/source.js';

export type Sleep = (ms: number) => Promise<void>;

export const sleep: Sleep = (ms) =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Delays before the second and third attempt. */
const DELAYS_MS = [200, 800];

/** Runs `call`, again after a pause while it fails with throttling (at most three tries). */
export async function retryThrottled<T>(
  call: () => Promise<T>,
  pause: Sleep,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const delay = DELAYS_MS[attempt];
      if (delay === undefined || !isThrottled(error)) throw error;
      await pause(delay + Math.floor(Math.random() * delay * 0.25));
    }
  }
}

function isThrottled(error: unknown): boolean {
  if (error instanceof SecretSourceError) return error.code === 'THROTTLED';
  return awsErrorKind(error) === 'throttled';
}
