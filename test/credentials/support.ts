/**
 * Shared pieces for the credentials tests: SDK errors shaped as the SDK
 * throws them, an in-memory secret source, a clock, and a recording log.
 */
import type { Log } from '../../shared/log.js';
import {
  SecretSourceError,
  type GetSecretOptions,
  type SecretSource,
  type SecretValue,
} from '../../shared/secrets/source.js';

/** An unmodelled SDK error (AccessDenied, Throttling) as the SDK builds it. */
export function sdkError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} raised by the fake service`), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
  });
}

/** A secret source over a map; records every call. */
export function memorySecrets(
  values: Record<string, string | SecretValue | SecretSourceError>,
): SecretSource & { calls: Array<{ id: string; options: GetSecretOptions }> } {
  const calls: Array<{ id: string; options: GetSecretOptions }> = [];
  return {
    calls,
    get(id, options = {}) {
      calls.push({ id, options });
      const value = values[id];
      if (value === undefined) {
        return Promise.reject(
          new SecretSourceError('NOT_FOUND', id, `secret ${id} not found`),
        );
      }
      if (value instanceof SecretSourceError) return Promise.reject(value);
      return Promise.resolve(
        typeof value === 'string' ? { text: value } : value,
      );
    },
  };
}

/** A log that keeps every line, to scan for leaks. */
export function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push(JSON.stringify({ level, message, ...fields }));
    };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.parse('2025-01-01T00:00:00Z')): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
  };
}

export const noSleep = (): Promise<void> => Promise.resolve();

export const b64 = (text: string): string =>
  Buffer.from(text, 'utf8').toString('base64');
