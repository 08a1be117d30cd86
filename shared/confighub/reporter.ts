/**
 * Delivers ActionResults to ConfigHub's bridge-worker endpoint, or to the
 * log when no ConfigHub is configured.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { Log } from '../log.js';
import { silentLog } from '../log.js';
import type { SecretSource } from '../secrets/source.js';
import { ReportError } from './errors.js';
import {
  MAX_MESSAGE_LENGTH,
  type ActionResult,
  type ActionResultReporter,
  type ReportOptions,
} from './types.js';

export interface ConfigHubReporterOptions {
  /** ConfigHub's base URL, e.g. `https://hub.confighub.com`. */
  url: string;
  /** The bridge worker's id (CONFIGHUB_WORKER_ID). */
  workerId: string;
  /** Where the worker secret lives (Secrets Manager in Lambda). */
  secrets: SecretSource;
  /** The worker secret's ARN or name (CONFIGHUB_WORKER_SECRET_ID). */
  workerSecretId: string;
  /** Attempts per final result; 3 by default. */
  attempts?: number;
  /** First backoff delay, doubled per attempt with jitter; 200 ms by default. */
  minDelayMs?: number;
  /** Backoff ceiling; 2 s by default. */
  maxDelayMs?: number;
  /** Per-request timeout; 5 s by default. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  log?: Log;
}

/** Statuses worth sending again: the server may accept the same body later. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Reports to `POST {url}/api/bridge_worker/{workerId}/action_result` with
 * `Authorization: Bearer <worker secret>`. Retries network errors, timeouts,
 * 408, 429 and 5xx with capped exponential backoff; on 401 reads the secret
 * once more (it may have been rotated) and tries again.
 */
export function createConfigHubReporter(
  options: ConfigHubReporterOptions,
): ActionResultReporter {
  const endpoint = `${options.url.replace(/\/+$/, '')}/api/bridge_worker/${encodeURIComponent(options.workerId)}/action_result`;
  const send = options.fetch ?? fetch;
  const log = options.log ?? silentLog;
  const defaultAttempts = options.attempts ?? 3;
  const minDelayMs = options.minDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 2_000;
  const timeoutMs = options.timeoutMs ?? 5_000;

  const readSecret = async (forceFetch: boolean): Promise<string> => {
    try {
      const value = await options.secrets.get(options.workerSecretId, {
        forceFetch,
      });
      const text =
        value.text ??
        (value.binary && Buffer.from(value.binary).toString('utf8'));
      if (text === undefined || text.trim() === '') {
        throw new Error(`secret ${options.workerSecretId} is empty`);
      }
      return text.trim();
    } catch (error) {
      throw new ReportError(
        'SECRET_UNAVAILABLE',
        `cannot read the ConfigHub worker secret ${options.workerSecretId}: ${error instanceof Error ? error.message : String(error)}`,
        { attempts: 0, cause: error },
      );
    }
  };

  return {
    async report(result: ActionResult, reportOptions: ReportOptions = {}) {
      const body = JSON.stringify(fitForConfigHub(result));
      const attempts = Math.max(1, reportOptions.attempts ?? defaultAttempts);
      const signal = reportOptions.signal;
      let secret = await readSecret(false);
      let refreshed = false;
      let last: ReportError | undefined;

      for (let attempt = 1; attempt <= attempts; attempt++) {
        if (signal?.aborted) {
          throw new ReportError(
            'ABORTED',
            `reporting ${result.Result} for operation ${result.QueuedOperationID} stopped: the invocation is out of time`,
            { attempts: attempt - 1, cause: signal.reason },
          );
        }
        const requestSignal = signal
          ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs);
        let status: number;
        try {
          const response = await send(endpoint, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${secret}`,
            },
            body,
            signal: requestSignal,
          });
          status = response.status;
          // Drain the body so the connection can be reused; read no more.
          await response.body?.cancel();
        } catch (error) {
          last = new ReportError(
            signal?.aborted ? 'ABORTED' : 'UNAVAILABLE',
            `POST ${endpoint}: ${describeFetchError(error)}`,
            { attempts: attempt, cause: error },
          );
          if (signal?.aborted) throw last;
          log.debug('action result delivery failed; retrying', {
            attempt,
            error: last.message,
          });
          await backoff(attempt, attempts, minDelayMs, maxDelayMs, signal);
          continue;
        }

        if (status >= 200 && status < 300) return;

        if (status === 401 && !refreshed) {
          // The secret may have been rotated since it was cached.
          refreshed = true;
          secret = await readSecret(true);
          attempt--;
          continue;
        }
        if (status === 401) {
          throw new ReportError(
            'UNAUTHORIZED',
            `POST ${endpoint}: 401 even with a freshly read worker secret ${options.workerSecretId}; check CONFIGHUB_WORKER_ID and the secret's value`,
            { status, attempts: attempt },
          );
        }
        if (!retryableStatus(status)) {
          throw new ReportError(
            'REJECTED',
            `POST ${endpoint}: ConfigHub answered ${status} to ${result.Status}/${result.Result} for operation ${result.QueuedOperationID}`,
            { status, attempts: attempt },
          );
        }
        last = new ReportError(
          'UNAVAILABLE',
          `POST ${endpoint}: ConfigHub answered ${status}`,
          { status, attempts: attempt },
        );
        log.debug('action result delivery failed; retrying', {
          attempt,
          status,
        });
        await backoff(attempt, attempts, minDelayMs, maxDelayMs, signal);
      }
      throw (
        last ??
        new ReportError('UNAVAILABLE', `POST ${endpoint}: no attempt made`, {
          attempts: 0,
        })
      );
    },
  };
}

