/**
 * The HTTP layer under the protocol verbs: one fetch per attempt with a
 * timeout, bounded retries with full-jitter exponential backoff that honour
 * `Retry-After`, manual redirects that drop `Authorization` across origins,
 * bounded body reads, and redacted debug logs.
 *
 * Retries use a small loop rather than a retry library: the delay must come
 * from the response (`Retry-After`), and the final retryable response must
 * reach the caller so its error body can be reported.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLog, type Log } from '../log.js';
import { HEADER, LIMIT, REGISTRY_CODE } from './constants.js';
import {
  assertSafeEndpoint,
  redactUrl,
  sameOrigin,
  type EndpointPolicy,
} from './endpoint.js';
import { OciError } from './errors.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Counts the requests an operation sent (authentication excluded). */
export interface RequestCounter {
  requests: number;
}

export interface HttpRequest {
  method: Method;
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** What the request does, for errors: `HEAD blob ghcr.io/a/b@sha256:…`. */
  what: string;
  /** The most bytes of a 2xx body to read; more is an error. */
  maxBodyBytes?: number;
  /** Counted here unless the request is authentication. */
  counter?: RequestCounter;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The URL that answered, after redirects. */
  url: URL;
  body: Uint8Array;
}

export interface RetryOptions {
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** Backoff base. Default 200 ms. */
  minDelayMs?: number;
  /** Cap of one wait, and the longest `Retry-After` honoured. Default 10 s. */
  maxDelayMs?: number;
}

export interface TransportOptions {
  policy: EndpointPolicy;
  log?: Log;
  /** Per attempt, body included. Default 30 s. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Injected in tests; Node's global fetch (undici, keep-alive) otherwise. */
  fetch?: typeof fetch;
}

export type Transport = (request: HttpRequest) => Promise<HttpResponse>;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The part of an undici dispatcher that fetch calls (`dispatch` only). */
interface Dispatcher {
  dispatch(
    options: { method?: string; reset?: boolean },
    handler: unknown,
  ): boolean;
}

/**
 * Where undici (Node's fetch, and the npm package) keeps the process-wide
 * dispatcher, so every copy of undici shares one connection pool.
 */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/**
 * undici closes the connection after every HEAD (nodejs/undici#258: some
 * servers send a body with HEAD answers); a push sends two blob HEADs, so a
 * warm container opened two new connections, with TLS handshakes, per push
 * (test/oci/keepalive.test.ts: 6 connections for 10 requests, then 2 more
 * per push). Registries answer HEAD without a body, so HEADs go to the
 * shared pool with `reset: false`; other requests are passed unchanged.
 */
const keepHeadConnections: Dispatcher = {
  dispatch(options, handler) {
    const pool = globalDispatcher() as Dispatcher;
    return pool.dispatch(
      options.method === 'HEAD' ? { ...options, reset: false } : options,
      handler,
    );
  },
};

/** Set by undici when it loads, on the process's first fetch call. */
function globalDispatcher(): Dispatcher | undefined {
  return (globalThis as Record<symbol, Dispatcher | undefined>)[
    GLOBAL_DISPATCHER
  ];
}

/** The one rule for retrying (STYLE §6): by status and spec error code. */
export function isRetryableStatus(
  status: number,
  codes: readonly string[] = [],
): boolean {
  return (
    status === 408 ||
    status === 429 ||
    status >= 500 ||
    codes.includes(REGISTRY_CODE.tooManyRequests) ||
    codes.includes(REGISTRY_CODE.unavailable)
  );
}

/** Creates the transport for one engine instance. */
export function createTransport(options: TransportOptions): Transport {
  const log = options.log ?? silentLog;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retry?.retries ?? 4;
  const minDelayMs = options.retry?.minDelayMs ?? 200;
  const maxDelayMs = options.retry?.maxDelayMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;

  async function attempt(request: HttpRequest): Promise<HttpResponse> {
    let url = request.url;
    let method = request.method;
    let body = request.body;
    const headers = { ...request.headers };

    for (let hop = 0; ; hop++) {
      assertSafeEndpoint(url, options.policy, hop ? 'redirect' : 'registry');
      if (request.counter) request.counter.requests++;
      const signal = request.signal
        ? AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs);
      const started = performance.now();
      const response = await doFetch(url, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal,
        // A fetch that knows no dispatcher (a test double) ignores it.
        ...(globalDispatcher() && {
          dispatcher: keepHeadConnections as RequestInit['dispatcher'],
        }),
      });
      const limit = response.ok
        ? (request.maxBodyBytes ?? LIMIT.manifest)
        : LIMIT.errorBody;
      const bytes =
        method === 'HEAD' ? new Uint8Array() : await readBody(response, limit);
      log.debug('registry request', {
        method,
        url: redactUrl(url),
        status: response.status,
        durationMs: Math.round(performance.now() - started),
      });

      const location = response.headers.get(HEADER.location);
      const follow =
        REDIRECT_STATUSES.has(response.status) &&
        location !== null &&
        (method === 'GET' || method === 'HEAD');
      if (!follow) {
        if (response.ok && bytes.byteLength > limit) {
          throw new OciError(
            'REGISTRY_ERROR',
            `${request.what}: response body exceeds ${limit} bytes`,
            { status: response.status, registry: request.url.host },
          );
        }
        return {
          status: response.status,
          headers: response.headers,
          url,
          body: bytes,
        };
      }
      if (hop >= LIMIT.redirects) {
        throw new OciError(
          'REGISTRY_ERROR',
          `${request.what}: more than ${LIMIT.redirects} redirects`,
          { status: response.status, registry: request.url.host },
        );
      }
      const next = new URL(location, url);
      // Registries redirect blob downloads to S3 or a CDN with a signed URL;
      // the registry's credentials must not travel there.
      if (!sameOrigin(next, url)) delete headers[HEADER.authorization];
      if (response.status === 303) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  return async function send(request: HttpRequest): Promise<HttpResponse> {
    for (let tries = 0; ; tries++) {
      let response: HttpResponse;
      try {
        response = await attempt(request);
      } catch (error) {
        const failure = classifyThrown(error, request);
        if (!failure.retryable || tries >= retries) throw failure;
        const delay = backoff(tries, minDelayMs, maxDelayMs);
        log.debug('registry request failed, retrying', {
          what: request.what,
          code: failure.code,
          attempt: tries + 1,
          delayMs: delay,
        });
        await sleepOrAbort(delay, request.signal);
        continue;
      }

      if (!isRetryableStatus(response.status) || tries >= retries) {
        return response;
      }
      const retryAfter = parseRetryAfter(
        response.headers.get(HEADER.retryAfter),
      );
      if (retryAfter !== undefined && retryAfter > maxDelayMs) {
        // Waiting longer than a Lambda should; the queue retries later.
        log.debug('registry asked to wait longer than allowed', {
          what: request.what,
          retryAfterMs: retryAfter,
        });
        return response;
      }
      const delay = Math.max(
        retryAfter ?? 0,
        backoff(tries, minDelayMs, maxDelayMs),
      );
      log.debug('registry busy, retrying', {
        what: request.what,
        status: response.status,
        attempt: tries + 1,
        delayMs: delay,
      });
      await sleepOrAbort(delay, request.signal);
    }
  };
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"). */
function backoff(tries: number, minMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** tries);
  return Math.round(Math.random() * ceiling);
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;

  return Math.max(0, date - now);
}