/**
 * Logs each result instead of sending it: the reporter used when no
 * ConfigHub is configured. Data and live state are never logged, only
 * their sizes.
 */
export function createLogReporter(log: Log): ActionResultReporter {
  return {
    report(result: ActionResult) {
      const fitted = fitForConfigHub(result);
      log.info('action result (no ConfigHub configured)', {
        unitId: fitted.UnitID,
        spaceId: fitted.SpaceID,
        operationId: fitted.QueuedOperationID,
        revision: fitted.RevisionNum,
        action: fitted.Action,
        status: fitted.Status,
        result: fitted.Result,
        resultMessage: fitted.Message,
        startedAt: fitted.StartedAt,
        terminatedAt: fitted.TerminatedAt,
        dataBytes: base64Size(fitted.Data),
        liveStateBytes: base64Size(fitted.LiveState),
        outputs:
          fitted.Outputs === undefined
            ? undefined
            : (JSON.parse(
                Buffer.from(fitted.Outputs, 'base64').toString('utf8'),
              ) as unknown),
      });
      return Promise.resolve();
    },
  };
}

/** Trims what ConfigHub would refuse: a Message over 1024 bytes. */
export function fitForConfigHub(result: ActionResult): ActionResult {
  return {
    ...result,
    Message: truncateUtf8(result.Message, MAX_MESSAGE_LENGTH),
  };
}

/** Cuts text to at most `maxBytes` UTF-8 bytes, marking the cut with `…`. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const ellipsis = '…';
  const budget = maxBytes - Buffer.byteLength(ellipsis, 'utf8');
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (used + size > budget) break;
    out += char;
    used += size;
  }
  return out + ellipsis;
}

function base64Size(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').length;
}

async function backoff(
  attempt: number,
  attempts: number,
  minDelayMs: number,
  maxDelayMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (attempt >= attempts) return;
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** (attempt - 1));
  // Equal jitter: spreads retries from concurrent invocations.
  const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  try {
    await sleep(delay, undefined, signal ? { signal } : undefined);
  } catch {
    // Aborted while waiting: the loop head reports ABORTED.
  }
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause as { code?: unknown } | undefined;
    if (error.name === 'TimeoutError') return 'timed out';
    if (cause && typeof cause.code === 'string') {
      return `${error.message} (${cause.code})`;
    }
    return error.message;
  }
  return String(error);
}