async function sleepOrAbort(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    throw new OciError('ABORTED', 'operation aborted by the caller', {
      cause: error,
    });
  }
}

/** Reads up to `limit + 1` bytes, so callers can tell "too large" apart. */
async function readBody(
  response: Response,
  limit: number,
): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    size += chunk.byteLength;
    // Leaving the loop cancels the stream; the connection is not reused.
    if (size > limit) break;
  }

  return Buffer.concat(chunks);
}

function classifyThrown(error: unknown, request: HttpRequest): OciError {
  if (error instanceof OciError) return error;
  const registry = request.url.host;
  if (request.signal?.aborted) {
    return new OciError('ABORTED', `${request.what}: aborted by the caller`, {
      cause: error,
      registry,
    });
  }
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return new OciError('TIMEOUT', `${request.what}: no answer in time`, {
      cause: error,
      retryable: true,
      registry,
    });
  }
  const detail = networkDetail(error);
  return new OciError(
    'NETWORK',
    `${request.what}: network error${detail ? ` (${detail})` : ''}`,
    { cause: error, retryable: true, registry },
  );
}

/** The system error code under fetch's "fetch failed", e.g. ECONNREFUSED. */
function networkDetail(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** The distribution spec's error body (spec, "Error Codes"). */
interface ErrorBody {
  errors?: { code?: unknown; message?: unknown; detail?: unknown }[];
}

/**
 * Turns an unexpected response into an error naming the request, the status,
 * the registry's `errors[].code/message`, and a hint for the usual causes.
 */
export function responseError(
  response: HttpResponse,
  what: string,
  expected: string,
  options: { code?: OciError['code']; hint?: string; digest?: string } = {},
): OciError {
  const entries = parseErrorBody(response.body);
  const codes = entries.map((e) => e.code);
  const detail = entries
    .map((e) => (e.message ? `${e.code} (${e.message})` : e.code))
    .join(', ');
  const hint = options.hint ?? defaultHint(response.status, codes);
  const message =
    `${what}: expected ${expected}, got ${response.status}` +
    (detail ? ` ${detail}` : '') +
    (hint ? `; ${hint}` : '');

  return new OciError(options.code ?? codeFor(response.status), message, {
    status: response.status,
    retryable: isRetryableStatus(response.status, codes),
    registry: response.url.host,
    registryCodes: codes,
    digest: options.digest,
  });
}

function parseErrorBody(
  body: Uint8Array,
): { code: string; message: string | undefined }[] {
  if (body.byteLength === 0) return [];
  try {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as ErrorBody;
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors
      .filter((e) => typeof e?.code === 'string')
      .map((e) => ({
        code: e.code as string,
        // Bounded: a registry's message is shown to people, not stored.
        message:
          typeof e.message === 'string' ? e.message.slice(0, 300) : undefined,
      }));
  } catch {
    return [];
  }
}

function codeFor(status: number): OciError['code'] {
  if (status === 401) return 'AUTH_FAILED';
  if (status === 404) return 'NOT_FOUND';
  return 'REGISTRY_ERROR';
}

function defaultHint(status: number, codes: string[]): string | undefined {
  if (status === 401) {
    return 'the registry refused the credentials; check the registry secret';
  }
  if (status === 403 || codes.includes(REGISTRY_CODE.denied)) {
    return 'the credentials lack permission for this repository (push needs pull and push)';
  }
  if (status === 429 || codes.includes(REGISTRY_CODE.tooManyRequests)) {
    return 'the registry is rate limiting; try again later';
  }
  if (status >= 500) return 'the registry failed; try again later';
  return undefined;
}
